/**
 * One daemon per set of folders: a lock file in processing/ holding the owner's pid and host.
 * A second daemon refuses to start while the owner lives; a lock left by a dead process (same
 * host, pid gone) is taken over. Two daemons on one database with different folders are fine:
 * each file is claimed by exactly one of them.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { fail } from '../errors.js';

const LOCK_NAME = '.usersync.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireFolderLock(processingDir: string): Promise<{ release(): Promise<void> }> {
  const file = path.join(processingDir, LOCK_NAME);
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, mine, { flag: 'wx', mode: 0o600 });
      return { release: () => rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw fail('FS_IO_FAILED', { message: `Cannot create ${file}.`, cause: error });
    }
    const owner = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as {
      pid?: number;
      host?: string;
      since?: string;
    };
    if (owner.host === hostname() && typeof owner.pid === 'number' && !alive(owner.pid)) {
      await rm(file, { force: true }); // stale: its daemon died without cleaning up
      continue;
    }
    throw fail('DAEMON_ALREADY_RUNNING', {
      message: `Another usersync daemon (pid ${owner.pid ?? '?'} on ${owner.host ?? '?'}, since ${owner.since ?? '?'}) already uses ${processingDir}.`,
    });
  }
  throw fail('DAEMON_ALREADY_RUNNING', { message: `Could not take the lock ${file}.` });
}

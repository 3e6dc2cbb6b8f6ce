/**
 * Folders the daemon's account may not read or write: the watcher is restarted with backoff until
 * it can read the inbox (the rescan is off here, so only the watcher can find the file), /healthz
 * says why it is degraded, and a failed claim names the folder that refused. Root ignores
 * permission bits, so under root the daemon runs as `nobody`; otherwise as the test's own account.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { listFiles, startDaemon, waitFor } from '../helpers/daemon.js';
import { TEMPLATE, writeCsv } from '../fixtures/build.js';

const today = () => new Date().toISOString().slice(0, 10);
const root = process.getuid?.() === 0;
const user = root ? { uid: 65534, gid: 65534 } : undefined;
const uid = user?.uid ?? process.getuid?.();
const config = {
  schedule: { rescan: '' },
  daemon: { retryInitialMs: 200, retryMaxMs: 1000, shutdownTimeoutMs: 20_000 },
};

/** A working dir the daemon's account owns, with an inbox of the given mode. */
function workdir(inboxMode: number): { cwd: string; inbox: string } {
  const cwd = makeWorkdir('usersync-perm-');
  const inbox = path.join(cwd, 'inbox');
  mkdirSync(inbox);
  mkdirSync(path.join(cwd, 'config'));
  if (user) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, cwd]);
  chmodSync(inbox, inboxMode);
  return { cwd, inbox };
}

/** A file as HR drops it, readable by the daemon's account. */
function drop(inbox: string, name: string, username: string): void {
  const file = writeCsv(path.join(inbox, name), [TEMPLATE, ['Per Mission', username, '', '', '', '', '', '', '', '']]);
  if (user) chownSync(file, user.uid, user.gid);
}

describe('daemon and folders its account may not read or write', () => {
  // Under root the daemon runs as nobody, which must be able to run this Node.js: one installed
  // under /root (mode 0700) cannot be, and every test below would fail for that reason alone.
  beforeAll(() => {
    if (!user) return;
    try {
      execFileSync(process.execPath, ['--version'], { ...user, stdio: 'ignore' });
    } catch (error) {
      throw new Error(
        `uid ${user.uid} cannot run ${process.execPath} (${(error as Error).message}): install Node.js in a folder every account can enter, or run the tests as an ordinary user`,
      );
    }
  });

  it('restarts the watcher of an unreadable inbox with backoff, says why in /healthz, and takes the file once it can read the inbox', async () => {
    const { cwd, inbox } = workdir(0o000);
    const daemon = await startDaemon({
      cwd,
      databaseUrl: `sqlite:${path.join(cwd, 'db.sqlite')}`,
      config,
      ...(user ? { user } : {}),
    });
    try {
      const degraded = (await waitFor(
        async () => {
          const h = await daemon.health();
          return h.status === 503 && h.body;
        },
        20_000,
        daemon.output,
      )) as Record<string, unknown>;
      expect(degraded).toMatchObject({ status: 'degraded', watcher: { running: false } });
      expect(String(degraded.degraded)).toContain(`watcher: cannot read the inbox ${inbox} (EACCES)`);
      chmodSync(inbox, 0o700);
      drop(inbox, 'after-fix.csv', 'after.fix');
      await waitFor(
        () => listFiles(path.join(cwd, 'archive', today())).some((f) => f.endsWith('_after-fix.report.xlsx')),
        30_000,
        daemon.output,
      );
      const healthy = await waitFor(
        async () => {
          const h = await daemon.health();
          return h.status === 200 && h.body;
        },
        10_000,
        daemon.output,
      );
      expect(healthy).toMatchObject({ status: 'ok', degraded: null, watcher: { running: true, problem: null } });
      expect(daemon.output()).toContain('watch.recovered');
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  it('names the inbox, not processing/, when a file cannot be taken out of it, and claims it once it can', async () => {
    const { cwd, inbox } = workdir(0o500);
    const daemon = await startDaemon({
      cwd,
      databaseUrl: `sqlite:${path.join(cwd, 'db.sqlite')}`,
      config,
      ...(user ? { user } : {}),
    });
    try {
      chmodSync(inbox, 0o700);
      drop(inbox, 'stuck.csv', 'stuck');
      chmodSync(inbox, 0o500);
      const degraded = await waitFor(
        async () => {
          const h = await daemon.health();
          return h.status === 503 && String(h.body.degraded).includes('FS_MOVE_FAILED') && String(h.body.degraded);
        },
        20_000,
        daemon.output,
      );
      expect(degraded).toContain(
        `FS_MOVE_FAILED: Cannot take stuck.csv out of the inbox ${inbox} (EACCES): the daemon's account may not write that folder.`,
      );
      expect(listFiles(path.join(cwd, 'processing')).filter((f) => !f.startsWith('.'))).toEqual([]);
      chmodSync(inbox, 0o700);
      await waitFor(
        () => listFiles(path.join(cwd, 'archive', today())).some((f) => f.endsWith('_stuck.report.xlsx')),
        30_000,
        daemon.output,
      );
      expect(existsSync(path.join(inbox, 'stuck.csv'))).toBe(false);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  it('says which folder it cannot create and for which account, and exits 3', async () => {
    const { cwd } = workdir(0o700);
    const locked = path.join(cwd, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    if (user) chownSync(locked, user.uid, user.gid);
    chmodSync(locked, 0o500);
    const result = await runUsersync(['start'], {
      cwd,
      env: {
        USERSYNC_DATABASE_URL: `sqlite:${path.join(cwd, 'db.sqlite')}`,
        USERSYNC_HEALTH_PORT: '0',
        USERSYNC_ARCHIVE: path.join(locked, 'archive'),
      },
      ...(user ? { user } : {}),
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `Cannot create the folder ${path.join(locked, 'archive')} (EACCES): its parent must be writable by the daemon's account (uid ${uid}`,
    );
  });
});

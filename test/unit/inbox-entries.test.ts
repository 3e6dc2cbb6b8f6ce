/**
 * What the daemon takes from the inbox and when: entry kinds (file-kind.ts), writers found through
 * /proc (open-writers.ts), the wait after the claim and the check after the import (settle.ts),
 * and the claim itself (claim.ts) — on real files, links, FIFOs, sockets and real processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { lstat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UsersyncError } from '../../src/errors.js';
import { checkClaimed, claimFile, returnToInbox } from '../../src/pipeline/claim.js';
import { refusalOf } from '../../src/pipeline/file-kind.js';
import { fingerprintFile } from '../../src/pipeline/fingerprint.js';
import { describeWriters, findWriters } from '../../src/pipeline/open-writers.js';
import { checkUnchanged, settleClaimed, snapshotOf } from '../../src/pipeline/settle.js';

let dir: string;
const children: ChildProcess[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'usersync-entries-'));
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fresh = (name: string) => {
  const folder = mkdtempSync(path.join(dir, `${name}-`));
  const inbox = path.join(folder, 'inbox');
  const processing = path.join(folder, 'processing');
  mkdirSync(inbox);
  mkdirSync(processing);
  return { folder, inbox, processing };
};

/** A process that opens `file` with `flags` and keeps it open until killed; resolves once it is open. */
async function holdOpen(file: string, flags: 'a' | 'r'): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('fs').openSync(process.argv[1], '${flags}'); process.stdout.write('open\\n'); setInterval(() => {}, 1000);`,
      file,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
  });
  return child;
}

const idOf = async (file: string) => lstat(file, { bigint: true });

describe('entry kinds', () => {
  // Cases: a regular file with one name (taken); a symbolic link to a file, a dangling link, a
  // FIFO, a socket, a second hard link to a file, a directory (each refused, saying what it is).
  it('takes a regular file with one name and refuses links, FIFOs, sockets, hard links and directories, saying what each is', async () => {
    const { inbox } = fresh('kinds');
    const regular = path.join(inbox, 'plain.csv');
    writeFileSync(regular, 'Name,Username\n');
    const outside = path.join(dir, 'outside.csv');
    writeFileSync(outside, 'Name,Username\nEve,eve\n');
    symlinkSync(outside, path.join(inbox, 'link.csv'));
    symlinkSync(path.join(dir, 'nowhere.csv'), path.join(inbox, 'dangling.csv'));
    execFileSync('mkfifo', [path.join(inbox, 'fifo.csv')]);
    const hard = path.join(inbox, 'hard.csv');
    writeFileSync(hard, 'x');
    linkSync(hard, path.join(dir, 'hard-elsewhere'));
    mkdirSync(path.join(inbox, 'folder.csv'));
    const server = net.createServer().listen(path.join(inbox, 'socket.csv'));
    await new Promise((r) => server.once('listening', r));
    try {
      const refusal = async (name: string) => refusalOf(path.join(inbox, name), await lstat(path.join(inbox, name)));
      expect(await refusal('plain.csv')).toBeUndefined();
      expect(await refusal('link.csv')).toMatchObject({ kind: 'symlink', what: `a symbolic link to ${outside}` });
      expect(await refusal('dangling.csv')).toMatchObject({ kind: 'symlink' });
      expect(await refusal('fifo.csv')).toMatchObject({ kind: 'fifo', what: 'a FIFO (named pipe)' });
      expect(await refusal('socket.csv')).toMatchObject({ kind: 'socket' });
      expect(await refusal('hard.csv')).toMatchObject({ kind: 'hardlink', what: 'a hard link (the file has 2 names)' });
      expect(await refusal('folder.csv')).toMatchObject({ kind: 'directory' });
    } finally {
      server.close();
    }
  });
});

// Only root may make a device node.
it.skipIf(process.getuid?.() !== 0)('refuses a device', async () => {
  const { inbox } = fresh('device');
  const device = path.join(inbox, 'null.csv');
  execFileSync('mknod', [device, 'c', '1', '3']);
  expect(await refusalOf(device, await lstat(device))).toMatchObject({ kind: 'device', what: 'a device' });
  expect(await claimFile(device, path.join(path.dirname(inbox), 'processing'), new Date())).toMatchObject({
    refused: { kind: 'device' },
  });
  expect(lstatSync(device).isCharacterDevice()).toBe(true);
});

describe('writers found through /proc', () => {
  it('names a process holding the file open for writing, not one reading it, and follows the file across a rename', async () => {
    const file = path.join(dir, 'written.csv');
    writeFileSync(file, 'Name,Username\n');
    const reader = await holdOpen(file, 'r');
    expect((await findWriters([await idOf(file)])).writers).toEqual([]);
    const writer = await holdOpen(file, 'a');
    const found = await findWriters([await idOf(file)]);
    expect(found.writers.map((w) => w.pid)).toEqual([writer.pid]);
    expect(found.writers[0]?.command).toBe('node');
    expect(describeWriters(found.writers)).toBe(`pid ${writer.pid} (node)`);
    // The claim renames; the writer's descriptor follows the file.
    const moved = path.join(dir, 'moved.csv');
    const { renameSync } = await import('node:fs');
    renameSync(file, moved);
    expect((await findWriters([await idOf(moved)])).writers.map((w) => w.pid)).toEqual([writer.pid]);
    writer.kill('SIGKILL');
    await new Promise((r) => writer.once('exit', r));
    expect((await findWriters([await idOf(moved)])).writers).toEqual([]);
    expect(reader.exitCode).toBeNull();
  });
});

describe('settling a claimed file', () => {
  it('waits while a process holds the file open for writing, and resolves once it has closed it', async () => {
    const file = path.join(dir, 'settle-writer.csv');
    writeFileSync(file, 'Name,Username\n');
    const writer = await holdOpen(file, 'a');
    const reasons: Array<string | null> = [];
    let settled = false;
    const settling = settleClaimed(file, { quietMs: 0, intervalMs: 50, onWaiting: (r) => reasons.push(r) }).then(
      (snapshot) => {
        settled = true;
        return snapshot;
      },
    );
    await new Promise((r) => setTimeout(r, 600));
    expect(settled).toBe(false);
    expect(reasons[0]).toBe(`settle-writer.csv is still open for writing by pid ${writer.pid} (node)`);
    writer.kill('SIGKILL');
    const snapshot = await settling;
    expect(snapshot.size).toBe(BigInt(statSync(file).size));
    expect(reasons.at(-1)).toBeNull();
  });

  it('for a quiet period, waits until the file stopped changing, however it is written', async () => {
    const file = path.join(dir, 'settle-quiet.csv');
    writeFileSync(file, 'Name,Username\n');
    const started = Date.now();
    let lastWrite = started;
    const appender = setInterval(() => {
      if (Date.now() - started < 700) {
        appendFileSync(file, 'Ann,ann\n'); // opened and closed each time: no writer /proc could see
        lastWrite = Date.now();
      }
    }, 100);
    try {
      const snapshot = await settleClaimed(file, { quietMs: 400, intervalMs: 50 });
      expect(Date.now() - lastWrite).toBeGreaterThanOrEqual(400);
      expect(snapshot.size).toBe(BigInt(statSync(file).size));
    } finally {
      clearInterval(appender);
    }
  });

  it('ends the wait with IMPORT_INTERRUPTED when stopped', async () => {
    const file = path.join(dir, 'settle-stop.csv');
    writeFileSync(file, 'x');
    await holdOpen(file, 'a');
    const stop = new AbortController();
    const settling = settleClaimed(file, { quietMs: 0, intervalMs: 50, signal: stop.signal });
    setTimeout(() => stop.abort(), 200);
    await expect(settling).rejects.toMatchObject({ code: 'IMPORT_INTERRUPTED' });
  });
});

describe('checking the file once imported', () => {
  // Cases: untouched (passes); times changed, same bytes (passes, the content decides); bytes
  // appended (FILE_CHANGED_DURING_IMPORT); bytes rewritten at the same size (idem); gone (idem).
  const imported = async (file: string) => ({ importId: 7, ...(await fingerprintFile(file)) });

  it('passes a file that was not written to, also when only its times changed', async () => {
    const file = path.join(dir, 'check-same.csv');
    writeFileSync(file, 'Name,Username\nAnn,ann\n');
    const settled = await snapshotOf(file);
    const read = await imported(file);
    await expect(checkUnchanged(file, settled, read)).resolves.toBeUndefined();
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await expect(checkUnchanged(file, settled, read)).resolves.toBeUndefined();
  });

  it('throws FILE_CHANGED_DURING_IMPORT (transient) for bytes added or rewritten, or a file gone', async () => {
    const file = path.join(dir, 'check-changed.csv');
    writeFileSync(file, 'Name,Username\nAnn,ann\n');
    const settled = await snapshotOf(file);
    const read = await imported(file);
    appendFileSync(file, 'Bob,bob\n');
    const error = await checkUnchanged(file, settled, read).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsersyncError);
    expect(error).toMatchObject({ code: 'FILE_CHANGED_DURING_IMPORT', kind: 'transient' });
    expect((error as Error).message).toBe(
      `check-changed.csv changed while import #7 read it (${read.bytes} bytes were read; it now has ${read.bytes + 8}): it was still being written.`,
    );
    writeFileSync(file, 'Name,Username\nAnn,anX\n'); // the same size, other bytes
    await expect(checkUnchanged(file, settled, read)).rejects.toMatchObject({ code: 'FILE_CHANGED_DURING_IMPORT' });
    rmSync(file);
    await expect(checkUnchanged(file, settled, read)).rejects.toMatchObject({ code: 'FILE_CHANGED_DURING_IMPORT' });
  });
});

describe('claiming an inbox entry', () => {
  it('moves a regular file into processing/, owner-only, under its claim name', async () => {
    const { inbox, processing } = fresh('claim');
    const file = path.join(inbox, 'users.csv');
    writeFileSync(file, 'Name,Username\n', { mode: 0o644 });
    const outcome = await claimFile(file, processing, new Date('2026-01-02T03:04:05Z'));
    if (!('claimed' in outcome)) throw new Error(`not claimed: ${JSON.stringify(outcome)}`);
    expect(outcome.claimed.originalName).toBe('users.csv');
    expect(path.basename(outcome.claimed.path)).toMatch(/^20260102T030405Z-[0-9a-f]{6}__users\.csv$/);
    expect(existsSync(file)).toBe(false);
    expect(statSync(outcome.claimed.path).mode & 0o777).toBe(0o600);
    expect(await checkClaimed(outcome.claimed.path)).toBeUndefined();
  });

  it('refuses a link, a FIFO and a hard link without moving or opening them', async () => {
    const { inbox, processing } = fresh('refuse');
    const outside = path.join(dir, 'secret.csv');
    writeFileSync(outside, 'Name,Username\nEve,eve\n');
    symlinkSync(outside, path.join(inbox, 'evil.csv'));
    execFileSync('mkfifo', [path.join(inbox, 'pipe.csv')]);
    writeFileSync(path.join(inbox, 'twice.csv'), 'x');
    linkSync(path.join(inbox, 'twice.csv'), path.join(dir, 'twice-elsewhere'));
    for (const [name, kind] of [
      ['evil.csv', 'symlink'],
      ['pipe.csv', 'fifo'],
      ['twice.csv', 'hardlink'],
    ] as const) {
      const outcome = await claimFile(path.join(inbox, name), processing, new Date());
      expect(outcome).toMatchObject({ refused: { kind, path: path.join(inbox, name) } });
    }
    expect(readlinkSync(path.join(inbox, 'evil.csv'))).toBe(outside);
    expect(lstatSync(path.join(inbox, 'pipe.csv')).isFIFO()).toBe(true);
    expect(lstatSync(path.join(inbox, 'twice.csv')).nlink).toBe(2);
    expect(readFileSync(outside, 'utf8')).toBe('Name,Username\nEve,eve\n');
    expect(execFileSync('ls', ['-A', processing], { encoding: 'utf8' })).toBe('');
  });

  // /dev/shm is a tmpfs: another filesystem than the temp folder's on this machine and in CI.
  it.skipIf(!existsSync('/dev/shm') || statSync('/dev/shm').dev === statSync(tmpdir()).dev)(
    'across filesystems copies from a checked descriptor and removes the inbox name; refuses a link there too',
    async () => {
      const shm = mkdtempSync('/dev/shm/usersync-inbox-');
      try {
        const { processing } = fresh('exdev');
        const file = path.join(shm, 'users.csv');
        writeFileSync(file, 'Name,Username\nAnn,ann\n');
        const outcome = await claimFile(file, processing, new Date());
        if (!('claimed' in outcome)) throw new Error(`not claimed: ${JSON.stringify(outcome)}`);
        expect(readFileSync(outcome.claimed.path, 'utf8')).toBe('Name,Username\nAnn,ann\n');
        expect(existsSync(file)).toBe(false);
        symlinkSync(path.join(dir, 'secret.csv'), path.join(shm, 'evil.csv'));
        expect(await claimFile(path.join(shm, 'evil.csv'), processing, new Date())).toMatchObject({
          refused: { kind: 'symlink' },
        });
        expect(lstatSync(path.join(shm, 'evil.csv')).isSymbolicLink()).toBe(true);
      } finally {
        rmSync(shm, { recursive: true, force: true });
      }
    },
  );

  it('puts an entry that must not be read back into the inbox as the entry itself, beside a name already taken', async () => {
    const { inbox, processing } = fresh('back');
    const outside = path.join(dir, 'elsewhere.csv');
    writeFileSync(outside, 'not to be read');
    const claimed = path.join(processing, '20260101T000000Z-abcdef__evil.csv');
    symlinkSync(outside, claimed);
    expect(await checkClaimed(claimed)).toMatchObject({ kind: 'symlink' });
    writeFileSync(path.join(inbox, 'evil.csv'), 'a newer regular file');
    const back = await returnToInbox(claimed, path.join(inbox, 'evil.csv'));
    expect(back).toBe(path.join(inbox, 'evil (2).csv'));
    expect(readlinkSync(back)).toBe(outside);
    expect(existsSync(claimed)).toBe(false);
    expect(readFileSync(path.join(inbox, 'evil.csv'), 'utf8')).toBe('a newer regular file');
  });
});

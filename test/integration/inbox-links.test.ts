/**
 * The inbox takes only regular files that are really in it. A symbolic link (to anything), a hard
 * link to a file with other names, a FIFO, a device or a socket is never opened, read, moved or
 * imported: it stays where it is, is warned about once, counted in /metrics and listed in /healthz.
 * The check is made at the claim (lstat), not only when the watcher saw the entry. `usersync
 * import` refuses a link unless --follow-symlinks.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  utimesSync,
  lutimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import knex from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { runUsersync } from '../helpers/cli.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { TEMPLATE, fixtureDir, writeCsv } from '../fixtures/build.js';

const today = () => new Date().toISOString().slice(0, 10);
const row = (name: string, username: string) => [name, username, '', '', '', '', '', '', '', ''];

describeEachDatabase('inbox entries that are not regular files', (database) => {
  let daemon: DaemonHandle;
  let outside: string;
  const connect = () =>
    knex(
      database().kind === 'sqlite'
        ? { client: 'better-sqlite3', connection: { filename: database().url.slice(7) }, useNullAsDefault: true }
        : { client: 'mysql2', connection: database().url },
    );
  const userExists = async (username: string) => {
    const db = connect();
    try {
      return (await db('users').where('username', username).first()) !== undefined;
    } finally {
      await db.destroy();
    }
  };
  const archived = (folder: 'archive' | 'error') => listFiles(path.join(daemon.folder(folder), today()));
  /** Drops a regular file and waits until it is archived: everything dropped before it was looked at. */
  const dropMarker = async (name: string) => {
    writeCsv(path.join(daemon.folder('inbox'), name), [TEMPLATE, row('Marker', name.replace(/\W/g, ''))]);
    await waitFor(() => archived('archive').some((f) => f.endsWith(`_${name}`)), 30_000, daemon.output);
  };
  const refusedLines = (file: string) =>
    daemon
      .output()
      .split('\n')
      .filter((line) => line.includes('"inbox.refused"') && line.includes(JSON.stringify(file)));
  const untouched = () => [
    ...listFiles(daemon.folder('processing')),
    ...listFiles(daemon.folder('archive')),
    ...listFiles(daemon.folder('error')),
  ];

  beforeAll(async () => {
    outside = fixtureDir('usersync-outside-');
    // A rescan every second finds the refused entries again and again: they must be warned about once.
    daemon = await startDaemon({ databaseUrl: database().url, config: { schedule: { rescan: '*/1 * * * * *' } } });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('never imports or moves a symbolic link to a CSV outside the inbox; warns once, counts it and lists it in /healthz', async () => {
    const target = writeCsv(path.join(outside, 'another-feed.csv'), [TEMPLATE, row('Eve Link', 'eve.symlink')]);
    const before = readFileSync(target);
    const link = path.join(daemon.folder('inbox'), 'evil.csv');
    symlinkSync(target, link);
    const created = lstatSync(link).ctimeMs;
    await dropMarker('after-link.csv');
    await new Promise((r) => setTimeout(r, 2500)); // two more rescans
    expect(await userExists('eve.symlink')).toBe(false);
    expect(readlinkSync(link)).toBe(target);
    expect(lstatSync(link).ctimeMs).toBe(created); // never moved, not even there and back
    expect(readFileSync(target).equals(before)).toBe(true);
    expect(untouched().filter((f) => f.includes('evil'))).toEqual([]);
    const warnings = refusedLines(link);
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      level: 'warn',
      file: link,
      is: `a symbolic link to ${target}`,
      code: 'INBOX_ENTRY_REFUSED',
    });
    expect(await daemon.metrics()).toMatch(/usersync_refused_files_total\{kind="symlink"\} 1\n/);
    const health = await daemon.health();
    expect(health.status).toBe(200);
    expect(health.body.refused).toEqual(
      expect.arrayContaining([expect.objectContaining({ file: link, what: `a symbolic link to ${target}` })]),
    );
  });

  it('refuses a hard link to a file with another name, and a FIFO without hanging', async () => {
    const original = writeCsv(path.join(outside, 'hard-original.csv'), [TEMPLATE, row('Hal Hard', 'hal.hardlink')]);
    const hard = path.join(daemon.folder('inbox'), 'twice.csv');
    linkSync(original, hard);
    const fifo = path.join(daemon.folder('inbox'), 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    await dropMarker('after-fifo.csv'); // the daemon did not block on the FIFO
    await waitFor(() => refusedLines(hard).length > 0 && refusedLines(fifo).length > 0, 10_000, daemon.output);
    expect(await userExists('hal.hardlink')).toBe(false);
    expect(lstatSync(hard).nlink).toBe(2);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(untouched().filter((f) => f.includes('twice') || f.includes('pipe'))).toEqual([]);
    expect(JSON.parse(refusedLines(hard)[0]!)).toMatchObject({ is: 'a hard link (the file has 2 names)' });
    expect(JSON.parse(refusedLines(fifo)[0]!)).toMatchObject({ is: 'a FIFO (named pipe)' });
    const metrics = await daemon.metrics();
    expect(metrics).toMatch(/usersync_refused_files_total\{kind="hardlink"\} 1\n/);
    expect(metrics).toMatch(/usersync_refused_files_total\{kind="fifo"\} 1\n/);
    expect((await daemon.health()).body.refused).toHaveLength(3);
  });

  it('refuses a name swapped for a link between the watcher seeing a regular file and the claim', async () => {
    // The daemon is held (deterministically) on a claimed file that a process still writes — one
    // found in processing/ at start — so that swap.csv waits in its queue, ready, to be swapped.
    expect(await daemon.stop()).toBe(0);
    let swappedCtime = 0;
    const held = writeCsv(path.join(daemon.folder('processing'), '20260101T000000Z-123456__held.csv'), [
      TEMPLATE,
      row('Hel Held', 'hel.held'),
    ]);
    const holder = spawn(
      process.execPath,
      [
        '-e',
        "require('fs').openSync(process.argv[1], 'a'); process.stdout.write('open\\n'); setInterval(() => {}, 1000);",
        held,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    try {
      daemon = await startDaemon({ databaseUrl: database().url, cwd: daemon.cwd, port: daemon.port });
      await waitFor(() => daemon.output().includes('file.waiting_for_writer'), 30_000, daemon.output);
      // The link's own size is the length of its target's path, and its mtime can be set: both made
      // equal to the regular file's, so that only the claim's own lstat can tell them apart.
      const content = `${TEMPLATE.join(',')}\r\nSwap Regular,swap.regular,,,,,,,,\r\n`;
      const evil = path.join(outside, `${'x'.repeat(content.length - outside.length - 5)}.csv`);
      writeCsv(evil, [TEMPLATE, row('Eve Swap', 'eve.swapped')]);
      expect(evil.length).toBe(content.length);
      const when = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
      const staged = path.join(daemon.folder('inbox'), '.swap.tmp');
      writeFileSync(staged, content);
      utimesSync(staged, when, when);
      renameSync(staged, path.join(daemon.folder('inbox'), 'swap.csv'));
      await waitFor(async () => (await daemon.metrics()).includes('usersync_inbox_backlog 2\n'), 30_000, daemon.output);
      const linkStaged = path.join(daemon.folder('inbox'), '.swap-link.tmp');
      symlinkSync(evil, linkStaged);
      lutimesSync(linkStaged, when, when);
      renameSync(linkStaged, path.join(daemon.folder('inbox'), 'swap.csv'));
      swappedCtime = lstatSync(path.join(daemon.folder('inbox'), 'swap.csv')).ctimeMs;
    } finally {
      holder.kill('SIGKILL');
    }
    await waitFor(() => archived('archive').some((f) => f.endsWith('_held.report.xlsx')), 30_000, daemon.output);
    await waitFor(() => refusedLines(path.join(daemon.folder('inbox'), 'swap.csv')).length > 0, 10_000, daemon.output);
    await dropMarker('after-swap.csv');
    expect(await userExists('hel.held')).toBe(true);
    expect(await userExists('eve.swapped')).toBe(false);
    expect(await userExists('swap.regular')).toBe(false);
    expect(readlinkSync(path.join(daemon.folder('inbox'), 'swap.csv'))).toMatch(/xxxx\.csv$/);
    // Never moved: a link (or rename) of the entry would have changed its ctime.
    expect(lstatSync(path.join(daemon.folder('inbox'), 'swap.csv')).ctimeMs).toBe(swappedCtime);
    expect(untouched().filter((f) => /_swap\.|__swap\./.test(f))).toEqual([]);
  });

  it('puts a link found in processing/ at start back into the inbox, unread', async () => {
    expect(await daemon.stop()).toBe(0);
    const target = writeCsv(path.join(outside, 'planted.csv'), [TEMPLATE, row('Pat Planted', 'pat.planted')]);
    symlinkSync(target, path.join(daemon.folder('processing'), '20260101T000000Z-abcdef__planted.csv'));
    daemon = await startDaemon({ databaseUrl: database().url, cwd: daemon.cwd, port: daemon.port });
    await dropMarker('after-restart.csv');
    expect(await userExists('pat.planted')).toBe(false);
    expect(readlinkSync(path.join(daemon.folder('inbox'), 'planted.csv'))).toBe(target);
    expect(listFiles(daemon.folder('processing')).filter((f) => f.includes('planted'))).toEqual([]);
    expect(refusedLines(path.join(daemon.folder('inbox'), 'planted.csv'))).toHaveLength(1);
  });

  it('usersync import refuses a symbolic link unless --follow-symlinks', async () => {
    const dir = fixtureDir();
    const target = writeCsv(path.join(dir, 'real.csv'), [TEMPLATE, row('Lin Cli', 'lin.cli')]);
    mkdirSync(path.join(dir, 'drop'));
    const link = path.join(dir, 'drop', 'link.csv');
    symlinkSync(target, link);
    const env = { USERSYNC_DATABASE_URL: database().url };
    const refused = await runUsersync(['import', link, '--json'], { cwd: dir, env });
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({
      outcome: 'rejected',
      error: { code: 'FILE_SYMLINK', message: expect.stringContaining(`${link} is a symbolic link to ${target}`) },
    });
    expect(await userExists('lin.cli')).toBe(false);
    expect(existsSync(path.join(dir, 'drop', 'link.report.json'))).toBe(false);
    const followed = await runUsersync(['import', link, '--follow-symlinks'], { cwd: dir, env });
    expect(followed.code).toBe(0);
    expect(await userExists('lin.cli')).toBe(true);
  });
});

/**
 * `npm start &` then `kill $!` must stop the daemon, not orphan it holding its lock and port: the
 * start script `exec`s the daemon, so the signal npm forwards to its script's process reaches it.
 * Runs the real `npm start` (build included) in a copy of the package, as a new operator does.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT, makeWorkdir } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/daemon.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

it('npm start passes SIGTERM to the daemon: it exits and releases its lock and port', async () => {
  const pkg = makeWorkdir('usersync-npm-start-');
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json'])
    copyFileSync(path.join(REPO_ROOT, file), path.join(pkg, file));
  cpSync(path.join(REPO_ROOT, 'src'), path.join(pkg, 'src'), { recursive: true });
  cpSync(path.join(REPO_ROOT, 'bin'), path.join(pkg, 'bin'), { recursive: true });
  mkdirSync(path.join(pkg, 'config'));
  copyFileSync(path.join(REPO_ROOT, 'config', 'default.json'), path.join(pkg, 'config', 'default.json'));
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
  const port = await freePort();
  writeFileSync(
    path.join(pkg, 'config', 'local.json'),
    JSON.stringify({ health: { port }, logs: { console: 'json' }, schedule: { rescan: '' } }),
  );

  const npm = spawn('npm', ['start'], {
    cwd: pkg,
    env: { ...process.env, USERSYNC_DATABASE_URL: `sqlite:${path.join(pkg, 'data', 'db.sqlite')}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  npm.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const npmExited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  const lock = path.join(pkg, 'processing', '.usersync.lock');
  let daemonPid = 0;
  try {
    await waitFor(
      () => output.includes('daemon.started') && existsSync(lock),
      180_000,
      () => output,
    );
    daemonPid = (JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid;
    expect(daemonPid).not.toBe(npm.pid); // npm's own process is not the daemon: the signal must travel
    expect(await portIsFree(port)).toBe(false);

    npm.kill('SIGTERM'); // what `kill $!` does after `npm start &`
    await npmExited;
    await waitFor(
      () => !alive(daemonPid),
      30_000,
      () => output,
    );
    expect(existsSync(lock)).toBe(false);
    expect(await portIsFree(port)).toBe(true);
    expect(output).toContain('shutdown.started');
  } finally {
    if (npm.exitCode === null) npm.kill('SIGKILL');
    if (daemonPid && alive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
  }
}, 240_000);

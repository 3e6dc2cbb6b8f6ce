/**
 * Runs `usersync start` as a real process on temporary folders, for daemon tests: real chokidar,
 * real signals, a real health server on a loopback port.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeWorkdir, spawnUsersync } from './cli.js';
import { walkFiles } from './secrets.js';

export interface DaemonHandle {
  cwd: string;
  port: number;
  child: ChildProcess;
  output(): string;
  folder(name: 'inbox' | 'processing' | 'archive' | 'error'): string;
  health(): Promise<{ status: number; body: Record<string, unknown> }>;
  metrics(): Promise<string>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface DaemonOptions {
  databaseUrl: string;
  cwd?: string;
  config?: Record<string, unknown>;
  port?: number;
  env?: Record<string, string>;
  /** The log text that means "up" (default: daemon.started). */
  waitFor?: string;
  /** Runs the daemon as this account (the test must be root; the working dir must be theirs). */
  user?: { uid: number; gid: number };
}

export async function startDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const cwd = options.cwd ?? makeWorkdir('usersync-daemon-');
  const port = options.port ?? (await freePort());
  mkdirSync(path.join(cwd, 'config'), { recursive: true });
  const config = {
    watch: { stableMs: 300, incompleteTimeoutMs: 3000 },
    health: { port },
    logs: { console: 'json', level: 'debug' },
    daemon: { retryInitialMs: 200, retryMaxMs: 2000, shutdownTimeoutMs: 20_000 },
    import: { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
    ...options.config,
  };
  writeFileSync(path.join(cwd, 'config', 'local.json'), JSON.stringify(config));
  const env = { USERSYNC_DATABASE_URL: options.databaseUrl, ...options.env };
  const child = spawnUsersync(['start'], { cwd, env, user: options.user });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const handle: DaemonHandle = {
    cwd,
    port,
    child,
    output: () => output,
    folder: (name) => path.join(cwd, name),
    health: async () => {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    exited,
  };
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the daemon exited with ${child.exitCode}:\n${output}`);
      return output.includes(options.waitFor ?? 'daemon.started');
    },
    30_000,
    () => output,
  );
  return handle;
}

/** Polls until `check` is truthy; fails with the description after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs = 20_000,
  describe: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
      if (error instanceof Error && error.message.startsWith('the daemon exited')) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms${last ? ` (${String(last)})` : ''}\n${describe().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every file below a folder, as paths relative to it. */
export function listFiles(dir: string): string[] {
  return walkFiles(dir).map((file) => path.relative(dir, file));
}

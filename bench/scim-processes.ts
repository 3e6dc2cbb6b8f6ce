/**
 * The two long-running processes of the SCIM case (scim.ts): the SCIM provider
 * (dist/bench/scim-provider.js, its request log off) and `usersync start`, each its own process so
 * that the CPU and memory of one are not the other's. Both are read from /proc while they run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Running {
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code (SIGKILL if it has not exited after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

function run(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Running {
  // stdin stays an open pipe: the provider stops when it closes (its parent died).
  const child = spawn(process.execPath, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    async stop(graceMs = 60_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls `check` every `everyMs` until it is truthy; throws after `timeoutMs` with `describe()`. */
export async function until<T>(check: () => Promise<T> | T, timeoutMs: number, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms\n${describe().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ProviderProcess extends Running {
  url: string;
  tokenUrl: string;
  /** Stops it and returns what it printed on the way out. */
  finish(): Promise<{ users: number; requests: number; failed: number }>;
}

/** The provider with OAuth2 client credentials, Bulk of at most `bulkMax` operations, no request log. */
export async function startProvider(client: { id: string; secret: string }, bulkMax: number): Promise<ProviderProcess> {
  const args = [path.join(here, 'scim-provider.js'), '--bulk-max-operations', String(bulkMax), '--no-request-log'];
  // The secret through the environment, out of `ps`.
  const env = { ...process.env, SCIM_CLIENT_ID: client.id, SCIM_CLIENT_SECRET: client.secret };
  const provider = run(args, { env });
  const line = await until(
    () => {
      if (provider.child.exitCode !== null) throw new Error(`the SCIM provider exited:\n${provider.output()}`);
      return provider
        .output()
        .split('\n')
        .find((l) => l.startsWith('{"url"'));
    },
    30_000,
    provider.output,
  );
  const { url, tokenUrl } = JSON.parse(line as string) as { url: string; tokenUrl: string };
  return {
    ...provider,
    url,
    tokenUrl,
    async finish() {
      await provider.stop();
      const last = provider
        .output()
        .split('\n')
        .find((l) => l.startsWith('{"stopped"'));
      if (!last) throw new Error(`the SCIM provider stopped without its counts:\n${provider.output().slice(-2000)}`);
      return JSON.parse(last) as { users: number; requests: number; failed: number };
    },
  };
}

/**
 * `usersync --config FILE start` in `cwd` (its inbox, processing, … folders are made there).
 * USERSYNC_BENCH_CPU_PROF=DIR runs it under --cpu-prof, to see where its time goes.
 */
export function startDaemon(bin: string, configFile: string, cwd: string, env: NodeJS.ProcessEnv): Running {
  const profile = process.env.USERSYNC_BENCH_CPU_PROF;
  const flags = profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [];
  return run([...flags, bin, '--config', configFile, 'start'], { cwd, env });
}

/** A port free on 127.0.0.1 now, for the daemon's /metrics. */
export async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The peak resident memory (VmHWM) of a running process, in MB; null once it is gone. */
export function peakRssMb(pid: number | undefined): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** One sample of a Prometheus text exposition, e.g. sample(text, 'usersync_target_queue', {target: 'bench'}). */
export function sample(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => (match[2] ?? '').includes(`${k}="${v}"`));
    if (has) return Number(match[3]);
  }
  return null;
}

/**
 * Runs a command as a child process and measures its wall time, its peak RSS (VmHWM from
 * /proc/<pid>/status, sampled until it exits — the kernel keeps the high-water mark, so sampling
 * late still sees the peak) and, for Node processes, its CPU time (cpu-report.cts). Given the pid of
 * a server the command talks to (a local MariaDB), also the CPU that server spent meanwhile.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cpuReport = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cpu-report.cjs');
let measured = 0;

export interface Measurement {
  ms: number;
  peakRssMb: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** CPU time of the process, all its threads (Node commands only; null otherwise). */
  cpuMs: number | null;
  /** CPU time of `serverPid` while the command ran (null without one). */
  serverCpuMs: number | null;
}

export async function measure(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; serverPid?: number } = {},
): Promise<Measurement> {
  const node = command === process.execPath;
  const cpuFile = path.join(tmpdir(), `usersync-bench-cpu-${process.pid}-${++measured}.json`);
  const env = { ...(options.env ?? process.env), ...(node ? { USERSYNC_BENCH_CPU_FILE: cpuFile } : {}) };
  const serverBefore = options.serverPid === undefined ? null : processCpuMs(options.serverPid);
  const started = process.hrtime.bigint();
  const child = spawn(command, node ? ['--require', cpuReport, ...args] : args, {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let peakKb = 0;
  const sample = async () => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      if (match) peakKb = Math.max(peakKb, Number(match[1]));
    } catch {
      // exited between samples
    }
  };
  const timer = setInterval(() => void sample(), 50);
  // Sampled every 50 ms while the process runs: the kernel keeps the high-water mark, so only a
  // peak reached in its last 50 ms could be missed (/proc/<pid> is gone once 'exit' fires).
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', (c) => resolve(c));
  });
  clearInterval(timer);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const serverAfter = options.serverPid === undefined ? null : processCpuMs(options.serverPid);
  const serverCpuMs = serverBefore !== null && serverAfter !== null ? serverAfter - serverBefore : null;
  return {
    ms,
    peakRssMb: peakKb / 1024,
    code,
    stdout,
    stderr,
    cpuMs: node ? readCpuReport(cpuFile) : null,
    serverCpuMs,
  };
}

function readCpuReport(file: string): number | null {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { cpuMs: number }).cpuMs;
  } catch {
    return null; // the process died before its exit handler ran
  } finally {
    rmSync(file, { force: true });
  }
}

/** Linux reports a process's CPU time in /proc/<pid>/stat in USER_HZ ticks, 100 a second on every architecture it runs on. */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of a running process (all its threads), or null when it cannot be read. */
export function processCpuMs(pid: number): number | null {
  try {
    // Fields after the command name, which is in parentheses and may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
  } catch {
    return null;
  }
}

/** The pid of a process on this machine named one of `names` (e.g. the MariaDB server), if exactly one runs. */
export function findProcess(names: readonly string[]): number | undefined {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found.length === 1 ? found[0] : undefined;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

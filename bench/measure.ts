/**
 * Runs a command as a child process and measures its wall time and peak RSS (VmHWM from
 * /proc/<pid>/status, sampled until it exits — the kernel keeps the high-water mark, so sampling
 * late still sees the peak).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface Measurement {
  ms: number;
  peakRssMb: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function measure(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const code = await new Promise<number | null>((resolve) => {
    // Read the high-water mark one last time before the process is reaped.
    child.on('exit', (c) => resolve(c));
  });
  clearInterval(timer);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { ms, peakRssMb: peakKb / 1024, code, stdout, stderr };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

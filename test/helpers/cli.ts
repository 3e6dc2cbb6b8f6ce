/**
 * Runs the built `usersync` bin as a real process, the way a user does. Every test that starts
 * the bin goes through spawnUsersync (or, where a shell must run it, usersyncCommandLine), so the
 * bin, the Node.js that runs it and the check that dist/ is built are in one place.
 */
import { spawn, type ChildProcessByStdio, type StdioOptions } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(REPO_ROOT, 'bin', 'usersync.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SpawnUsersyncOptions {
  cwd: string;
  /** Layered over this process's environment; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  /** Default 'ignore'; 'pipe' to write to the command's standard input. */
  stdin?: 'pipe' | 'ignore';
  /** Runs as this account (the test must be root). */
  user?: { uid: number; gid: number };
  /** A program that runs usersync, with its arguments before usersync's own (e.g. GNU time). */
  wrapper?: readonly string[];
  /** In a process group of its own, for a caller that kills the group (the wrapper with it). */
  detached?: boolean;
}

export interface CliOptions extends Omit<SpawnUsersyncOptions, 'stdin' | 'wrapper' | 'detached'> {
  input?: string;
  timeoutMs?: number;
}

/** A fresh working directory for a CLI run (its config/, data/, logs/ go there). */
export const makeWorkdir = (prefix = 'usersync-cli-'): string => mkdtempSync(path.join(tmpdir(), prefix));

/** Starts the built bin with `args`; its standard output and error are pipes. */
export function spawnUsersync(
  args: readonly string[],
  options: SpawnUsersyncOptions,
): ChildProcessByStdio<Writable | null, Readable, Readable> {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does it) first');
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const [command = process.execPath, ...before] = [...(options.wrapper ?? []), process.execPath];
  const stdio: StdioOptions = [options.stdin ?? 'ignore', 'pipe', 'pipe'];
  const child = spawn(command, [...before, BIN, ...args], {
    cwd: options.cwd,
    env,
    stdio,
    detached: options.detached ?? false,
    ...options.user,
  });
  return child as ChildProcessByStdio<Writable | null, Readable, Readable>;
}

/**
 * The bin's command line with `args`, each word in a POSIX shell's double quotes: for tests that
 * run it through a shell (a pipe, a pseudo-terminal).
 */
export function usersyncCommandLine(args: readonly string[]): string {
  return [process.execPath, BIN, ...args].map((word) => JSON.stringify(word)).join(' ');
}

/**
 * Runs the bin to its end (killed after `timeoutMs`) with `input` on its standard input.
 * USERSYNC_LOG_LEVEL is not passed on from the test's environment: the config's level applies.
 */
export function runUsersync(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const { input, timeoutMs, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawnUsersync(args, {
      ...spawnOptions,
      env: { USERSYNC_LOG_LEVEL: undefined, ...options.env },
      stdin: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

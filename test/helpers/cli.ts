/**
 * Runs the built `usersync` bin as a real process, the way a user does.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(REPO_ROOT, 'bin', 'usersync.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  /** Runs as this account (the test must be root). */
  user?: { uid: number; gid: number };
}

/** A fresh working directory for a CLI run (its config/, data/, logs/ go there). */
export const makeWorkdir = (prefix = 'usersync-cli-'): string => mkdtempSync(path.join(tmpdir(), prefix));

export function runUsersync(args: readonly string[], options: CliOptions): Promise<CliResult> {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it) first');
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, USERSYNC_LOG_LEVEL: undefined, ...options.env };
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], ...options.user });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

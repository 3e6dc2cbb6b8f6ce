/**
 * Regenerates the parts of the documentation that mirror code: the configuration reference (from
 * the zod schema), the error codes (from the registry), and the README's short tables of the keys
 * and codes an operator meets first. Each generated part sits between `<!-- NAME:start -->` and
 * `<!-- NAME:end -->`. `npm run docs` writes them; test/unit/readme.test.ts fails when a file is
 * out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configReferenceMarkdown } from '../src/config/docs.js';
import { ERROR_CODES } from '../src/errors.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const README = path.join(ROOT, 'README.md');

/** The configuration keys the README's short table lists; docs/configuration.md has them all. */
export const README_CONFIG_KEYS = [
  'database.url',
  'folders.inbox',
  'watch.stableMs',
  'watch.usePolling',
  'schedule.rescan',
  'schedule.sources',
  'import.atomic',
  'import.passwords',
  'import.createMissingGroups',
  'import.headerAliases',
  'archive.redactPasswords',
  'catalog.roles',
  'health.host',
  'health.port',
  'logs.dir',
] as const;

/** The error codes the README's short table lists; docs/errors.md has them all. */
export const README_ERROR_CODES = [
  'CONFIG_INVALID',
  'DB_UNAVAILABLE',
  'DB_ACCESS_DENIED',
  'DB_NOT_FOUND',
  'DAEMON_ALREADY_RUNNING',
  'FS_IO_FAILED',
  'FS_MOVE_FAILED',
  'INBOX_ENTRY_REFUSED',
  'FILE_CHANGED_DURING_IMPORT',
  'FILE_LEGACY_XLS',
  'FILE_NO_HEADER',
  'ROW_UNKNOWN_ROLE',
] as const;

const EXIT_CODE = { row: '1', file: '2', usage: '2', transient: '3', operational: '3' } as const;

/** The error-code table: every code, or only `codes` in that order (an unknown code throws). */
export function errorReferenceMarkdown(codes?: readonly string[]): string {
  const registry = ERROR_CODES as Record<string, (typeof ERROR_CODES)[keyof typeof ERROR_CODES] | undefined>;
  const rows = (codes ?? Object.keys(ERROR_CODES)).map((code) => {
    const info = registry[code];
    if (!info) throw new Error(`${code} is not in the error registry (src/error-codes.ts)`);
    return `| \`${code}\` | ${info.kind} | ${EXIT_CODE[info.kind]} | ${info.message} ${info.help} |`;
  });
  return ['| code | kind | exit | meaning and what to do |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** Every generated part, by file (relative to the repository root) and section name. */
export const GENERATED: Record<string, Record<string, () => string>> = {
  'README.md': {
    'config-essentials': () => configReferenceMarkdown(README_CONFIG_KEYS),
    'error-essentials': () => errorReferenceMarkdown(README_ERROR_CODES),
  },
  'docs/configuration.md': { 'config-reference': () => configReferenceMarkdown() },
  'docs/errors.md': { 'error-codes': () => errorReferenceMarkdown() },
};

/** `text` (the content of `file`) with every generated part replaced by its current text. */
export function renderDoc(file: string, text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(GENERATED[file] ?? {})) {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${file} has no ${start} … ${end} section`);
    out = `${out.slice(0, from + start.length)}\n${render()}\n${out.slice(to)}`;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  for (const file of Object.keys(GENERATED)) {
    const full = path.join(ROOT, file);
    writeFileSync(full, renderDoc(file, readFileSync(full, 'utf8')));
  }
  process.stdout.write(`regenerated: ${Object.keys(GENERATED).join(', ')}\n`);
}

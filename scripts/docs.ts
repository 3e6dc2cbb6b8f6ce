/**
 * Regenerates the README sections that mirror code: the configuration reference (from the zod
 * schema) and the error codes (from the registry). `npm run docs` writes them; the unit test
 * test/unit/readme.test.ts fails when the README is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configReferenceMarkdown } from '../src/config/docs.js';
import { ERROR_CODES } from '../src/errors.js';

export const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');

export function errorReferenceMarkdown(): string {
  const exit = { row: '1', file: '2', usage: '2', transient: '3', operational: '3' } as const;
  const rows = Object.entries(ERROR_CODES).map(([code, info]) => `| \`${code}\` | ${info.kind} | ${exit[info.kind]} | ${info.message} ${info.help} |`);
  return ['| code | kind | exit | meaning and what to do |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export const SECTIONS: Record<string, () => string> = {
  'config-reference': configReferenceMarkdown,
  'error-codes': errorReferenceMarkdown,
};

/** The README with every generated section replaced by its current text. */
export function renderReadme(text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(SECTIONS)) {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} section`);
    out = `${out.slice(0, from + start.length)}\n${render()}\n${out.slice(to)}`;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  writeFileSync(README, renderReadme(readFileSync(README, 'utf8')));
  process.stdout.write('README.md sections regenerated\n');
}

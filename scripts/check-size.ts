/**
 * Fails when a module under src/ is longer than MAX_LINES (STYLE.md: a file is about one concept,
 * under 200 lines as a rule). A module past 400 holds more than one: split it, and re-export from
 * the old module when callers should keep their imports (as errors.ts does for error-codes.ts).
 * Run by `npm run check:size`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAX_LINES = 400;
const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;

/** Every source file under `dir`, as paths relative to the repository root. */
function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(relative);
    return entry.isFile() && SOURCE.test(entry.name) ? [relative] : [];
  });
}

/** Lines as `wc -l` counts them, plus a last line without a newline. */
function lineCount(text: string): number {
  const newlines = text.split('\n').length - 1;
  return text.endsWith('\n') || text === '' ? newlines : newlines + 1;
}

const tooLong = sourceFiles('src')
  .map((file) => ({ file, lines: lineCount(readFileSync(path.join(ROOT, file), 'utf8')) }))
  .filter(({ lines }) => lines > MAX_LINES);

if (tooLong.length > 0) {
  for (const { file, lines } of tooLong) console.error(`${file}: ${lines} lines (at most ${MAX_LINES})`);
  console.error('Split each into modules of one concept each (STYLE.md).');
  process.exitCode = 1;
}

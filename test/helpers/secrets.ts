/**
 * Looks for plaintext secrets in everything an import leaves behind: every file below some
 * folders (workbooks unzipped, every entry scanned) and every row of every database table.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import JSZip from 'jszip';
import type { Knex } from 'knex';

/** Every regular file below `dir` (absolute paths), following no symlinks. */
export function walkFiles(dir: string): string[] {
  let out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out = out.concat(walkFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

/** The forms a secret can take in a file: as written, JSON-escaped, XML-escaped. */
function formsOf(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const xml = secret
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
  return [...new Set([secret, json, xml])];
}

/** "where: secret" for each secret found in `text`. */
function findIn(text: string, where: string, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const secret of secrets)
    if (formsOf(secret).some((form) => text.includes(form))) found.push(`${where}: ${secret}`);
  return found;
}

const isZip = (bytes: Buffer) => bytes.length >= 4 && bytes.readUInt32LE(0) === 0x04034b50;

/**
 * Scans every file below each root (except `exclude`d paths): the raw bytes as UTF-8 and Latin-1,
 * and for a zip (xlsx) every entry inflated. Returns where each secret was found.
 */
export async function scanFiles(
  roots: readonly string[],
  secrets: readonly string[],
  exclude: readonly string[] = [],
): Promise<{ files: string[]; hits: string[] }> {
  const files = roots.flatMap(walkFiles).filter((f) => !exclude.includes(f));
  const hits: string[] = [];
  for (const file of files) {
    const bytes = readFileSync(file);
    hits.push(
      ...findIn(bytes.toString('utf8'), file, secrets),
      ...findIn(bytes.toString('latin1'), `${file} (latin1)`, secrets),
    );
    if (isZip(bytes)) {
      let zip: JSZip | undefined;
      try {
        zip = await JSZip.loadAsync(bytes);
      } catch {
        hits.push(`${file}: a zip that does not open, so it could not be scanned`);
      }
      for (const [name, entry] of Object.entries(zip?.files ?? {})) {
        if (!entry.dir) hits.push(...findIn(await entry.async('string'), `${file}!${name}`, secrets));
      }
    }
  }
  return { files, hits: [...new Set(hits)] };
}

/** Every table's rows as text, table by table. */
export async function dumpTables(knex: Knex, kind: 'sqlite' | 'mysql'): Promise<Record<string, string>> {
  const tables =
    kind === 'sqlite'
      ? ((await knex('sqlite_master').where('type', 'table').pluck('name')) as string[])
      : ((await knex('information_schema.tables')
          .where('table_schema', knex.raw('DATABASE()'))
          .pluck('table_name')) as string[]);
  const dump: Record<string, string> = {};
  for (const table of tables) dump[table] = JSON.stringify(await knex(table).select('*'));
  return dump;
}

/** Files whose mode lets anyone but the owner read or write them, as "path (mode)". */
export function notOwnerOnly(files: readonly string[]): string[] {
  return files
    .filter((f) => (statSync(f).mode & 0o077) !== 0)
    .map((f) => `${f} (${(statSync(f).mode & 0o777).toString(8)})`);
}

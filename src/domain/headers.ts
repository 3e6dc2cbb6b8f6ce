/**
 * Header-row rules (SPEC §1): which texts name which template column, and when a header row is
 * good enough to read the file with. Pure: no I/O.
 *
 * Matching is loose on purpose: case, whitespace (also inside), punctuation and accents are
 * ignored (`E-mail` = `Email` = `e mail`, `Ignore MFA` = `IgnoreMFA`, `Usuário` = `usuario`),
 * and a trailing plural `s` is tolerated (`User groups` = `User group`).
 */
import { fail } from '../errors.js';
import { COLUMN_KEYS, TEMPLATE_HEADERS, type ColumnKey } from './columns.js';

/**
 * Built-in names of each column: the English and the Portuguese template plus a few obvious
 * variants. Kept conservative: a name that could plausibly be a *different* column in an HR export
 * (Mobile, Login, Group ID) is left to `import.headerAliases`.
 */
const BUILT_IN_ALIASES: Readonly<Record<ColumnKey, readonly string[]>> = {
  name: ['Name', 'Full name', 'Nome', 'Nome completo'],
  username: ['Username', 'User name', 'Usuário', 'Nome de usuário'],
  password: ['Password', 'Senha'],
  department: ['Department', 'Departamento'],
  email: ['E-mail', 'E-mail address', 'Endereço de e-mail'],
  phone: ['Phone', 'Phone number', 'Telephone', 'Telefone'],
  active: ['Active', 'Ativo'],
  ignoreMfa: ['Ignore MFA', 'Ignorar MFA'],
  roles: ['Roles', 'Perfis', 'Perfil'],
  groups: ['User group', 'Groups', 'Grupo de usuários', 'Grupos de usuários', 'Grupo', 'Grupos'],
};

/** Normalised header text → column. Build it once per import with {@link buildHeaderLookup}. */
export type HeaderLookup = ReadonlyMap<string, ColumnKey>;

/** A header cell, by 0-based column index, as written in the file. */
export interface HeaderCell {
  readonly index: number;
  readonly text: string;
}

/** What {@link matchHeaderRow} found in one row. */
export interface HeaderMatch {
  /** 0-based column index → template column (first occurrence only). */
  readonly columns: Map<number, ColumnKey>;
  /** Non-blank header cells that name no template column. */
  readonly unknown: HeaderCell[];
  /** A column named a second time: the first and the later header cell. */
  readonly duplicates: Array<{ key: ColumnKey; first: HeaderCell; second: HeaderCell }>;
}

/**
 * The comparison key of a header text: accents removed (NFKD, then combining marks dropped),
 * lower-cased, and everything that is not a letter or digit removed.
 */
export function normaliseHeader(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '');
}

/**
 * Builds the lookup from the built-in names plus the operator's `import.headerAliases`
 * (`{"Login": "Username"}`). An alias value may be any built-in name of a column, matched loosely
 * (`"usuario"` works). Throws CONFIG_INVALID when a value names no template column.
 */
export function buildHeaderLookup(aliases: Readonly<Record<string, string>> = {}): HeaderLookup {
  const lookup = new Map<string, ColumnKey>();
  for (const key of COLUMN_KEYS) {
    for (const alias of BUILT_IN_ALIASES[key]) lookup.set(normaliseHeader(alias), key);
  }
  const builtIn = new Map(lookup);
  for (const [alias, target] of Object.entries(aliases)) {
    const key = resolve(builtIn, normaliseHeader(target));
    if (key === undefined) {
      const names = COLUMN_KEYS.map((k) => TEMPLATE_HEADERS[k]).join(', ');
      throw fail('CONFIG_INVALID', {
        message: `import.headerAliases: "${alias}" maps to "${target}", which is not a template column (${names}).`,
        details: { key: 'import.headerAliases', alias, target },
      });
    }
    const normalised = normaliseHeader(alias);
    if (normalised !== '') lookup.set(normalised, key);
  }
  return lookup;
}

/** Exact key first, then singular/plural by a trailing `s` (`usergroups` → `usergroup`, `role` → `roles`). */
function resolve(lookup: HeaderLookup, normalised: string): ColumnKey | undefined {
  if (normalised === '') return undefined;
  const exact = lookup.get(normalised);
  if (exact !== undefined) return exact;
  return normalised.endsWith('s') ? lookup.get(normalised.slice(0, -1)) : lookup.get(`${normalised}s`);
}

/** The template column a header text names, if any. */
export function matchHeader(text: string, lookup: HeaderLookup): ColumnKey | undefined {
  return resolve(lookup, normaliseHeader(text));
}

/**
 * Matches one row's texts (0-based, in file order; `undefined`/'' = blank cell) against the
 * template columns.
 */
export function matchHeaderRow(texts: ReadonlyArray<string | undefined>, lookup: HeaderLookup): HeaderMatch {
  const columns = new Map<number, ColumnKey>();
  const firstSeen = new Map<ColumnKey, HeaderCell>();
  const unknown: HeaderCell[] = [];
  const duplicates: HeaderMatch['duplicates'] = [];
  texts.forEach((raw, index) => {
    const text = raw?.trim() ?? '';
    if (text === '') return;
    const key = matchHeader(text, lookup);
    if (key === undefined) {
      unknown.push({ index, text });
      return;
    }
    const first = firstSeen.get(key);
    if (first !== undefined) {
      duplicates.push({ key, first, second: { index, text } });
      return;
    }
    firstSeen.set(key, { index, text });
    columns.set(index, key);
  });
  return { columns, unknown, duplicates };
}

/** True when the row is a header row: it has a Username column (SPEC §1). */
export function isHeaderRow(match: HeaderMatch): boolean {
  for (const key of match.columns.values()) if (key === 'username') return true;
  return false;
}

/** The spreadsheet column letter of a 0-based index: 0 → A, 26 → AA. */
export function columnLetter(index: number): string {
  let n = index + 1;
  let letters = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    letters = String.fromCharCode(65 + rem) + letters;
    n = Math.floor((n - 1) / 26);
  }
  return letters;
}

/**
 * Rejects a header row that cannot be imported: a column named twice (FILE_DUPLICATE_COLUMN), or
 * no Name column (FILE_NO_NAME_COLUMN). `where` says where the row is ("row 3 of sheet "Users"").
 */
export function assertUsableHeader(match: HeaderMatch, where: string): void {
  const duplicate = match.duplicates[0];
  if (duplicate !== undefined) {
    const { first, second, key } = duplicate;
    throw fail('FILE_DUPLICATE_COLUMN', {
      message:
        `The header (${where}) has the ${TEMPLATE_HEADERS[key]} column twice: ` +
        `"${first.text}" in column ${columnLetter(first.index)} and "${second.text}" in column ${columnLetter(second.index)}.`,
      details: { column: key, first: columnLetter(first.index), second: columnLetter(second.index) },
    });
  }
  if (![...match.columns.values()].includes('name')) {
    throw fail('FILE_NO_NAME_COLUMN', {
      message: `The header (${where}) has a Username column but no Name column (Name or Nome).`,
    });
  }
}

/** The warning sentence for a header cell that names no template column. */
export function unknownColumnWarning(cell: HeaderCell): string {
  return `Column "${cell.text}" (${columnLetter(cell.index)}) is not a template column and was ignored.`;
}

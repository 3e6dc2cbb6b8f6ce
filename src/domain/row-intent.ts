/**
 * Turns one read row into what it asks for (a RowIntent) or the reasons it fails (SPEC §1 row
 * rules). Pure: the catalogue and the file's earlier usernames are passed in.
 *
 * Blank cell = keep the stored value: every field of the intent is `undefined` unless its cell
 * had something in it. The clear marker (`import.clearMarker`, e.g. `(clear)`) empties an optional
 * field: `null` for E-mail, Phone and Department, `[]` for Roles and User group. Name, Username,
 * Password, Active and Ignore MFA cannot be cleared (a user always has a name and a username, the
 * Yes/No fields always a value; a user without a password is not what HR means — Active = No is
 * how to stop a sign-in), so the marker there fails the row.
 */
import { COLUMN_INDEX, TEMPLATE_HEADERS, type CellValue, type ColumnKey, type RawRow } from './columns.js';
import { cleanCatalogName, catalogKey, MAX_NAME_LENGTH } from './catalog-name.js';
import { normaliseEmail } from './email.js';
import { protectedUserMessage } from './protected.js';
import { splitList, type ListItem } from './lists.js';
import { forbiddenCharacter, textLength } from './text-rules.js';
import { isValidUsername, normaliseUsername } from './username.js';
import type { SeenUsernames } from './username-index.js';
import { parseYesNo } from './yes-no.js';

export interface RowIntent {
  row: number;
  username: string;
  name?: string;
  /** Plain text only until it is hashed; never logged, reported or stored. */
  password?: string;
  /** null: cleared (the marker). */
  department?: ListItem | null;
  /** null: cleared (the marker). */
  email?: string | null;
  /** null: cleared (the marker). */
  phone?: string | null;
  active?: boolean;
  ignoreMfa?: boolean;
  /** Role keys; when present they replace the user's set ([]: cleared). */
  roles?: string[];
  /** Group keys (with names, for createMissingGroups); when present they replace the set ([]: cleared). */
  groups?: readonly ListItem[];
}

export interface RowProblem {
  code: string;
  message: string;
}

export interface RowRules {
  usernamePattern: RegExp;
  passwordMinLength: number;
  maxListItems: number;
  /** Role keys that exist. */
  roles: ReadonlySet<string>;
  /** Group keys that exist. */
  groups: ReadonlySet<string>;
  createMissingGroups: boolean;
  /** The clear marker as `clearMarkerKey` makes it; undefined when clearing is off. */
  clearMarker?: string | undefined;
  /** safety.protectedUsers (protectedUserMatcher); undefined when none are configured. */
  isProtectedUser?: ((username: string) => boolean) | undefined;
}

/** Columns the clear marker empties. */
const CLEARABLE: ReadonlySet<ColumnKey> = new Set(['email', 'phone', 'department', 'roles', 'groups']);

/** How `import.clearMarker` is matched: trimmed, case-insensitive; an empty marker turns clearing off. */
export function clearMarkerKey(marker: string): string | undefined {
  const key = marker.trim().normalize('NFC').toLowerCase();
  return key === '' ? undefined : key;
}

const LIMITS: Partial<Record<ColumnKey, number>> = {
  name: 255,
  department: MAX_NAME_LENGTH,
  phone: 64,
  password: 1024,
};

export type RowCheck = { ok: true; intent: RowIntent } | { ok: false; username: string; problems: RowProblem[] };

/**
 * Validates a row. `seen` maps usernames already taken by earlier rows of the same file to their
 * row number; a valid row adds itself (a failed row does not claim its username).
 */
export function checkRow(raw: RawRow, rules: RowRules, seen: SeenUsernames): RowCheck {
  const problems: RowProblem[] = [];
  const problem = (code: string, message: string) => problems.push({ code, message });
  const marker = rules.clearMarker;
  // Cells arrive trimmed and NFC (src/xlsx/sheet/cell-to-text.ts): only a cell of the marker's length is compared.
  const isMarker = (value: string): boolean =>
    marker !== undefined && value.length === marker.length && value.toLowerCase() === marker;
  /** A cell's text; the marker in a column that cannot be cleared is a problem (and reads as blank). */
  const text = (key: ColumnKey): string | undefined => {
    const value = cellText(raw.cells[COLUMN_INDEX[key]], key, problems);
    if (value === undefined || CLEARABLE.has(key) || !isMarker(value)) return value;
    problem(
      'ROW_CANNOT_CLEAR',
      `${TEMPLATE_HEADERS[key]} cannot be cleared with "${marker}": ${NOT_CLEARABLE[key as keyof typeof NOT_CLEARABLE]}; leave the cell blank to keep the stored value (only E-mail, Phone, Department, Roles and User group can be cleared).`,
    );
    return undefined;
  };
  /** A clearable cell: its text, null for the marker, undefined when blank. */
  const clearable = (key: ColumnKey): string | null | undefined => {
    const value = cellText(raw.cells[COLUMN_INDEX[key]], key, problems);
    return value !== undefined && isMarker(value) ? null : value;
  };

  const usernameText = text('username');
  const username = usernameText === undefined ? '' : normaliseUsername(usernameText);
  const usernameCell = raw.cells[COLUMN_INDEX.username];
  // A protected user's row fails whatever else it says, even if it would change nothing (SPEC §9);
  // it claims no username, so a second row for the same user fails the same way.
  if (username && rules.isProtectedUser?.(username))
    return { ok: false, username, problems: [{ code: 'ROW_PROTECTED_USER', message: protectedUserMessage(username) }] };
  if (!username) {
    // A cell refused for its characters already has its problem; only a blank one is "empty".
    if (usernameCell === undefined || usernameCell === '')
      problem('ROW_USERNAME_MISSING', 'The Username cell is empty.');
  } else if (!isValidUsername(username, rules.usernamePattern)) {
    const shown = username.length > 80 ? `${username.slice(0, 77)}…` : username;
    problem(
      'ROW_USERNAME_INVALID',
      `Username "${shown}" is not allowed: use 1–64 letters, digits and . _ @ - (not starting with -; import.usernamePattern).`,
    );
  } else {
    const first = seen.get(username);
    if (first !== undefined)
      problem(
        'ROW_DUPLICATE_USERNAME',
        `Username "${username}" is a duplicate of row ${first}; keep one row per user.`,
      );
  }

  const intent: RowIntent = { row: raw.row, username };
  const name = text('name');
  if (name !== undefined) intent.name = name;

  const password = text('password');
  if (password !== undefined) {
    if (textLength(password) < rules.passwordMinLength) {
      problem(
        'ROW_PASSWORD_TOO_SHORT',
        `The password is shorter than ${rules.passwordMinLength} characters; use a longer one or leave the cell blank.`,
      );
    } else intent.password = password;
  }

  const department = clearable('department');
  if (department === null) intent.department = null;
  else if (department !== undefined) {
    // The key is lower-cased, which can lengthen it (İ → i̇): it must fit the column too.
    if (textLength(catalogKey(department)) > MAX_NAME_LENGTH)
      problem('ROW_VALUE_TOO_LONG', `The Department cell is longer than ${MAX_NAME_LENGTH} characters.`);
    else intent.department = { name: cleanCatalogName(department), key: catalogKey(department) };
  }

  const email = clearable('email');
  if (email === null) intent.email = null;
  else if (email !== undefined) {
    const normalised = normaliseEmail(email);
    if (normalised === undefined)
      problem(
        'ROW_INVALID_EMAIL',
        `"${email.slice(0, 80)}" is not a valid e-mail address; write it as name@example.com or leave the cell blank.`,
      );
    else intent.email = normalised;
  }

  const phone = clearable('phone');
  if (phone !== undefined) intent.phone = phone;

  for (const key of ['active', 'ignoreMfa'] as const) {
    const value = text(key);
    if (value === undefined) continue;
    const parsed = parseYesNo(value);
    if (parsed === undefined)
      problem(
        'ROW_INVALID_YES_NO',
        `${TEMPLATE_HEADERS[key]} is "${value.slice(0, 40)}"; write Yes or No (or leave it blank to keep the stored value).`,
      );
    else intent[key] = parsed;
  }

  const rolesCell = clearable('roles');
  const roles = rolesCell === null ? [] : listCell(rolesCell, 'Roles', rules.maxListItems, problem);
  if (roles) {
    const unknown = roles.filter((r) => !rules.roles.has(r.key));
    if (unknown.length > 0) {
      const names = unknown.map((r) => `"${r.name}"`).join(', ');
      problem(
        'ROW_UNKNOWN_ROLE',
        `Unknown role${unknown.length > 1 ? 's' : ''} ${names}; create ${unknown.length > 1 ? 'them' : 'it'} with \`usersync roles add ${unknown.map((r) => quoteArg(r.name)).join(' ')}\` or fix the spelling.`,
      );
    } else intent.roles = roles.map((r) => r.key);
  }

  const groupsCell = clearable('groups');
  const groups = groupsCell === null ? [] : listCell(groupsCell, 'User group', rules.maxListItems, problem);
  if (groups) {
    const unknown = rules.createMissingGroups ? [] : groups.filter((g) => !rules.groups.has(g.key));
    if (unknown.length > 0) {
      const names = unknown.map((g) => `"${g.name}"`).join(', ');
      problem(
        'ROW_UNKNOWN_GROUP',
        `Unknown user group${unknown.length > 1 ? 's' : ''} ${names}; create ${unknown.length > 1 ? 'them' : 'it'} with \`usersync groups add ${unknown.map((g) => quoteArg(g.name)).join(' ')}\`, set import.createMissingGroups, or fix the spelling.`,
      );
    } else intent.groups = groups;
  }

  if (problems.length > 0) return { ok: false, username, problems };
  seen.set(username, raw.row);
  return { ok: true, intent };
}

/** Why a column cannot be cleared, for the row's message. */
const NOT_CLEARABLE = {
  name: 'every user has a name',
  username: 'it names the user',
  password: 'a user without a password is not how to stop a sign-in (set Active to No)',
  active: 'it is always Yes or No',
  ignoreMfa: 'it is always Yes or No',
} as const satisfies Record<Exclude<ColumnKey, 'email' | 'phone' | 'department' | 'roles' | 'groups'>, string>;

/**
 * A cell's text, or undefined when blank; records a problem for error cells and bad text.
 * Runs for every cell of every row: the common case (plain text) takes no regular expression
 * beyond the control-character check, and allocates nothing.
 */
function cellText(cell: CellValue | undefined, key: ColumnKey, problems: RowProblem[]): string | undefined {
  if (cell === undefined) return undefined;
  if (typeof cell !== 'string') {
    const header = TEMPLATE_HEADERS[key];
    if (cell.tooLong) {
      problems.push({ code: 'ROW_VALUE_TOO_LONG', message: `The ${header} cell is ${cell.error}; shorten it.` });
      return undefined;
    }
    problems.push({
      code: 'ROW_CELL_ERROR',
      message: `The ${header} cell holds ${cell.error.startsWith('#') ? `the error ${cell.error}` : cell.error}; fix it in the spreadsheet (or paste values) and import again.`,
    });
    return undefined;
  }
  if (cell === '') return undefined;
  // Our own reports escape formula-like text with a leading ' (OWASP); a Failed rows sheet
  // dropped back in must read as what HR typed.
  if (cell.charCodeAt(0) === 39 /* ' */ && /^'[=+\-@\t\r]/.test(cell)) cell = cell.slice(1);
  // Line breaks separate list items; everywhere else control characters are refused.
  const checked =
    (key === 'roles' || key === 'groups') && (cell.includes('\n') || cell.includes('\r'))
      ? cell.replace(/[\r\n]/g, ',')
      : cell;
  const bad = key === 'password' ? undefined : forbiddenCharacter(checked);
  if (bad) {
    problems.push({
      code: 'ROW_INVALID_VALUE',
      message: `The ${TEMPLATE_HEADERS[key]} cell contains the invisible control character ${bad}; retype the value.`,
    });
    return undefined;
  }
  const limit = LIMITS[key];
  if (limit !== undefined && cell.length > limit && textLength(cell) > limit) {
    problems.push({
      code: 'ROW_VALUE_TOO_LONG',
      message: `The ${TEMPLATE_HEADERS[key]} cell is ${textLength(cell)} characters long; the limit is ${limit}.`,
    });
    return undefined;
  }
  return cell;
}

function listCell(
  value: string | undefined,
  header: string,
  max: number,
  problem: (code: string, message: string) => void,
): readonly ListItem[] | undefined {
  if (value === undefined) return undefined;
  const items = splitList(value);
  if (items.length === 0) {
    problem(
      'ROW_INVALID_VALUE',
      `The ${header} cell has separators but no names; list names separated by , or ; (or leave it blank to keep the stored ones).`,
    );
    return undefined;
  }
  if (items.length > max) {
    problem(
      'ROW_VALUE_TOO_LONG',
      `The ${header} cell lists ${items.length} names; at most ${max} are allowed (import.maxListItems).`,
    );
    return undefined;
  }
  if (items.some((item) => textLength(item.key) > MAX_NAME_LENGTH || textLength(item.name) > MAX_NAME_LENGTH)) {
    problem('ROW_VALUE_TOO_LONG', `A name in the ${header} cell is longer than ${MAX_NAME_LENGTH} characters.`);
    return undefined;
  }
  return items;
}

/** Quotes a name for a copy-pasteable shell command. */
function quoteArg(name: string): string {
  return /^[\w.@-]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
}

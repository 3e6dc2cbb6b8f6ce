/**
 * The ten columns of the import template (SPEC §1), in template order, and the shapes rows
 * travel in between the stages.
 */

/** Column keys in template order; also the field names used in reports (`changes`). */
export const COLUMN_KEYS = [
  'name',
  'username',
  'password',
  'department',
  'email',
  'phone',
  'active',
  'ignoreMfa',
  'roles',
  'groups',
] as const;

export type ColumnKey = (typeof COLUMN_KEYS)[number];

/** The header text the template writes for each column. */
export const TEMPLATE_HEADERS: Readonly<Record<ColumnKey, string>> = {
  name: 'Name',
  username: 'Username',
  password: 'Password',
  department: 'Department',
  email: 'E-mail',
  phone: 'Phone',
  active: 'Active',
  ignoreMfa: 'Ignore MFA',
  roles: 'Roles',
  groups: 'User group',
};

/**
 * One cell after reading: its text (trimmed, '' when blank), or a spreadsheet error that fails the
 * row (`#N/A`, or a formula without a saved result).
 */
export type CellValue = string | { readonly error: string; readonly tooLong?: true };

/** The CellValue of a cell longer than import.maxCellChars: the row fails as too long, not as an error cell. */
export const tooLongCell = (limit: number): CellValue => ({
  error: `a value longer than ${limit} characters (import.maxCellChars)`,
  tooLong: true,
});

/**
 * One data row as read from the file. `cells` is indexed like COLUMN_KEYS; a column the file does
 * not have is `undefined` (and so is a blank cell: both mean "keep the stored value").
 */
export interface RawRow {
  /** The spreadsheet row number (1-based, as Excel shows it; for CSV the line's record number). */
  readonly row: number;
  readonly cells: ReadonlyArray<CellValue | undefined>;
}

/** Position of a column in `RawRow.cells`. */
export const COLUMN_INDEX: Readonly<Record<ColumnKey, number>> = Object.fromEntries(
  COLUMN_KEYS.map((key, index) => [key, index]),
) as Record<ColumnKey, number>;

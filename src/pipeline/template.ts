/**
 * `usersync template`: the import template `import_users.xlsx` (SPEC §1). A "Users" sheet with
 * just the header row, so the file can be filled in and dropped straight into the inbox, and an
 * "Instructions" sheet that explains every column, with an example row.
 *
 * Written with the full (non-streaming) Workbook: it is small, and data validations are written
 * the same way by both writers, but the full one is the path exceljs' own tests cover.
 */
import ExcelJS from 'exceljs';
import { COLUMN_KEYS, TEMPLATE_HEADERS, type ColumnKey } from '../domain/columns.js';
import { patchWorkbookWriter } from '../xlsx/index.js';
import { writeAtomically } from './report/atomic-file.js';
import { escapeCell } from './report/escape-cell.js';

// Before any exceljs writer runs: it corrupts characters beyond the BMP otherwise (src/xlsx/patches/).
patchWorkbookWriter();

/** What the template can tell HR about this installation. */
export interface TemplateOptions {
  /** Existing roles, listed on the Instructions sheet. */
  roles?: string[];
  /** Existing user groups, listed on the Instructions sheet. */
  groups?: string[];
  /** `import.passwordMinLength` (default 8). */
  passwordMinLength?: number;
  /** `import.maxRows` (default 1,000,000). */
  maxRows?: number;
  /** `import.clearMarker` (default `(clear)`; empty: clearing is off and not mentioned). */
  clearMarker?: string;
}

/**
 * Data rows that get the Yes/No drop-down. Not the whole sheet: exceljs' full reader expands a
 * range validation into one entry per cell when it reads a file, so G2:G1048576 would cost
 * millions of objects to anyone reading the template back.
 */
export const TEMPLATE_VALIDATED_ROWS = 10_000;

/** Column widths in template order, so the headers and typical values are readable. */
const WIDTHS: Readonly<Record<ColumnKey, number>> = {
  name: 28,
  username: 20,
  password: 16,
  department: 20,
  email: 30,
  phone: 18,
  active: 10,
  ignoreMfa: 12,
  roles: 28,
  groups: 28,
};

/** Columns that are text (`@`), so Excel keeps 5511987654321 and 00123 as typed. */
const TEXT_COLUMNS: ReadonlySet<ColumnKey> = new Set([
  'name',
  'username',
  'password',
  'department',
  'email',
  'phone',
  'roles',
  'groups',
]);

const YES_NO: ExcelJS.DataValidation = {
  type: 'list',
  allowBlank: true,
  formulae: ['"Yes,No"'],
  showErrorMessage: true,
  // A warning, not a stop: the importer also accepts Y/N, True/False, 1/0 and Sim/Não.
  errorStyle: 'warning',
  errorTitle: 'Yes or No',
  error: 'Write Yes or No, or leave the cell blank to keep the stored value.',
};

/** exceljs 4.4.0 has `worksheet.dataValidations` (a range-keyed map) at runtime but not in its typings. */
interface WithDataValidations {
  dataValidations: { add(range: string, validation: ExcelJS.DataValidation): void };
}

const BOLD: Partial<ExcelJS.Font> = { bold: true };
const HEADER_FILL: ExcelJS.Fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE7E6E6' } };

/** One line per column: required?, meaning, accepted values, what a blank cell does. */
function columnHelp(key: ColumnKey, minLength: number): [string, string, string, string] {
  const keep = 'Keeps the stored value';
  const list = 'separated by a comma, semicolon or line break; replaces the user\u2019s current list';
  switch (key) {
    case 'name':
      return ['Yes, for a new user', 'Full name', 'Any text', `${keep} (a new user must have one)`];
    case 'username':
      return [
        'Always',
        'The login; decides whether the user is created or updated',
        '1\u201364 letters, digits and . _ @ - (compared in lower case)',
        'The row fails',
      ];
    case 'password':
      return [
        'No',
        'Sets a new password (stored only as a hash)',
        `At least ${minLength} characters`,
        'The password is not changed',
      ];
    case 'department':
      return ['No', 'Department', 'Any name; created if it does not exist yet', keep];
    case 'email':
      return ['No', 'E-mail address', 'A valid address, such as name@example.com', keep];
    case 'phone':
      return ['No', 'Phone number', 'Kept exactly as typed', keep];
    case 'active':
      return [
        'No',
        'Whether the user may sign in',
        'Yes or No (also Y/N, True/False, 1/0, Sim/N\u00e3o)',
        `${keep}; a new user gets Yes`,
      ];
    case 'ignoreMfa':
      return ['No', 'Skip multi-factor authentication for this user', 'Yes or No', `${keep}; a new user gets No`];
    case 'roles':
      return ['No', 'What the user may do', `One or more existing roles, ${list}`, keep];
    case 'groups':
      return ['No', 'The user groups the user belongs to', `One or more existing user groups, ${list}`, keep];
  }
}

/**
 * The Instructions sheet's example row. Invariant: it imports cleanly on a fresh directory with the
 * shipped catalogue (config/default.json's catalog.roles and catalog.groups name its role and group).
 */
export const TEMPLATE_EXAMPLE: Readonly<Record<ColumnKey, string>> = {
  name: 'Maria Silva',
  username: 'msilva',
  password: '',
  department: 'Finance',
  email: 'maria.silva@example.com',
  phone: '5511987654321',
  active: 'Yes',
  ignoreMfa: 'No',
  roles: 'Auditor',
  groups: 'Finance',
};

function addUsersSheet(workbook: ExcelJS.Workbook): void {
  const sheet = workbook.addWorksheet('Users', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = COLUMN_KEYS.map((key) => ({
    width: WIDTHS[key],
    ...(TEXT_COLUMNS.has(key) ? { style: { numFmt: '@' } } : {}),
  }));
  const header = sheet.getRow(1);
  header.values = COLUMN_KEYS.map((key) => escapeCell(TEMPLATE_HEADERS[key]));
  header.eachCell((cell) => {
    cell.font = BOLD;
    cell.fill = HEADER_FILL;
  });
  const last = TEMPLATE_VALIDATED_ROWS + 1;
  for (const key of ['active', 'ignoreMfa'] as const) {
    const column = String.fromCharCode(65 + COLUMN_KEYS.indexOf(key));
    (sheet as unknown as WithDataValidations).dataValidations.add(`${column}2:${column}${last}`, YES_NO);
  }
}

function addInstructionsSheet(workbook: ExcelJS.Workbook, options: TemplateOptions): void {
  const minLength = options.passwordMinLength ?? 8;
  const maxRows = options.maxRows ?? 1_000_000;
  const sheet = workbook.addWorksheet('Instructions');
  sheet.columns = [
    { width: 16 },
    { width: 22 },
    { width: 44 },
    { width: 56 },
    { width: 40 },
    ...Array(5).fill({ width: 16 }),
  ];
  const line = (cells: string[], bold = false): void => {
    const row = sheet.addRow(cells.map(escapeCell));
    row.alignment = { vertical: 'top', wrapText: true };
    if (bold) row.font = BOLD;
  };
  const gap = (): void => void sheet.addRow([]);

  sheet.addRow(['How to fill in the import template']).font = { bold: true, size: 14 };
  line([
    'Fill in one row per user on the Users sheet, starting at row 2. Keep the header row; extra columns are ignored.',
  ]);
  line(['The Username decides everything: a new username creates a user, an existing one updates that user.']);
  line([
    'A blank cell keeps the value already stored for an existing user; leaving a cell empty never erases anything.',
  ]);
  const marker = (options.clearMarker ?? '(clear)').trim();
  if (marker)
    line([
      `To empty E-mail, Phone, Department, Roles or User group on purpose, write ${marker} in the cell (Roles / User group: removes every one).`,
    ]);
  gap();
  line(['Column', 'Required', 'Meaning', 'Accepted values', 'Blank cell'], true);
  for (const key of COLUMN_KEYS) line([TEMPLATE_HEADERS[key], ...columnHelp(key, minLength)]);
  gap();
  line(['Example row'], true);
  line(
    COLUMN_KEYS.map((key) => TEMPLATE_HEADERS[key]),
    true,
  );
  line(COLUMN_KEYS.map((key) => TEMPLATE_EXAMPLE[key]));
  gap();
  line(['Limits'], true);
  line([
    `Passwords: at least ${minLength} characters. Files: at most ${maxRows.toLocaleString('en-US')} rows; split larger lists.`,
  ]);
  gap();
  line(['How to use the inbox'], true);
  line(['1. Save the file as an Excel workbook (.xlsx); .csv also works. Old .xls files are not read.']);
  line(['2. Copy it into the inbox folder. It is picked up a few seconds after it stops changing.']);
  line([
    '3. It then moves to archive/ (every row applied) or error/ (rejected, or some rows failed), with a report beside it.',
  ]);
  line([
    '4. Open the report (.report.xlsx): its "Failed rows" sheet lists the rows to fix, in this layout; fix them and drop that file in again.',
  ]);
  line(['5. Importing the same file again is safe: users that did not change are left untouched.']);
  for (const [title, names] of [
    ['Existing roles', options.roles],
    ['Existing user groups', options.groups],
  ] as const) {
    if (!names) continue;
    gap();
    line([title], true);
    if (names.length === 0) line(['(none yet)']);
    for (const name of names) line([name]);
  }
}

/**
 * Writes the import template to `filePath` (atomically, via `filePath.tmp`; an existing file is
 * replaced, so the CLI decides whether to refuse). Mode 0o644: it holds no personal data.
 */
export async function writeTemplate(filePath: string, options: TemplateOptions = {}): Promise<void> {
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'usersync';
  addUsersSheet(workbook);
  addInstructionsSheet(workbook, options);
  const buffer = await workbook.xlsx.writeBuffer();
  await writeAtomically(filePath, async (handle) => handle.writeFile(new Uint8Array(buffer)), 0o644);
}

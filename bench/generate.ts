/**
 * Deterministic bench inputs: the template's ten columns, row i always the same values, so every
 * run on every machine reads the same bytes. `changedEvery` alters one row in N (the 10%-changed
 * variant); `passwords` fills the Password column.
 */
import ExcelJS from 'exceljs';

export interface GenerateOptions {
  rows: number;
  /** When set, row i with i % changedEvery === 0 gets a different phone and department. */
  changedEvery?: number;
  passwords?: boolean;
}

const HEADER = [
  'Name',
  'Username',
  'Password',
  'Department',
  'E-mail',
  'Phone',
  'Active',
  'Ignore MFA',
  'Roles',
  'User group',
];

export function benchRow(i: number, options: Omit<GenerateOptions, 'rows'> = {}): Array<string | null> {
  const changed = options.changedEvery !== undefined && i % options.changedEvery === 0;
  return [
    `Person ${i} Surname`,
    `user${i}`,
    options.passwords ? `pw-${i}-correct-horse` : null,
    changed ? `Changed Dept ${i % 7}` : `Department ${i % 200}`,
    `user${i}@example.com`,
    changed ? `5521${String(i).padStart(9, '0')}` : `5511${String(i).padStart(9, '0')}`,
    i % 10 === 0 ? 'No' : 'Yes',
    i % 25 === 0 ? 'Yes' : 'No',
    i % 3 === 0 ? 'Auditor; Operator' : 'Viewer',
    i % 2 === 0 ? 'IT' : 'Sales',
  ];
}

/** Writes the file with exceljs' streaming writer and shared strings, as Excel itself stores text. */
export async function generateWorkbook(file: string, options: GenerateOptions): Promise<void> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: true, useStyles: false });
  const sheet = workbook.addWorksheet('Users');
  sheet.addRow(HEADER).commit();
  for (let i = 0; i < options.rows; i++) sheet.addRow(benchRow(i, options)).commit();
  sheet.commit();
  await workbook.commit();
}

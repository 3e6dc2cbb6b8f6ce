/**
 * Writes the sample user lists in inbox.example/ (committed; run again after changing them).
 * They use only the starter catalogue of config/default.json, so they import on a fresh install.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'inbox.example');
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

async function write(name: string, rows: Array<Array<string | boolean | null>>): Promise<void> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('Users');
  sheet.addRow(HEADER).font = { bold: true };
  for (const row of rows) sheet.addRow(row);
  sheet.columns.forEach((column) => (column.width = 22));
  await workbook.xlsx.writeFile(path.join(here, name));
}

await write('users.xlsx', [
  [
    'Ana Silva',
    'ana.silva',
    null,
    'Finance',
    'ana.silva@example.com',
    '5511987654321',
    'Yes',
    'No',
    'Auditor',
    'Finance',
  ],
  [
    'Bruno Costa',
    'bruno.costa',
    null,
    'IT',
    'bruno.costa@example.com',
    '+55 11 91234-5678',
    'Yes',
    'No',
    'Administrator; Operator',
    'IT',
  ],
  ['Carla Dias', 'carla.dias', null, 'Human Resources', 'carla.dias@example.com', null, 'Yes', 'Yes', 'Viewer', 'HR'],
  [
    'Diego Ramos',
    'diego.ramos',
    null,
    'Sales',
    'diego.ramos@example.com',
    '00441632960000',
    'No',
    'No',
    'Viewer',
    'Sales',
  ],
  ['José Ñúñez', 'jose.nunez', null, 'IT', 'jose.nunez@example.com', null, 'Yes', 'No', 'Operator', 'IT, Sales'],
]);
await write('users-with-errors.xlsx', [
  [
    'Elisa Moreira',
    'elisa.moreira',
    null,
    'Finance',
    'elisa.moreira@example.com',
    null,
    'Yes',
    'No',
    'Auditor',
    'Finance',
  ],
  ['Fábio Lima', 'fabio lima', null, 'IT', 'fabio@example.com', null, 'Yes', 'No', 'Viewer', 'IT'],
  ['Gabriela Rocha', 'gabriela.rocha', null, 'Sales', 'gabriela.rocha@example', null, 'Maybe', 'No', 'Viewer', 'Sales'],
  [null, 'new.person.without.name', null, 'Sales', null, null, null, null, null, null],
  ['Hugo Alves', 'hugo.alves', null, 'IT', 'hugo.alves@example.com', null, 'Yes', 'No', 'Superuser', 'Marketing'],
  ['Elisa Again', 'ELISA.MOREIRA', null, null, null, null, null, null, null, null],
]);
process.stdout.write(`wrote ${here}/users.xlsx and users-with-errors.xlsx\n`);

import ExcelJS from 'exceljs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { catalogKey } from '../../src/domain/catalog-name.js';
import { COLUMN_KEYS, TEMPLATE_HEADERS } from '../../src/domain/columns.js';
import { checkRow } from '../../src/domain/row-intent.js';
import { compileUsernamePattern } from '../../src/domain/username.js';
import { TEMPLATE_VALIDATED_ROWS, writeTemplate } from '../../src/pipeline/template.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-template-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One zip entry as text. */
async function zipEntry(file: string, name: string): Promise<string> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true }, (error, opened) => (error ? reject(error) : resolve(opened))),
  );
  return new Promise<string>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entry.fileName !== name) return zip.readEntry();
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          zip.close();
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
    });
    zip.on('end', () => reject(new Error(`${name} not in ${file}`)));
    zip.readEntry();
  });
}

async function writeAndRead(
  options?: Parameters<typeof writeTemplate>[1],
): Promise<{ file: string; book: ExcelJS.Workbook }> {
  const file = join(dir, 'import_users.xlsx');
  await writeTemplate(file, options);
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  return { file, book };
}

function texts(ws: ExcelJS.Worksheet): string[] {
  const out: string[] = [];
  ws.eachRow((row) => row.eachCell((cell) => out.push(String(cell.value))));
  return out;
}

describe('writeTemplate', () => {
  it('has a Users sheet with only the ten headers, in order, bold and frozen', async () => {
    const { book } = await writeAndRead();
    expect(book.worksheets.map((ws) => ws.name)).toEqual(['Users', 'Instructions']);
    const users = book.getWorksheet('Users');
    expect(users).toBeDefined();
    if (!users) return;
    expect((users.getRow(1).values as unknown[]).slice(1)).toEqual([
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
    ]);
    expect((users.getRow(1).values as unknown[]).slice(1)).toEqual(Object.values(TEMPLATE_HEADERS));
    expect(users.actualRowCount).toBe(1);
    expect(users.getRow(1).getCell(1).font?.bold).toBe(true);
    expect(users.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
  });

  it('formats Username, Password and Phone as text so Excel keeps phone numbers as typed', async () => {
    const { book } = await writeAndRead();
    const users = book.getWorksheet('Users');
    for (const letter of ['B', 'C', 'F']) expect(users?.getColumn(letter).numFmt).toBe('@');
    expect(users?.getColumn('G').numFmt).toBeUndefined();
  });

  it('offers Yes/No drop-downs on Active and Ignore MFA as one range each', async () => {
    const { file, book } = await writeAndRead();
    const xml = await zipEntry(file, 'xl/worksheets/sheet1.xml');
    const last = TEMPLATE_VALIDATED_ROWS + 1;
    for (const column of ['G', 'H']) {
      expect(xml).toContain(`sqref="${column}2:${column}${last}"`);
    }
    expect(xml.match(/<dataValidation /g)).toHaveLength(2);
    expect(xml).toContain('<formula1>&quot;Yes,No&quot;</formula1>');
    const model = (
      book.getWorksheet('Users') as unknown as { dataValidations: { model: Record<string, ExcelJS.DataValidation> } }
    ).dataValidations.model;
    expect(model.G2).toMatchObject({ type: 'list', allowBlank: true, formulae: ['"Yes,No"'] });
    expect(model[`H${last}`]).toMatchObject({ type: 'list' });
    expect(model.F2).toBeUndefined();
  });

  it('explains every column, the limits and the inbox, with an example row', async () => {
    const { book } = await writeAndRead({ passwordMinLength: 12, maxRows: 500_000 });
    const instructions = book.getWorksheet('Instructions');
    expect(instructions).toBeDefined();
    if (!instructions) return;
    const all = texts(instructions);
    for (const header of Object.values(TEMPLATE_HEADERS)) expect(all).toContain(header);
    expect(all).toContain('At least 12 characters');
    expect(all.some((text) => text.includes('500,000 rows'))).toBe(true);
    expect(all.some((text) => text.includes('inbox'))).toBe(true);
    expect(all.some((text) => /blank cell keeps the value/i.test(text))).toBe(true);
    expect(all).toContain('msilva');
  });

  it('gives an example row that passes the row rules with the shipped catalogue (config/default.json)', async () => {
    const { book } = await writeAndRead();
    const rows: string[][] = [];
    book
      .getWorksheet('Instructions')
      ?.eachRow((row) =>
        rows.push((row.values as unknown[]).slice(1).map((v) => (v === undefined || v === null ? '' : String(v)))),
      );
    const at = rows.findIndex((cells) => cells[0] === 'Example row');
    expect(rows[at + 1]).toEqual(Object.values(TEMPLATE_HEADERS));
    const example = rows[at + 2] ?? [];
    expect(example[COLUMN_KEYS.indexOf('groups')]).toBe('Finance');
    const config = loadConfig({ cwd: dir, env: {} });
    const checked = checkRow(
      { row: 2, cells: COLUMN_KEYS.map((_, i) => example[i] ?? '') },
      {
        usernamePattern: compileUsernamePattern(config.import.usernamePattern),
        passwordMinLength: config.import.passwordMinLength,
        maxListItems: config.import.maxListItems,
        roles: new Set(config.catalog.roles.map(catalogKey)),
        groups: new Set(config.catalog.groups.map(catalogKey)),
        createMissingGroups: false,
      },
      new Map(),
    );
    expect(checked).toMatchObject({
      ok: true,
      intent: { username: 'msilva', roles: ['auditor'], groups: [{ key: 'finance' }] },
    });
  });

  it('tells how to empty a field with the clear marker, and says nothing of it when clearing is off', async () => {
    const says = (all: string[]) =>
      all.some((text) => text.includes('To empty E-mail, Phone, Department, Roles or User group'));
    const withDefault = texts((await writeAndRead()).book.getWorksheet('Instructions')!);
    expect(withDefault.find((text) => text.startsWith('To empty'))).toContain('write (clear) in the cell');
    const withDash = texts((await writeAndRead({ clearMarker: ' - ' })).book.getWorksheet('Instructions')!);
    expect(withDash.find((text) => text.startsWith('To empty'))).toContain('write - in the cell');
    expect(says(texts((await writeAndRead({ clearMarker: '' })).book.getWorksheet('Instructions')!))).toBe(false);
  });

  it('lists the existing roles and groups, escaping formula-like names', async () => {
    const { book } = await writeAndRead({ roles: ['Auditor', '=1+1'], groups: [] });
    const instructions = book.getWorksheet('Instructions');
    const all = instructions ? texts(instructions) : [];
    expect(all).toContain('Existing roles');
    expect(all).toContain('Auditor');
    expect(all).toContain("'=1+1");
    expect(all).toContain('Existing user groups');
    expect(all).toContain('(none yet)');
  });

  it('leaves no temp file behind', async () => {
    await writeAndRead();
    expect(await readdir(dir)).toEqual(['import_users.xlsx']);
  });
});

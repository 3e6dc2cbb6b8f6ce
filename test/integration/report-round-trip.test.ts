/**
 * The report round trip HR is invited to make: open the report, fix the Failed rows sheet, drop
 * the report back in. And what a re-import of the same content says about itself.
 *
 * The first file's rows, and what each must become on the Failed rows sheet:
 * - row 2 `ana`, applied;
 * - row 3 `ANA` again (a duplicate): not listed, so importing the sheet cannot overwrite `ana`;
 * - row 4 `bo`, a password and a formula without a saved result as e-mail: the e-mail cell left
 *   blank (not our description of it), Error saying so and asking for the password again;
 * - row 5 `cy`, `#N/A` as e-mail: the cell left blank, Error naming the #N/A;
 * - row 6 `di`, an invalid e-mail: listed as typed, "Row 6:" once in Error.
 */
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, userRow, writeXlsx } from '../fixtures/build.js';

/** A sheet's rows as arrays of cell values (index 0 = column A); missing cells are null. */
async function sheetRows(file: string, name: string): Promise<unknown[][] | undefined> {
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  const sheet = book.getWorksheet(name);
  if (!sheet) return undefined;
  const rows: unknown[][] = [];
  sheet.eachRow((row) =>
    rows.push(Array.from({ length: sheet.columnCount }, (_, i) => row.getCell(i + 1).value ?? null)),
  );
  return rows;
}

describeEachDatabase('report round trip', (database) => {
  let pipe: TestPipeline;
  let dir: string;
  beforeAll(async () => {
    pipe = await createTestPipeline(database().url);
    dir = fixtureDir('usersync-round-trip-');
  });
  afterAll(async () => pipe?.close());

  const user = (username: string) =>
    pipe.db.knex('users').where('username', username).first() as Promise<Record<string, unknown> | undefined>;
  let firstImportId: number;
  let firstReportXlsx: string;

  it('lists failed rows for re-import without duplicates, error values or a doubled "Row N:"', async () => {
    const file = await writeXlsx(path.join(dir, 'staff.xlsx'), [
      TEMPLATE,
      userRow({ name: 'Ana Silva', username: 'ana', email: 'ana@example.com' }),
      userRow({ name: 'Ana Impostor', username: 'ANA', email: 'impostor@example.com', roles: 'Administrator' }),
      userRow({
        name: 'Bo Lind',
        username: 'bo',
        password: 'bo-secret-pass',
        email: { formula: 'LOWER(B4)&"@example.com"' } as ExcelJS.CellValue,
      }),
      userRow({ name: 'Cy Twombly', username: 'cy', email: { error: '#N/A' } as ExcelJS.CellValue }),
      userRow({ name: 'Di Prima', username: 'di', email: 'di at example' }),
    ]);
    const result = await pipe.run(file);
    expect(result.exitCode).toBe(1);
    firstImportId = result.summary.importId!;
    firstReportXlsx = result.reports.xlsxPath;
    const report = pipe.report(result);
    expect(report.rows.map((r) => [r.row, r.status, r.code ?? null])).toEqual([
      [2, 'created', null],
      [3, 'failed', 'ROW_DUPLICATE_USERNAME'],
      [4, 'failed', 'ROW_CELL_ERROR'],
      [5, 'failed', 'ROW_CELL_ERROR'],
      [6, 'failed', 'ROW_INVALID_EMAIL'],
    ]);

    const failed = (await sheetRows(firstReportXlsx, 'Failed rows'))!;
    const [header, ...listed] = failed;
    expect(header).toEqual([...TEMPLATE, 'Error']);
    const cell = (row: unknown[] | undefined, column: string) => row?.[TEMPLATE.indexOf(column)] ?? null;
    expect(listed.map((row) => cell(row, 'Username'))).toEqual(['bo', 'cy', 'di']);
    const [bo, cy, di] = listed;
    const error = (row: unknown[] | undefined) => String(row?.[TEMPLATE.length]);
    expect(cell(bo, 'E-mail')).toBeNull();
    expect(cell(bo, 'Password')).toBeNull();
    expect(error(bo)).toMatch(/^Row 4: The E-mail cell holds a formula without a saved result;/);
    expect(error(bo)).toContain('E-mail is left blank here');
    expect(error(bo)).toContain('Re-enter the password');
    expect(cell(cy, 'E-mail')).toBeNull();
    expect(error(cy)).toMatch(/^Row 5: The E-mail cell holds the error #N\/A;.* E-mail is left blank here/);
    expect(error(cy)).not.toContain('password');
    expect(cell(di, 'E-mail')).toBe('di at example');
    expect(error(di)).toMatch(/^Row 6: "di at example" is not a valid e-mail address/);
    for (const row of listed) expect(error(row)).not.toMatch(/Row \d+: Row/);

    const summary = new Map((await sheetRows(firstReportXlsx, 'Summary'))!.map((row) => [row[0], row[1]]));
    expect(summary.get('Failed rows')).toMatch(
      /"Failed rows" sheet.* 1 row repeats the username of an earlier row and is listed on the Rows sheet only/,
    );
    const rowsSheet = (await sheetRows(firstReportXlsx, 'Rows'))!;
    expect(rowsSheet.find((row) => row[0] === 3)).toEqual([
      3,
      'ana',
      'failed',
      null,
      'Username "ana" is a duplicate of row 2; keep one row per user.',
    ]);
  });

  it('imports the report dropped back in from its Failed rows sheet, never touching the user a duplicate named', async () => {
    const before = await user('ana');
    const result = await pipe.run(firstReportXlsx);
    const report = pipe.report(result);
    expect(await user('ana')).toEqual(before);
    expect(report.sheetName).toBe('Failed rows');
    expect(report.warnings).toEqual([]);
    expect(report.rows.map((r) => [r.row, r.username, r.status])).toEqual([
      [2, 'bo', 'created'],
      [3, 'cy', 'created'],
      [4, 'di', 'failed'],
    ]);
    expect(path.basename(result.reports.xlsxPath)).toBe('staff.retry.report.xlsx');
    expect(path.basename(result.reports.jsonPath)).toBe('staff.retry.report.json');
    expect(existsSync(path.join(dir, 'staff.report.report.xlsx'))).toBe(false);
  });

  it('says in the warnings when the same content was imported before, and lists unchanged rows in `imports list`', async () => {
    const again = path.join(dir, 'staff-again.xlsx');
    copyFileSync(path.join(dir, 'staff.xlsx'), again);
    const result = await pipe.run(again);
    const report = pipe.report(result);
    expect(report.counts).toMatchObject({ rows: 5, unchanged: 1, failed: 4 });
    expect(report.warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^The same content was imported before, as import #${firstImportId} on \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(staff\\.xlsx\\)`,
        ),
      ),
    ]);
    const summary = new Map((await sheetRows(result.reports.xlsxPath, 'Summary'))!.map((row) => [row[0], row[1]]));
    expect(summary.get('Warning 1')).toBe((report.warnings as string[])[0]);

    const listed = await runUsersync(['imports', 'list'], {
      cwd: makeWorkdir(),
      env: { USERSYNC_DATABASE_URL: database().url },
    });
    expect(listed.code, listed.stderr).toBe(0);
    const [head, ...lines] = listed.stdout.trim().split('\n');
    expect(head?.split(/\s+/)).toEqual([
      'ID',
      'STARTED',
      'FILE',
      'FEED',
      'SOURCE',
      'STATUS',
      'ROWS',
      'CREATED',
      'UPDATED',
      'UNCHANGED',
      'FAILED',
      'DEACTIVATED',
    ]);
    const line = lines.find((l) => l.split(/\s+/)[0] === String(result.summary.importId));
    expect(line?.split(/\s+/).slice(-6)).toEqual(['5', '0', '0', '1', '4', '0']);
  });

  it('does not warn about content never imported before, nor about a rejected import of the same content', async () => {
    const file = await writeXlsx(path.join(dir, 'fresh.xlsx'), [
      TEMPLATE,
      userRow({ name: 'Ed Fresh', username: 'ed' }),
    ]);
    expect(pipe.report(await pipe.run(file)).warnings).toEqual([]);
    const empty = await writeXlsx(path.join(dir, 'header-only.xlsx'), [TEMPLATE]);
    expect(pipe.report(await pipe.run(empty)).outcome).toBe('rejected');
    expect(pipe.report(await pipe.run(empty)).warnings).toEqual([]);
  });
});

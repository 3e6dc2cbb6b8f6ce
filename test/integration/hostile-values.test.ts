/**
 * Hostile cell values (issue 6 item 4): SQL-looking text, formula-like text, bidi overrides,
 * C0/C1 controls, zero-width characters, astral characters, huge cells and lists, over-long
 * usernames and e-mails — imported through the real CLI on both databases.
 *
 * What must hold: allowed values are stored inert and byte-exact (read back from the database and
 * through `users show --json`), the tables survive, values that break a rule fail their own row
 * with a specific ROW_* code and message (and nothing else fails), the limits hold with bounded
 * memory, the xlsx report escapes every formula-like cell and holds no formula at all, and the
 * text tables never pass a control character to the terminal.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import JSZip from 'jszip';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeWorkdir, runUsersync, spawnUsersync, type CliResult } from '../helpers/cli.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, userRow, writeCsv, writeXlsx, type Cell } from '../fixtures/build.js';

/** Characters that must never reach a terminal from a text table (newline excepted). */
const TERMINAL_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
/** Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;
/** Excel's limit of characters in one cell. */
const EXCEL_CELL_LIMIT = 32_767;

const TABLES = [
  'audit_events',
  'departments',
  'imports',
  'roles',
  'user_group_members',
  'user_groups',
  'user_roles',
  'users',
];

/** A user the hostile file must create, with the exact values the directory must then hold. */
interface Stored {
  username: string;
  name?: string;
  email?: string;
  phone?: string;
  department?: string;
  roles?: string[];
}

/** A row that must fail, with its code and a pattern its message must match. */
interface Refused {
  code: string;
  message: RegExp;
  /** A pattern the message must not match (a misleading second reason). */
  not?: RegExp;
}

const literally = (text: string): RegExp => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

interface Case {
  title: string;
  cells: Parameters<typeof userRow>[0];
  expect: Stored | Refused;
}

const LONG_VALID_EMAIL = `${'A'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`; // 254 characters
const USERNAME_10K = 'u'.repeat(10_000);

const CASES: Case[] = [
  // --- Allowed: stored exactly as written, inert. ---
  {
    title: 'SQL-looking name, department and phone',
    cells: {
      name: `'; DROP TABLE users;--`,
      username: 'sql1',
      department: `" OR 1=1 --`,
      phone: '\\x00',
      email: "O'Hara@Example.com",
    },
    expect: {
      username: 'sql1',
      name: `'; DROP TABLE users;--`,
      department: `" OR 1=1 --`,
      phone: '\\x00',
      email: "o'hara@example.com",
    },
  },
  {
    title: 'more SQL: quotes, comments, semicolons, backslashes',
    cells: {
      name: `Robert'); DROP TABLE students;-- \\'`,
      username: 'sql2',
      phone: `1' OR '1'='1`,
      department: '`roles`; DELETE FROM roles; /*',
    },
    expect: {
      username: 'sql2',
      name: `Robert'); DROP TABLE students;-- \\'`,
      phone: `1' OR '1'='1`,
      department: '`roles`; DELETE FROM roles; /*',
    },
  },
  {
    title: 'formula-like name, phone and department',
    cells: {
      name: '=HYPERLINK("http://evil","x")',
      username: 'formula',
      phone: "+cmd|' /C calc'!A0",
      department: '@SUM(1)',
    },
    expect: {
      username: 'formula',
      name: '=HYPERLINK("http://evil","x")',
      phone: "+cmd|' /C calc'!A0",
      department: '@SUM(1)',
    },
  },
  {
    title: 'formula-like values; username starting with @',
    cells: { name: '-2+3', username: '@formula', phone: '=1+1', department: '+Dept' },
    expect: { username: '@formula', name: '-2+3', phone: '=1+1', department: '+Dept' },
  },
  {
    title: 'tab-leading value (trimmed like any surrounding whitespace)',
    cells: { name: '\t=1+1', username: 'tabbed' },
    expect: { username: 'tabbed', name: '=1+1' },
  },
  {
    title: 'emoji and astral characters, astral username',
    cells: { name: 'Zoë 🚀👍🏽 𝕏 𠜎', username: '𠜎𝕏', department: 'Équipe 🚀' },
    expect: { username: '𠜎𝕏', name: 'Zoë 🚀👍🏽 𝕏 𠜎', department: 'Équipe 🚀' },
  },
  {
    title: 'a 255-character name of astral characters (the limit, in characters)',
    cells: { name: '😀'.repeat(255), username: 'emoji255' },
    expect: { username: 'emoji255', name: '😀'.repeat(255) },
  },
  {
    title: 'a 64-character username (the limit)',
    cells: { name: 'Sixty Four', username: 'a'.repeat(64) },
    expect: { username: 'a'.repeat(64), name: 'Sixty Four' },
  },
  {
    title: 'a 254-character e-mail (the longest valid), lower-cased',
    cells: { name: 'Long Mail', username: 'longmail', email: LONG_VALID_EMAIL },
    expect: { username: 'longmail', name: 'Long Mail', email: LONG_VALID_EMAIL.toLowerCase() },
  },
  {
    title: 'zero-width characters are removed',
    cells: { name: 'Ana\u200BMaria\uFEFF', username: 'ze\u200Bro\u2060' },
    expect: { username: 'zero', name: 'AnaMaria' },
  },
  {
    title: 'the same role 5,000 times counts once',
    cells: { name: 'Many Same', username: 'manysame', roles: 'Viewer;'.repeat(5000) },
    expect: { username: 'manysame', name: 'Many Same', roles: ['Viewer'] },
  },
  // --- Refused: the row fails with a specific code and message. ---
  {
    title: 'ESC sequence in a name (written as the OOXML escape _x001B_)',
    cells: { name: 'Evil_x001B_[2J_x001B_[31mRed', username: 'ctl-esc' },
    expect: { code: 'ROW_INVALID_VALUE', message: /Name cell contains the invisible control character U\+001B/ },
  },
  {
    title: 'BEL in a phone',
    cells: { name: 'Bell', username: 'ctl-bel', phone: '123_x0007_456' },
    expect: { code: 'ROW_INVALID_VALUE', message: /Phone cell contains the invisible control character U\+0007/ },
  },
  {
    title: 'C1 CSI in a name',
    cells: { name: 'C1\u009B31mRed', username: 'ctl-csi' },
    expect: { code: 'ROW_INVALID_VALUE', message: /Name cell contains the invisible control character U\+009B/ },
  },
  {
    title: 'C1 NEL in a department',
    cells: { name: 'Nel', username: 'ctl-nel', department: 'Sales\u0085Ops' },
    expect: { code: 'ROW_INVALID_VALUE', message: /Department cell contains the invisible control character U\+0085/ },
  },
  {
    title: 'right-to-left override in a name',
    cells: { name: 'Invoice\u202Egnp.exe', username: 'bidi-rlo' },
    expect: { code: 'ROW_INVALID_VALUE', message: /Name cell contains the invisible control character U\+202E/ },
  },
  {
    title: 'left-to-right embedding in a phone',
    cells: { name: 'Lre', username: 'bidi-lre', phone: '\u202A5511' },
    expect: { code: 'ROW_INVALID_VALUE', message: /Phone cell contains the invisible control character U\+202A/ },
  },
  {
    title: 'first-strong isolate in a department',
    cells: { name: 'Fsi', username: 'bidi-fsi', department: 'a\u2068b\u2069' },
    expect: { code: 'ROW_INVALID_VALUE', message: /Department cell contains the invisible control character U\+2068/ },
  },
  {
    title: 'right-to-left override in a username',
    cells: { name: 'Admin', username: 'nimda\u202E' },
    expect: {
      code: 'ROW_INVALID_VALUE',
      message: /Username cell contains the invisible control character U\+202E/,
      not: /is empty/,
    },
  },
  {
    title: 'a username starting with - (a command-line option and a formula prefix)',
    cells: { name: 'Dash', username: '-formula' },
    expect: { code: 'ROW_USERNAME_INVALID', message: /not starting with -/ },
  },
  {
    title: 'right-to-left mark in a username',
    cells: { name: 'Rlm', username: 'admin\u200F' },
    expect: { code: 'ROW_USERNAME_INVALID', message: /is not allowed: use 1–64 letters, digits/ },
  },
  {
    title: 'SQL in a username',
    cells: { name: 'Sql', username: "x' OR '1'='1" },
    expect: { code: 'ROW_USERNAME_INVALID', message: /is not allowed: use 1–64 letters, digits/ },
  },
  {
    title: 'emoji in a username',
    cells: { name: 'Rocket', username: 'rocket🚀' },
    expect: { code: 'ROW_USERNAME_INVALID', message: /is not allowed: use 1–64 letters, digits/ },
  },
  {
    title: 'a 65-character username',
    cells: { name: 'Sixty Five', username: 'b'.repeat(65) },
    expect: { code: 'ROW_USERNAME_INVALID', message: /is not allowed: use 1–64 letters, digits/ },
  },
  {
    title: 'a 10,000-character username',
    cells: { name: 'Ten K', username: USERNAME_10K },
    expect: { code: 'ROW_USERNAME_INVALID', message: /is not allowed: use 1–64 letters, digits/ },
  },
  {
    title: 'a 256-character name',
    cells: { name: '😀'.repeat(256), username: 'emoji256' },
    expect: { code: 'ROW_VALUE_TOO_LONG', message: /Name cell is 256 characters long; the limit is 255/ },
  },
  {
    title: 'a 400-character e-mail',
    cells: { name: 'Huge Mail', username: 'hugemail', email: `${'x'.repeat(390)}@example.com` },
    expect: { code: 'ROW_INVALID_EMAIL', message: /is not a valid e-mail address/ },
  },
  {
    title: 'SQL and shell in a role name: unknown, with a copy-pasteable (quoted) command',
    cells: { name: 'Shell', username: 'shellrole', roles: "Viewer' OR '1'='1, $(touch /tmp/pwned)" },
    expect: {
      code: 'ROW_UNKNOWN_ROLE',
      message: literally("`usersync roles add 'Viewer'\\'' OR '\\''1'\\''='\\''1' '$(touch /tmp/pwned)'`"),
    },
  },
  {
    title: 'formula-like values in a row that fails (they reach the Failed rows sheet)',
    cells: {
      name: '=HYPERLINK("http://evil","x")',
      username: '=evil',
      phone: "+cmd|' /C calc'!A0",
      department: '@SUM(1)',
      email: '-2+3',
    },
    expect: { code: 'ROW_USERNAME_INVALID', message: /is not allowed/ },
  },
];

const isRefused = (e: Stored | Refused): e is Refused => 'code' in e;
const STORED = CASES.filter((c) => !isRefused(c.expect)).map((c) => c.expect as Stored);
/** Spreadsheet row of each case (row 1 is the header). */
const rowOf = (c: Case): number => CASES.indexOf(c) + 2;

interface RowReport {
  row: number;
  username: string;
  status: string;
  message?: string;
  code?: string;
}
interface Report {
  outcome: string;
  counts: { rows: number; created: number; failed: number };
  rows: RowReport[];
  error?: { code: string; message: string };
}

/** Runs the CLI under GNU time, giving its peak RSS in MiB. */
function runMeasured(
  args: readonly string[],
  cwd: string,
  env: Record<string, string>,
): Promise<CliResult & { peakMb: number }> {
  const rss = path.join(cwd, `rss-${randomBytes(4).toString('hex')}.txt`);
  return new Promise((resolve, reject) => {
    const child = spawnUsersync(args, { cwd, env, wrapper: ['/usr/bin/time', '-f', '%M', '-o', rss] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = existsSync(rss) ? readFileSync(rss, 'utf8').trim().split('\n') : [];
      resolve({ code, stdout, stderr, peakMb: Number(lines[lines.length - 1] ?? 0) / 1024 });
    });
  });
}

/** Every cell of every sheet of an xlsx, with where it is. */
async function xlsxCells(file: string): Promise<Array<{ where: string; cell: ExcelJS.Cell }>> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.readFile(file);
  const out: Array<{ where: string; cell: ExcelJS.Cell }> = [];
  for (const sheet of workbook.worksheets) {
    sheet.eachRow({ includeEmpty: false }, (row) =>
      row.eachCell({ includeEmpty: false }, (cell) => out.push({ where: `${sheet.name}!${cell.address}`, cell })),
    );
  }
  return out;
}

describeEachDatabase('hostile cell values', (database) => {
  let cwd: string;
  let pipeline: TestPipeline;
  let report: Report;
  let importRun: CliResult;
  const env = () => ({ USERSYNC_DATABASE_URL: database().url });
  const usersync = (...args: string[]) => runUsersync(args, { cwd, env: env() });

  beforeAll(async () => {
    pipeline = await createTestPipeline(database().url); // migrates and adds the roles Administrator, Auditor, Operator, Viewer
    cwd = makeWorkdir('usersync-hostile-');
    mkdirSync(path.join(cwd, 'config'));
    writeFileSync(
      path.join(cwd, 'config', 'local.json'),
      JSON.stringify({
        logs: { console: 'json' },
        import: { maxCellChars: 100_000, argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
      }),
    );
    const file = await writeXlsx(path.join(cwd, '=HYPERLINK(1) hostile.xlsx'), [
      TEMPLATE,
      ...CASES.map((c) => userRow(c.cells)),
    ]);
    importRun = await usersync('import', file, '--json', '--report-dir', path.join(cwd, 'reports'));
    report = JSON.parse(importRun.stdout) as Report;
  });

  afterAll(async () => {
    await pipeline?.close();
  });

  it('fails exactly the rows that break a rule, each with its specific ROW_* code and message', () => {
    expect(importRun.code, importRun.stderr).toBe(1);
    expect(report.outcome).toBe('imported_with_errors');
    const problems: string[] = [];
    for (const c of CASES) {
      const row = report.rows.find((r) => r.row === rowOf(c));
      if (!row) {
        problems.push(`${c.title}: no report row ${rowOf(c)}`);
        continue;
      }
      if (isRefused(c.expect)) {
        if (
          row.status !== 'failed' ||
          row.code !== c.expect.code ||
          !c.expect.message.test(row.message ?? '') ||
          c.expect.not?.test(row.message ?? '')
        ) {
          problems.push(
            `${c.title}: expected failed ${c.expect.code} ${c.expect.message}, got ${row.status} ${row.code} ${JSON.stringify(row.message?.slice(0, 200))}`,
          );
        }
      } else if (row.status !== 'created') {
        problems.push(`${c.title}: expected created, got ${row.status} ${row.code} ${row.message?.slice(0, 200)}`);
      }
    }
    expect(problems).toEqual([]);
    expect(report.counts).toMatchObject({
      rows: CASES.length,
      created: STORED.length,
      failed: CASES.length - STORED.length,
    });
  });

  it('keeps row messages short enough to read (and to fit an Excel cell), whatever the value', () => {
    // A row message quotes at most ~80 characters of a value (a 32,767-character message would not fit a cell).
    const long = report.rows
      .filter((r) => (r.message ?? '').length > 500)
      .map((r) => `row ${r.row} (${r.code}): ${r.message!.length} characters`);
    expect(long).toEqual([]);
  });

  it('stores every allowed value inert and byte-exact (database and `users show --json`)', async () => {
    const users = (await pipeline.db
      .knex('users')
      .leftJoin('departments', 'departments.id', 'users.department_id')
      .select(
        'users.id',
        'users.username',
        'users.name',
        'users.email',
        'users.phone',
        'departments.name as department',
      )) as Array<Record<string, string | number | null>>;
    expect(users.map((u) => u.username).sort()).toEqual(STORED.map((s) => s.username).sort());
    const hex = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'utf8').toString('hex') : v);
    for (const want of STORED) {
      const got = users.find((u) => u.username === want.username)!;
      for (const field of ['name', 'email', 'phone', 'department'] as const) {
        if (want[field] !== undefined) expect(hex(got[field]), `${want.username}.${field}`).toBe(hex(want[field]));
      }
    }
    // A username starting with '-' reads as an option on the command line: see the test below.
    const showable = STORED.filter((s) => !s.username.startsWith('-'));
    const shown = await Promise.all(showable.map((s) => usersync('users', 'show', s.username, '--json')));
    const listed = JSON.parse((await usersync('users', 'list', '--json')).stdout) as Array<Record<string, unknown>>;
    for (const want of STORED) {
      const i = showable.indexOf(want);
      if (i >= 0) expect(shown[i]!.code, shown[i]!.stderr).toBe(0);
      const user =
        i >= 0
          ? (JSON.parse(shown[i]!.stdout) as Record<string, unknown>)
          : listed.find((u) => u.username === want.username)!;
      expect(user.username).toBe(want.username);
      for (const field of ['name', 'email', 'phone', 'department', 'roles'] as const) {
        if (want[field] !== undefined) expect(user[field], `${want.username}.${field}`).toEqual(want[field]);
      }
    }
  });

  it('still has every table, with nothing injected into them', async () => {
    const knex = pipeline.db.knex;
    const names =
      database().kind === 'sqlite'
        ? ((await knex('sqlite_master').where('type', 'table').pluck('name')) as string[])
        : ((await knex('information_schema.tables')
            .where('table_schema', knex.raw('DATABASE()'))
            .pluck('table_name')) as string[]);
    expect(names.map((n) => n.toLowerCase())).toEqual(expect.arrayContaining(TABLES));
    expect((await knex('roles').pluck('name')).sort()).toEqual(['Administrator', 'Auditor', 'Operator', 'Viewer']);
    const [{ n }] = (await knex('users').count({ n: '*' })) as [{ n: number | string }];
    expect(Number(n)).toBe(STORED.length);
  });

  it('shows a user whose username starts with a formula character', async () => {
    // The default usernamePattern refuses a leading '-' (yargs would read it as an option);
    // '@' and '=' cannot start a username at all, but '.' and '_' can.
    const run = await usersync('users', 'show', '--json', 'formula');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ username: 'formula', name: '=HYPERLINK("http://evil","x")' });
  });

  it('reads non-ASCII text exactly wherever the streaming reader cuts the xml into chunks', async () => {
    // Two exceljs bugs met here: its reader decoded each inflated chunk on its own (exceljs#2084,
    // fixed by xlsx/patches/exceljs-sax-fix.ts) and its writer let JSZip cut surrogate pairs (fixed by
    // xlsx/patches/exceljs-writer-fix.ts). 300 rows of 4-byte and 2-byte text put hundreds of chunk
    // boundaries inside characters, in writing and in reading.
    const names = Array.from({ length: 300 }, (_, i) => `${'é'.repeat(i % 5)}${'😀'.repeat(60 + (i % 7))} 名前${i}`);
    const file = await writeXlsx(path.join(cwd, 'astral.xlsx'), [
      TEMPLATE,
      ...names.map((name, i) => userRow({ name, username: `astral${i}` })),
    ]);
    const run = await usersync('import', file, '--json', '--report-dir', path.join(cwd, 'reports'));
    const result = JSON.parse(run.stdout) as Report;
    expect(result.counts).toMatchObject({ rows: 300, created: 300, failed: 0 });
    const stored = new Map(
      (await pipeline.db.knex('users').where('username', 'like', 'astral%').select('username', 'name')).map(
        (u: { username: string; name: string }) => [u.username, u.name],
      ),
    );
    const wrong = names
      .map((name, i) => [`astral${i}`, name] as const)
      .filter(([username, name]) => stored.get(username) !== name)
      .map(([username]) => `${username}: ${JSON.stringify(stored.get(username)?.replace(/(?:😀){8,}/g, '…'))}`);
    expect(wrong).toEqual([]);
  });

  it('escapes every formula-like cell of the xlsx report and writes no formula at all', async () => {
    const reportXlsx = path.join(cwd, 'reports', '=HYPERLINK(1) hostile.report.xlsx');
    const cells = await xlsxCells(reportXlsx);
    const bad = cells
      .filter(
        ({ cell }) =>
          cell.type === ExcelJS.ValueType.Formula ||
          cell.formula !== undefined ||
          (typeof cell.value === 'string' && (FORMULA_START.test(cell.value) || cell.value.length > EXCEL_CELL_LIMIT)),
      )
      .map(({ where, cell }) => `${where}: ${String(cell.value).slice(0, 80)}`);
    expect(bad).toEqual([]);
    const texts = cells.map(({ cell }) => cell.value).filter((v): v is string => typeof v === 'string');
    // The escaped forms are there: the file name, usernames in Rows, the failed row's cells in Failed rows.
    expect(texts).toEqual(
      expect.arrayContaining([
        `'=HYPERLINK(1) hostile.xlsx`,
        `'-formula`,
        `'@formula`,
        `'=HYPERLINK("http://evil","x")`,
        `'+cmd|' /C calc'!A0`,
        `'@SUM(1)`,
        `'-2+3`,
        `'=evil`,
      ]),
    );
    // And the raw package has no <f> (formula) element in any part.
    const zip = await JSZip.loadAsync(readFileSync(reportXlsx));
    const withFormula: string[] = [];
    for (const [name, entry] of Object.entries(zip.files)) {
      if (entry.dir) continue;
      if (/<(?:\w+:)?f[\s>/]/.test(await entry.async('string'))) withFormula.push(name);
    }
    expect(withFormula).toEqual([]);
  });

  it('shows control characters as ? in the text tables of users list, users show and audit', async () => {
    // Imports refuse these characters, so plant them as a hand edit or an older version would have.
    const knex = pipeline.db.knex;
    const evil = 'Evil\u001b[2J\u001b[31mRed\u0007\u009b31m\u202Egnp.exe\u0000';
    await knex('users').where('username', 'sql1').update({ name: evil, phone: '\u001b]0;pwned\u0007' });
    const [dept] = (await knex('departments').where('name', '@SUM(1)').pluck('id')) as number[];
    await knex('departments').where('id', dept!).update({ name: 'Dept\u001b[5m\u2066' });
    await knex('audit_events').insert({
      at: '2030-01-01T00:00:00.000Z',
      import_id: null,
      row: 7,
      username: 'x\u001b[8my',
      action: 'user.updated',
      changes: JSON.stringify({ name: { old: 'a\u009b2J', new: 'b\u202Ec' } }),
    });
    const runs: Record<string, CliResult> = {
      'users list': await usersync('users', 'list'),
      'users show': await usersync('users', 'show', 'sql1'),
      audit: await usersync('audit', '--since', '2029-12-31'),
      'departments list': await usersync('departments', 'list'),
    };
    const leaks: string[] = [];
    for (const [command, run] of Object.entries(runs)) {
      expect(run.code, `${command}: ${run.stderr}`).toBe(0);
      for (const [stream, text] of [
        ['stdout', run.stdout],
        ['stderr', run.stderr],
      ] as const) {
        const match = TERMINAL_UNSAFE.exec(text);
        if (match)
          leaks.push(
            `${command} ${stream}: U+${match[0].codePointAt(0)!.toString(16).padStart(4, '0').toUpperCase()} in ${JSON.stringify(text.slice(Math.max(0, match.index - 30), match.index + 30))}`,
          );
      }
    }
    expect(runs['users list']!.stdout).toContain('Evil?[2J?[31mRed');
    expect(runs.audit!.stdout).toContain('x?[8my');
    // C1 controls (U+009B is a one-byte CSI) and bidi overrides must not reach the terminal either.
    expect(leaks).toEqual([]);
  });

  it('refuses control characters and bidi overrides in role and group names given to `roles add` / `groups add`, echoing none', async () => {
    const roles = await usersync('roles', 'add', 'Evil\u001b[31mRole');
    const groups = await usersync('groups', 'add', 'Evil\u202EGroup');
    for (const [what, run] of [
      ['roles add', roles],
      ['groups add', groups],
    ] as const) {
      expect(
        TERMINAL_UNSAFE.test(run.stdout + run.stderr),
        `${what} printed a control character: ${JSON.stringify(run.stdout + run.stderr)}`,
      ).toBe(false);
      expect(run.code, `${what}: ${run.stdout}`).toBe(2);
      expect(run.stdout + run.stderr).toContain('CATALOG_INVALID_NAME');
    }
  });

  it('holds the limits: a 1 MB cell, a 10,000-role list and raw C0 controls in a CSV fail their rows, with bounded memory', async () => {
    // Incompressible 1 MB cells (random text), so the zip-bomb guard does not reject the file first.
    const mb = () => randomBytes(786_432).toString('base64'); // 1,048,576 characters
    const distinctRoles = Array.from({ length: 10_000 }, (_, i) => `r${i}`).join(','); // ~59,000 characters, under maxCellChars here
    const rows: Cell[][] = [TEMPLATE];
    for (let i = 0; i < 6; i++) rows.push(userRow({ name: mb(), username: `big${i}` }));
    rows.push(userRow({ name: 'Big Password', username: 'bigpw', password: mb() }));
    rows.push(userRow({ name: 'Many Roles', username: 'manyroles', roles: distinctRoles }));
    rows.push(userRow({ name: 'Fine', username: 'limits-ok' }));
    const file = await writeXlsx(path.join(cwd, 'limits.xlsx'), rows);
    const run = await runMeasured(['import', file, '--json', '--report-dir', path.join(cwd, 'reports')], cwd, env());
    expect(run.code, run.stderr).toBe(1);
    const limits = JSON.parse(run.stdout) as Report;
    const byUser = new Map(limits.rows.map((r) => [r.username, r]));
    for (const username of [...Array.from({ length: 6 }, (_, i) => `big${i}`), 'bigpw']) {
      // An over-long cell fails its row as ROW_VALUE_TOO_LONG (not as an error cell: "holds a value longer than …;
      // fix it in the spreadsheet (or paste values)"), whose registry text is about #N/A and formulas.
      expect.soft(byUser.get(username), username).toMatchObject({
        status: 'failed',
        code: 'ROW_VALUE_TOO_LONG',
        message: expect.stringMatching(/longer than 100000 characters \(import\.maxCellChars\)/),
      });
    }
    expect(byUser.get('manyroles')).toMatchObject({
      status: 'failed',
      code: 'ROW_VALUE_TOO_LONG',
      message: expect.stringContaining('lists 10000 names; at most 100 are allowed (import.maxListItems)'),
    });
    expect(byUser.get('limits-ok')).toMatchObject({ status: 'created' });
    expect(limits.counts).toMatchObject({ rows: 9, created: 1, failed: 8 });
    expect(run.peakMb, 'peak RSS of the import process (MiB)').toBeLessThan(400);

    // Raw C0 controls (exceljs cannot even write them to an .xlsx) arrive through CSV.
    const csv = writeCsv(path.join(cwd, 'controls.csv'), [
      TEMPLATE,
      ['Esc', 'csv-esc', '', '\u001b[31mSales', '', '', '', '', '', ''],
      ['Del', 'csv-del', '', '', '', '55\u007f11', '', '', '', ''],
      ['Vt', 'csv\u000bvt', '', '', '', '', '', '', '', ''],
      ['Csv Fine', 'csv-ok', '', '', '', '', '', '', '', ''],
      // Enough ordinary rows that the few controls are not mistaken for a binary file (sniff-bytes: > 1 %).
      ...Array.from({ length: 30 }, (_, i) => [
        `Padding Person ${i}`,
        `csv-pad${i}`,
        '',
        'Padding Department',
        '',
        '',
        '',
        '',
        '',
        '',
      ]),
    ]);
    const controls = JSON.parse(
      (await usersync('import', csv, '--json', '--report-dir', path.join(cwd, 'reports'))).stdout,
    ) as Report;
    expect(controls.error).toBeUndefined();
    expect(controls.counts).toMatchObject({ rows: 34, created: 31, failed: 3 });
    expect(
      controls.rows.slice(0, 4).map((r) => [r.row, r.status, r.code, /U\+[0-9A-F]{4}/.exec(r.message ?? '')?.[0]]),
    ).toEqual([
      [2, 'failed', 'ROW_INVALID_VALUE', 'U+001B'],
      [3, 'failed', 'ROW_INVALID_VALUE', 'U+007F'],
      [4, 'failed', 'ROW_INVALID_VALUE', 'U+000B'],
      [5, 'created', undefined, undefined],
    ]);
    // A NUL byte makes the text file binary: the whole file is rejected as not a spreadsheet, cleanly.
    const nul = writeCsv(path.join(cwd, 'nul.csv'), [
      TEMPLATE,
      ['Nul\u0000Byte', 'csv-nul', '', '', '', '', '', '', '', ''],
    ]);
    const nulRun = await usersync('import', nul, '--json', '--report-dir', path.join(cwd, 'reports'));
    expect(nulRun.code).toBe(2);
    expect(JSON.parse(nulRun.stdout)).toMatchObject({ outcome: 'rejected', error: { code: 'FILE_NOT_SPREADSHEET' } });
  });

  it('never turns a long department into a fault for the whole file (191 characters that lower-case to 382)', async () => {
    // 'İ' (U+0130) lower-cases to 'i̇' (two code points): the name fits departments.name (191) but its
    // key does not fit name_key (191) on MySQL/MariaDB. The row must be stored or fail on its own.
    const file = writeCsv(path.join(cwd, 'dotted-i.csv'), [
      TEMPLATE,
      ['Dotted', 'dotted', '', 'İ'.repeat(191), '', '', '', '', '', ''],
      ['Plain', 'plain-after-dotted', '', '', '', '', '', '', '', ''],
    ]);
    const run = await usersync('import', file, '--json', '--report-dir', path.join(cwd, 'reports'));
    expect(run.code, `exit ${run.code}: ${run.stderr.slice(-1500)}`).not.toBe(3);
    const result = JSON.parse(run.stdout) as Report;
    expect(result.rows.find((r) => r.username === 'plain-after-dotted')).toMatchObject({ status: 'created' });
    const dotted = result.rows.find((r) => r.username === 'dotted')!;
    if (dotted.status === 'failed') expect(dotted.code).toMatch(/^ROW_/);
    else
      expect(await pipeline.db.knex('departments').where('name', 'İ'.repeat(191)).pluck('name')).toEqual([
        'İ'.repeat(191),
      ]);
  });
});

import { describe, expect, it } from 'vitest';
import { COLUMN_KEYS, type CellValue, type ColumnKey, type RawRow } from '../../src/domain/columns.js';
import { normaliseEmail } from '../../src/domain/email.js';
import { textLength } from '../../src/domain/text-rules.js';
import { splitList } from '../../src/domain/lists.js';
import { checkRow, clearMarkerKey, type RowRules } from '../../src/domain/row-intent.js';
import { compileUsernamePattern } from '../../src/domain/username.js';
import { parseYesNo } from '../../src/domain/yes-no.js';

const rules: RowRules = {
  usernamePattern: compileUsernamePattern('^[\\p{L}\\p{N}._@-]{1,64}$'),
  passwordMinLength: 8,
  maxListItems: 5,
  roles: new Set(['administrator', 'auditor']),
  groups: new Set(['finance', 'it']),
  createMissingGroups: false,
};

function row(cells: Partial<Record<ColumnKey, CellValue>>, number = 2): RawRow {
  return { row: number, cells: COLUMN_KEYS.map((key) => cells[key]) };
}

const check = (
  cells: Partial<Record<ColumnKey, CellValue>>,
  seen = new Map<string, number>(),
  overrides: Partial<RowRules> = {},
) => checkRow(row(cells), { ...rules, ...overrides }, seen);
const problemsOf = (result: ReturnType<typeof check>) => (result.ok ? [] : result.problems);

describe('parseYesNo', () => {
  it.each(['Yes', 'YES', 'y', 'True', 'TRUE', '1', 'Sim', 'SIM'])('reads %j as yes', (text) =>
    expect(parseYesNo(text)).toBe(true),
  );
  it.each(['No', 'n', 'false', 'FALSE', '0', 'Não', 'NAO', 'nao'])('reads %j as no', (text) =>
    expect(parseYesNo(text)).toBe(false),
  );
  it.each(['maybe', 'yes please', '2', 'on'])('refuses %j', (text) => expect(parseYesNo(text)).toBeUndefined());
});

describe('normaliseEmail', () => {
  it('lower-cases and strips mailto:', () => {
    expect(normaliseEmail('Ana.Silva@Example.COM')).toBe('ana.silva@example.com');
    expect(normaliseEmail('mailto:ana@example.com')).toBe('ana@example.com');
  });
  it.each(['ana', 'ana@', '@example.com', 'ana@example', 'ana silva@example.com', 'a@b@c.com'])('refuses %j', (text) =>
    expect(normaliseEmail(text)).toBeUndefined(),
  );
});

describe('splitList', () => {
  it('splits on , ; and line breaks, trims, and drops duplicates by key', () => {
    expect(splitList('Administrator; auditor,\nADMINISTRATOR\r\n  IT  ').map((i) => i.name)).toEqual([
      'Administrator',
      'auditor',
      'IT',
    ]);
  });
  it('gives the same answer the second time, from memory, and it cannot be changed', () => {
    const first = splitList('Sales; it; SALES');
    const again = splitList('Sales; it; SALES');
    expect(again).toBe(first);
    expect(again).toEqual([
      { name: 'Sales', key: 'sales' },
      { name: 'it', key: 'it' },
    ]);
    expect(Object.isFrozen(again) && Object.isFrozen(again[0])).toBe(true);
  });
});

describe('textLength', () => {
  it('counts code points as the string iterator does, lone surrogates included', () => {
    for (const text of [
      '',
      'abc',
      'José',
      '😀',
      'a😀b😀',
      '\ud83d',
      'x\ud83d',
      '\ude00x',
      '\ude00\ud83d',
      '😀\ud83d',
      '東京'.repeat(50),
    ]) {
      expect(textLength(text), JSON.stringify(text)).toBe([...text].length);
    }
  });
});

describe('checkRow', () => {
  it('normalises the username and keeps blank cells undefined (blank = keep the stored value)', () => {
    const result = check({ username: '  JDoe ', name: 'J. Doe', email: '', phone: undefined });
    expect(result).toEqual({ ok: true, intent: { row: 2, username: 'jdoe', name: 'J. Doe' } });
  });

  it('reads every column', () => {
    const result = check({
      username: 'ana',
      name: 'Ana',
      password: 'correct horse',
      department: ' Human  Resources ',
      email: 'Ana@Example.com',
      phone: '5511987654321',
      active: 'No',
      ignoreMfa: 'Sim',
      roles: 'auditor;Administrator',
      groups: 'IT',
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.intent).toMatchObject({
      username: 'ana',
      password: 'correct horse',
      department: { name: 'Human Resources', key: 'human resources' },
      email: 'ana@example.com',
      phone: '5511987654321',
      active: false,
      ignoreMfa: true,
      roles: ['auditor', 'administrator'],
    });
    expect(result.intent.groups?.map((g) => g.key)).toEqual(['it']);
  });

  it('fails a blank username and an invalid one', () => {
    expect(problemsOf(check({ name: 'Nobody' }))[0]?.code).toBe('ROW_USERNAME_MISSING');
    expect(problemsOf(check({ username: 'j doe' }))[0]?.code).toBe('ROW_USERNAME_INVALID');
  });

  it('fails the later row of a duplicate username, naming the first row', () => {
    const seen = new Map<string, number>();
    expect(checkRow(row({ username: 'JDoe', name: 'A' }, 2), rules, seen).ok).toBe(true);
    const second = checkRow(row({ username: 'jdoe', name: 'B' }, 7), rules, seen);
    expect(second.ok).toBe(false);
    expect(problemsOf(second)[0]).toMatchObject({
      code: 'ROW_DUPLICATE_USERNAME',
      message: expect.stringContaining('duplicate of row 2'),
    });
  });

  it('does not let a failed row claim its username', () => {
    const seen = new Map<string, number>();
    expect(checkRow(row({ username: 'ana', email: 'bad' }, 2), rules, seen).ok).toBe(false);
    expect(checkRow(row({ username: 'ana', name: 'Ana' }, 3), rules, seen).ok).toBe(true);
  });

  it('fails a short password without ever quoting it', () => {
    const [problem] = problemsOf(check({ username: 'ana', password: 'Secr3t' }));
    expect(problem?.code).toBe('ROW_PASSWORD_TOO_SHORT');
    expect(problem?.message).not.toContain('Secr3t');
  });

  it('fails a bad e-mail and a bad Yes/No value, reporting both', () => {
    const problems = problemsOf(check({ username: 'ana', email: 'ana at example', active: 'perhaps' }));
    expect(problems.map((p) => p.code)).toEqual(['ROW_INVALID_EMAIL', 'ROW_INVALID_YES_NO']);
    expect(problems[1]?.message).toContain('Active is "perhaps"');
  });

  it('names every unknown role and how to create them', () => {
    const [problem] = problemsOf(check({ username: 'ana', roles: 'Auditor, Root, Super User' }));
    expect(problem?.code).toBe('ROW_UNKNOWN_ROLE');
    expect(problem?.message).toContain('"Root", "Super User"');
    expect(problem?.message).toContain("usersync roles add Root 'Super User'");
  });

  it('fails unknown groups unless createMissingGroups is on', () => {
    expect(problemsOf(check({ username: 'ana', groups: 'IT; Payroll' }))[0]).toMatchObject({
      code: 'ROW_UNKNOWN_GROUP',
      message: expect.stringContaining('"Payroll"'),
    });
    expect(check({ username: 'ana', groups: 'IT; Payroll' }, new Map(), { createMissingGroups: true }).ok).toBe(true);
  });

  it('fails error cells (#N/A, formulas without a result) naming the column', () => {
    const [problem] = problemsOf(check({ username: 'ana', email: { error: '#N/A' } }));
    expect(problem).toMatchObject({
      code: 'ROW_CELL_ERROR',
      message: expect.stringContaining('E-mail cell holds the error #N/A'),
    });
  });

  it('refuses control characters and right-to-left overrides', () => {
    expect(problemsOf(check({ username: 'ana', name: 'Ana\u202Egnp.exe' }))[0]).toMatchObject({
      code: 'ROW_INVALID_VALUE',
      message: expect.stringContaining('U+202E'),
    });
    expect(problemsOf(check({ username: 'ana', name: 'Ana\u0007' }))[0]?.code).toBe('ROW_INVALID_VALUE');
  });

  it('bounds cell lengths and list sizes', () => {
    expect(problemsOf(check({ username: 'ana', name: 'x'.repeat(256) }))[0]?.code).toBe('ROW_VALUE_TOO_LONG');
    expect(problemsOf(check({ username: 'ana', groups: 'a,b,c,d,e,f' }))[0]).toMatchObject({
      code: 'ROW_VALUE_TOO_LONG',
      message: expect.stringContaining('6 names'),
    });
    expect(problemsOf(check({ username: 'ana', roles: ' ; , ' }))[0]?.code).toBe('ROW_INVALID_VALUE');
  });

  it('keeps SQL-looking and formula-looking text as plain text', () => {
    const result = check({
      username: 'ana',
      name: "Robert'); DROP TABLE users;--",
      department: '=HYPERLINK("http://x","y")',
    });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.intent.name).toBe("Robert'); DROP TABLE users;--");
  });
});

describe('the clear marker (import.clearMarker)', () => {
  const clearing = { clearMarker: clearMarkerKey('(clear)') };

  it('is matched ignoring case and surrounding spaces; an empty marker turns clearing off', () => {
    expect(clearMarkerKey('  (Clear) ')).toBe('(clear)');
    expect(clearMarkerKey('')).toBeUndefined();
    expect(clearMarkerKey('   ')).toBeUndefined();
  });

  // Clearable: E-mail, Phone, Department → null; Roles, User group → [] (every membership removed).
  it('empties E-mail, Phone and Department (null) and Roles and User group ([])', () => {
    const result = check(
      {
        username: 'ana',
        email: '(clear)',
        phone: '(CLEAR)',
        department: '(Clear)',
        roles: '(clear)',
        groups: '(clear)',
      },
      new Map(),
      clearing,
    );
    expect(result).toEqual({
      ok: true,
      intent: { row: 2, username: 'ana', email: null, phone: null, department: null, roles: [], groups: [] },
    });
  });

  it('is ordinary text when clearing is off or the marker is another', () => {
    const off = check({ username: 'ana', department: '(clear)', phone: '(clear)' }, new Map(), {
      clearMarker: clearMarkerKey(''),
    });
    expect(off).toMatchObject({
      ok: true,
      intent: { department: { name: '(clear)', key: '(clear)' }, phone: '(clear)' },
    });
    expect(
      problemsOf(check({ username: 'ana', email: '(clear)' }, new Map(), { clearMarker: undefined }))[0]?.code,
    ).toBe('ROW_INVALID_EMAIL');
    const dash = check({ username: 'ana', email: '-', phone: '(clear)' }, new Map(), {
      clearMarker: clearMarkerKey('-'),
    });
    expect(dash).toMatchObject({ ok: true, intent: { email: null, phone: '(clear)' } });
  });

  // Not clearable: Name, Username, Password, Active, Ignore MFA — the row fails, saying why.
  it.each([
    ['name', 'Name cannot be cleared', 'every user has a name'],
    ['password', 'Password cannot be cleared', 'set Active to No'],
    ['active', 'Active cannot be cleared', 'always Yes or No'],
    ['ignoreMfa', 'Ignore MFA cannot be cleared', 'always Yes or No'],
  ] as const)('fails the row for the marker in %s', (column, start, why) => {
    const problems = problemsOf(check({ username: 'ana', [column]: '(Clear)' }, new Map(), clearing));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'ROW_CANNOT_CLEAR', message: expect.stringContaining(start) });
    expect(problems[0]?.message).toContain(why);
  });

  it('fails the row for the marker as the username', () => {
    const problems = problemsOf(
      check({ username: '(clear)', name: 'X' }, new Map(), {
        ...clearing,
        usernamePattern: compileUsernamePattern('^.{1,64}$'),
      }),
    );
    expect(problems).toEqual([
      {
        code: 'ROW_CANNOT_CLEAR',
        message: expect.stringContaining('Username cannot be cleared with "(clear)": it names the user'),
      },
    ]);
  });
});

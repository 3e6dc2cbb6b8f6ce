import { describe, expect, it } from 'vitest';
import {
  assertUsableHeader,
  buildHeaderLookup,
  columnLetter,
  isHeaderRow,
  matchHeader,
  matchHeaderRow,
  normaliseHeader,
} from '../../src/domain/headers.js';
import { UsersyncError } from '../../src/errors.js';

const lookup = buildHeaderLookup();

function rejection(fn: () => unknown): UsersyncError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsersyncError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('header matching', () => {
  it('ignores case, whitespace, punctuation and accents', () => {
    expect(normaliseHeader('  E-mail ')).toBe('email');
    for (const text of ['E-mail', 'Email', 'e mail', 'E_MAIL', 'e-mail.'])
      expect(matchHeader(text, lookup)).toBe('email');
    expect(matchHeader('IgnoreMFA', lookup)).toBe('ignoreMfa');
    expect(matchHeader('ignore  mfa', lookup)).toBe('ignoreMfa');
    expect(matchHeader('USERNAME', lookup)).toBe('username');
    expect(matchHeader('User name', lookup)).toBe('username');
  });

  it('accepts singular and plural of the same column', () => {
    expect(matchHeader('User group', lookup)).toBe('groups');
    expect(matchHeader('User groups', lookup)).toBe('groups');
    expect(matchHeader('Role', lookup)).toBe('roles');
    expect(matchHeader('Group', lookup)).toBe('groups');
  });

  it('knows the Portuguese template', () => {
    const pt = [
      'Nome',
      'Usuário',
      'Senha',
      'Departamento',
      'E-mail',
      'Telefone',
      'Ativo',
      'Ignorar MFA',
      'Perfis',
      'Grupo de usuários',
    ];
    const match = matchHeaderRow(pt, lookup);
    expect([...match.columns.values()]).toEqual([
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
    ]);
    expect(matchHeader('USUARIO', lookup)).toBe('username');
  });

  it('is conservative about look-alike names', () => {
    for (const text of ['Mobile', 'Login', 'Cost centre', 'Manager name', 'ID'])
      expect(matchHeader(text, lookup)).toBeUndefined();
  });

  it('adds operator aliases whose targets are matched loosely', () => {
    const custom = buildHeaderLookup({ Login: 'Username', 'Cel.': 'telefone' });
    expect(matchHeader('login', custom)).toBe('username');
    expect(matchHeader('CEL', custom)).toBe('phone');
  });

  it('refuses an alias that points at no template column', () => {
    const error = rejection(() => buildHeaderLookup({ Login: 'Account' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('"Login" maps to "Account"');
  });
});

describe('header rows', () => {
  it('maps columns by position in any order and lists unknown ones', () => {
    const match = matchHeaderRow(['Username', '', 'Cost centre', 'Name', undefined, 'E-mail'], lookup);
    expect([...match.columns.entries()]).toEqual([
      [0, 'username'],
      [3, 'name'],
      [5, 'email'],
    ]);
    expect(match.unknown).toEqual([{ index: 2, text: 'Cost centre' }]);
    expect(isHeaderRow(match)).toBe(true);
  });

  it('is not a header row without a Username column', () => {
    expect(isHeaderRow(matchHeaderRow(['Name', 'E-mail'], lookup))).toBe(false);
  });

  it('rejects the same column twice, naming both header texts and letters', () => {
    const match = matchHeaderRow(['Name', 'Username', 'Email', 'E-mail'], lookup);
    const error = rejection(() => assertUsableHeader(match, 'row 1 of sheet "Users"'));
    expect(error.code).toBe('FILE_DUPLICATE_COLUMN');
    expect(error.message).toContain('"Email" in column C and "E-mail" in column D');
  });

  it('rejects a header without a Name column', () => {
    const error = rejection(() => assertUsableHeader(matchHeaderRow(['Username', 'E-mail'], lookup), 'line 1'));
    expect(error.code).toBe('FILE_NO_NAME_COLUMN');
  });

  it('writes column letters as Excel does', () => {
    expect([0, 25, 26, 27, 701, 702, 16383].map(columnLetter)).toEqual(['A', 'Z', 'AA', 'AB', 'ZZ', 'AAA', 'XFD']);
  });
});

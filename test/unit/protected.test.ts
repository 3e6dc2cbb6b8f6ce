import { describe, expect, it } from 'vitest';
import { COLUMN_KEYS, type CellValue, type ColumnKey, type RawRow } from '../../src/domain/columns.js';
import { splitList } from '../../src/domain/lists.js';
import {
  protectedChange,
  protectedChangeMessage,
  protectedNames,
  protectedUserMatcher,
} from '../../src/domain/protected.js';
import { checkRow, type RowRules } from '../../src/domain/row-intent.js';
import { compileUsernamePattern } from '../../src/domain/username.js';

describe('protectedUserMatcher', () => {
  it('is undefined when no patterns are configured, so rows pay nothing', () => {
    expect(protectedUserMatcher([])).toBeUndefined();
    expect(protectedUserMatcher(['  '])).toBeUndefined();
  });

  it('matches exact names and globs, and nothing else', () => {
    const isProtected = protectedUserMatcher(['admin', 'breakglass-*'])!;
    expect(isProtected('admin')).toBe(true);
    expect(isProtected('breakglass-1')).toBe(true);
    expect(isProtected('breakglass-ops.eu')).toBe(true);
    expect(isProtected('admin2')).toBe(false);
    expect(isProtected('sysadmin')).toBe(false);
    expect(isProtected('breakglass')).toBe(false);
    expect(isProtected('ann')).toBe(false);
  });

  it('matches case-insensitively, like usernames are normalised, and patterns in NFC', () => {
    const isProtected = protectedUserMatcher(['Admin', 'BREAKGLASS-*', 'jose\u0301'])!;
    expect(isProtected('admin')).toBe(true);
    expect(isProtected('breakglass-x')).toBe(true);
    expect(isProtected('jos\u00e9')).toBe(true);
    expect(isProtected('jose')).toBe(false);
  });

  it('lets * match usernames that start with a dot', () => {
    expect(protectedUserMatcher(['*'])!('.svc')).toBe(true);
  });
});

describe('protectedChange', () => {
  const names = protectedNames(['  Domain   Admins ', 'Auditor']);
  const groups = (text: string) => splitList(text);
  const stored = (roleKeys: string[], groupKeys: string[] = []) => ({ roleKeys, groupKeys });

  it('keys configured names like the catalogue, keeping their spelling for messages', () => {
    expect([...names]).toEqual([
      ['domain admins', 'Domain Admins'],
      ['auditor', 'Auditor'],
    ]);
  });

  // Cases (module comment): blank keeps; new user with P grants; without → with grants; with →
  // with is fine; with → without removes; with → cleared removes; other names never count.
  it('says nothing when the cells are blank, whatever the user has', () => {
    expect(protectedChange(stored(['auditor'], ['domain admins']), {}, names)).toBeUndefined();
    expect(protectedChange(undefined, {}, names)).toBeUndefined();
  });

  it('counts a new user created with a protected role or group as a grant', () => {
    expect(protectedChange(undefined, { roles: ['viewer', 'auditor'] }, names)).toEqual({
      name: 'Auditor',
      column: 'roles',
      change: 'grant',
    });
    expect(protectedChange(undefined, { groups: groups('IT; domain admins') }, names)).toEqual({
      name: 'Domain Admins',
      column: 'groups',
      change: 'grant',
    });
  });

  it('finds a grant to a stored user who lacks it', () => {
    expect(protectedChange(stored(['viewer']), { roles: ['viewer', 'auditor'] }, names)).toMatchObject({
      change: 'grant',
      name: 'Auditor',
    });
  });

  it('allows a listing that keeps a protected role the user already has', () => {
    expect(protectedChange(stored(['auditor', 'viewer']), { roles: ['auditor'] }, names)).toBeUndefined();
    expect(
      protectedChange(stored([], ['domain admins']), { groups: groups('Domain Admins, IT') }, names),
    ).toBeUndefined();
  });

  it('finds a removal when the cell replaces the set without it, or clears it', () => {
    expect(protectedChange(stored(['auditor']), { roles: ['viewer'] }, names)).toEqual({
      name: 'Auditor',
      column: 'roles',
      change: 'remove',
    });
    expect(protectedChange(stored([], ['domain admins']), { groups: [] }, names)).toEqual({
      name: 'Domain Admins',
      column: 'groups',
      change: 'remove',
    });
  });

  it('checks a name in both columns: it may be a role and a group', () => {
    const both = protectedNames(['Auditor']);
    expect(protectedChange(stored([]), { groups: groups('Auditor') }, both)).toMatchObject({
      column: 'groups',
      change: 'grant',
    });
  });

  it('ignores changes to roles and groups that are not protected', () => {
    expect(protectedChange(stored(['viewer'], ['it']), { roles: ['operator'], groups: [] }, names)).toBeUndefined();
    expect(protectedChange(stored(['auditor']), { roles: ['auditor'] }, new Map())).toBeUndefined();
  });

  it('words the message with the name, the direction and what to do', () => {
    expect(protectedChangeMessage('ann', { name: 'Auditor', column: 'roles', change: 'grant' })).toBe(
      'This row would grant the protected role "Auditor" to "ann" (safety.protectedRoles); take "Auditor" out of the Roles cell, and grant it by hand if it is meant.',
    );
    expect(protectedChangeMessage('ann', { name: 'Domain Admins', column: 'groups', change: 'remove' })).toBe(
      'This row would remove the protected user group "Domain Admins" from "ann" (safety.protectedRoles); keep "Domain Admins" in the User group cell (or leave the cell blank), and remove it by hand if it is meant.',
    );
  });
});

describe('checkRow with safety.protectedUsers', () => {
  const rules: RowRules = {
    usernamePattern: compileUsernamePattern('^[\\p{L}\\p{N}._@-]{1,64}$'),
    passwordMinLength: 8,
    maxListItems: 5,
    roles: new Set(['auditor']),
    groups: new Set(['it']),
    createMissingGroups: false,
    isProtectedUser: protectedUserMatcher(['admin', 'breakglass-*']),
  };
  const row = (cells: Partial<Record<ColumnKey, CellValue>>): RawRow => ({
    row: 7,
    cells: COLUMN_KEYS.map((key) => cells[key]),
  });

  it('fails a protected user’s row with only ROW_PROTECTED_USER, whatever else it says', () => {
    const seen = new Map<string, number>();
    const result = checkRow(row({ username: ' ADMIN ', email: 'not an address', roles: 'Nope' }), rules, seen);
    expect(result).toEqual({
      ok: false,
      username: 'admin',
      problems: [
        {
          code: 'ROW_PROTECTED_USER',
          message:
            '"admin" is a protected user (safety.protectedUsers): no import may create or change it; leave the row out and change the account by hand.',
        },
      ],
    });
    expect(seen.size).toBe(0);
  });

  it('fails a row that names only the user (it would change nothing)', () => {
    const result = checkRow(row({ username: 'breakglass-2' }), rules, new Map());
    expect(result.ok ? [] : result.problems.map((p) => p.code)).toEqual(['ROW_PROTECTED_USER']);
  });

  it('lets other users through', () => {
    expect(checkRow(row({ username: 'adminx', name: 'A' }), rules, new Map()).ok).toBe(true);
  });
});

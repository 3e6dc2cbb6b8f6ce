import { describe, expect, it } from 'vitest';
import { createdAuditJson, diffUser, type PreparedIntent, type StoredUser } from '../../src/domain/merge.js';

const stored: StoredUser = {
  id: 7,
  username: 'ana',
  name: 'Ana Silva',
  email: 'ana@example.com',
  phone: '5511987654321',
  departmentKey: 'finance',
  departmentName: 'Finance',
  active: true,
  ignoreMfa: false,
  passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$x$y',
  passwordUpdatedAt: '2026-01-01T00:00:00.000Z',
  createdAt: '2026-01-01T00:00:00.000Z',
  roleKeys: ['auditor', 'administrator'],
  groupKeys: ['it'],
};
const intent = (fields: Partial<PreparedIntent>): PreparedIntent => ({ row: 2, username: 'ana', ...fields });

describe('diffUser', () => {
  // Per field: blank keeps; equal is no change; different is a change with old → new.
  it('keeps every stored value when every cell is blank', () => {
    expect(diffUser(stored, intent({}))).toEqual({ kind: 'unchanged' });
  });

  it('is unchanged when every cell equals the stored value, sets in any order', () => {
    const same = intent({
      name: 'Ana Silva',
      email: 'ana@example.com',
      phone: '5511987654321',
      department: { name: 'FINANCE', key: 'finance' },
      active: true,
      ignoreMfa: false,
      roles: ['administrator', 'auditor'],
      groups: [{ name: 'IT', key: 'it' }],
    });
    expect(diffUser(stored, same)).toEqual({ kind: 'unchanged' });
  });

  it('compares long role lists as sets too (past the short-list scan)', () => {
    const many = Array.from({ length: 20 }, (_, i) => `role${i}`);
    const withMany = { ...stored, roleKeys: many };
    expect(diffUser(withMany, intent({ roles: [...many].reverse() }))).toEqual({ kind: 'unchanged' });
    const other = [...many.slice(1), 'role99'];
    expect(diffUser(withMany, intent({ roles: other }))).toMatchObject({ kind: 'update', changes: ['roles'] });
  });

  it.each([
    ['name', { name: 'Ana S.' }, { old: 'Ana Silva', new: 'Ana S.' }],
    ['email', { email: 'a@example.com' }, { old: 'ana@example.com', new: 'a@example.com' }],
    ['phone', { phone: '+55 11 1234' }, { old: '5511987654321', new: '+55 11 1234' }],
    ['department', { department: { name: 'Sales', key: 'sales' } }, { old: 'Finance', new: 'Sales' }],
    ['active', { active: false }, { old: true, new: false }],
    ['ignoreMfa', { ignoreMfa: true }, { old: false, new: true }],
    ['roles', { roles: ['auditor'] }, { old: ['administrator', 'auditor'], new: ['auditor'] }],
    ['groups', { groups: [{ name: 'Finance', key: 'finance' }] }, { old: ['it'], new: ['finance'] }],
  ] as const)('changes only %s when only its cell differs', (field, fields, audit) => {
    const diff = diffUser(stored, intent(fields as Partial<PreparedIntent>));
    expect(diff.kind).toBe('update');
    if (diff.kind !== 'update') return;
    expect(diff.changes).toEqual([field]);
    expect(diff.audit[field]).toEqual(audit);
  });

  // Cleared (the clear marker): null, or [] for roles and groups; already empty is no change.
  it('clears E-mail, Phone, Department, Roles and User group, audited as a change to null / []', () => {
    const diff = diffUser(stored, intent({ email: null, phone: null, department: null, roles: [], groups: [] }));
    expect(diff).toMatchObject({ kind: 'update', changes: ['email', 'phone', 'department', 'roles', 'groups'] });
    if (diff.kind !== 'update') return;
    expect(diff.audit).toEqual({
      email: { old: 'ana@example.com', new: null },
      phone: { old: '5511987654321', new: null },
      department: { old: 'Finance', new: null },
      roles: { old: ['administrator', 'auditor'], new: [] },
      groups: { old: ['it'], new: [] },
    });
    expect(diff.next).toMatchObject({
      email: null,
      phone: null,
      departmentKey: null,
      departmentName: null,
      roleKeys: [],
      groupKeys: [],
    });
  });

  it('is unchanged when a cleared field is already empty, and a new user’s cleared field is simply empty', () => {
    const empty = {
      ...stored,
      email: null,
      phone: null,
      departmentKey: null,
      departmentName: null,
      roleKeys: [],
      groupKeys: [],
    };
    expect(diffUser(empty, intent({ email: null, phone: null, department: null, roles: [], groups: [] }))).toEqual({
      kind: 'unchanged',
    });
    const created = diffUser(undefined, intent({ name: 'New', email: null, department: null, roles: [] }));
    expect(created).toMatchObject({
      kind: 'create',
      changes: ['name', 'active', 'ignoreMfa'],
      next: { email: null, departmentKey: null, roleKeys: [] },
    });
  });

  it('records a password change only as "changed"', () => {
    const diff = diffUser(stored, intent({ passwordHash: '$argon2id$new' }));
    expect(diff).toMatchObject({ kind: 'update', changes: ['password'], audit: { password: { changed: true } } });
    expect(JSON.stringify(diff.kind === 'update' ? diff.audit : {})).not.toContain('argon2id');
  });

  it('needs a Name for a new user', () => {
    expect(diffUser(undefined, intent({ email: 'x@example.com' }))).toMatchObject({
      kind: 'fail',
      code: 'ROW_NAME_MISSING',
    });
  });

  it('creates with the defaults Active = Yes and Ignore MFA = No', () => {
    const diff = diffUser(undefined, intent({ name: 'New Person' }));
    expect(diff).toMatchObject({
      kind: 'create',
      next: { active: true, ignoreMfa: false, email: null, roleKeys: [], passwordHash: null },
    });
  });

  describe('createdAuditJson: a new user’s audit record, written as JSON directly', () => {
    const names = {
      roles: (keys: readonly string[]) => keys.map((k) => (k === 'auditor' ? 'Auditor' : k)),
      groups: (keys: readonly string[]) => keys.map((k) => k.toUpperCase()),
    };
    const created = (fields: Partial<PreparedIntent>) => {
      const diff = diffUser(undefined, intent(fields));
      if (diff.kind !== 'create') throw new Error(`expected a create, got ${diff.kind}`);
      return createdAuditJson(diff.next, diff.changes, names);
    };

    it('lists every filled field from null, in the order of its changes, with roles and groups by name', () => {
      const json = created({
        name: 'Ana "A" Silva',
        email: 'ana@example.com',
        phone: '+55 11',
        department: { name: 'Finance', key: 'finance' },
        ignoreMfa: true,
        passwordHash: '$argon2id$v=19$secret',
        roles: ['zeta', 'auditor'],
        groups: [{ name: 'it', key: 'it' }],
      });
      expect(JSON.parse(json)).toEqual({
        name: { old: null, new: 'Ana "A" Silva' },
        email: { old: null, new: 'ana@example.com' },
        phone: { old: null, new: '+55 11' },
        department: { old: null, new: 'Finance' },
        active: { old: null, new: true },
        ignoreMfa: { old: null, new: true },
        password: { changed: true },
        roles: { old: null, new: ['Auditor', 'zeta'] },
        groups: { old: null, new: ['IT'] },
      });
      expect(Object.keys(JSON.parse(json))).toEqual([
        'name',
        'email',
        'phone',
        'department',
        'active',
        'ignoreMfa',
        'password',
        'roles',
        'groups',
      ]);
      expect(json).not.toContain('argon2id');
    });

    it('leaves out blank fields, and keeps the defaults Active = Yes and Ignore MFA = No', () => {
      expect(created({ name: 'New Person' })).toBe(
        '{"name":{"old":null,"new":"New Person"},"active":{"old":null,"new":true},"ignoreMfa":{"old":null,"new":false}}',
      );
    });
  });
});

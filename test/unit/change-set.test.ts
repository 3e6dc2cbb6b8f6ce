/**
 * The change set of a batch (apply/change-set.ts): what every sink writes, worked out once.
 * Cases: a new user, a stored user that changed, one unchanged, one whose row failed validation
 * (kept in file order), a group the catalogue lacks (named as written), and a dry run's labels.
 */
import { describe, expect, it } from 'vitest';
import type { RawRow } from '../../src/domain/columns.js';
import type { PreparedIntent, StoredUser } from '../../src/domain/merge.js';
import { buildChangeSet, forEachMembershipChange, type ChangeContext } from '../../src/pipeline/apply/change-set.js';
import type { PreparedBatch } from '../../src/pipeline/apply/prepare.js';

const NOW = '2026-01-02T03:04:05.000Z';

const stored = (username: string, id: number, overrides: Partial<StoredUser> = {}): StoredUser => ({
  id,
  username,
  name: 'Stored Name',
  email: null,
  phone: null,
  departmentKey: 'it',
  departmentName: 'IT',
  active: true,
  ignoreMfa: false,
  passwordHash: null,
  passwordUpdatedAt: null,
  createdAt: '2025-01-01T00:00:00.000Z',
  roleKeys: ['viewer'],
  groupKeys: [],
  ...overrides,
});

function context(overrides: Partial<ChangeContext> = {}): ChangeContext {
  return {
    importId: 7,
    actor: 'tester',
    feed: 'inbox',
    now: NOW,
    dryRun: false,
    catalog: {
      roles: new Map([
        ['viewer', { id: 1, name: 'Viewer' }],
        ['auditor', { id: 2, name: 'Auditor' }],
      ]),
      groups: new Map(),
    },
    createMissingGroups: true,
    ...overrides,
  };
}

function batch(): PreparedBatch {
  const raw = (row: number): RawRow => ({ row, cells: [] }) as unknown as RawRow;
  const intents: PreparedIntent[] = [
    {
      row: 2,
      username: 'new.user',
      name: 'New User',
      department: { key: 'sales', name: 'Sales' },
      roles: ['auditor'],
      groups: [{ key: 'night shift', name: 'Night Shift' }],
    },
    { row: 4, username: 'changed', phone: '555', roles: ['auditor'] },
    { row: 5, username: 'same', name: 'Stored Name' },
  ];
  return {
    intents,
    raws: intents.map((i) => raw(i.row)),
    failed: [{ row: 3, username: 'bad', code: 'ROW_INVALID_EMAIL', message: 'bad e-mail', raw: raw(3) }],
    order: [0, -1, 1, 2],
    stored: new Map([
      ['changed', stored('changed', 10)],
      ['same', stored('same', 11)],
    ]),
  };
}

describe('buildChangeSet', () => {
  it('gives every row its outcome in file order, failed rows with the rest', () => {
    const changes = buildChangeSet(batch(), context());
    expect(changes.rows.map((r) => [r.row, r.username, r.status])).toEqual([
      [2, 'new.user', 'created'],
      [3, 'bad', 'failed'],
      [4, 'changed', 'updated'],
      [5, 'same', 'unchanged'],
    ]);
    expect(changes.rows[1]).toMatchObject({ code: 'ROW_INVALID_EMAIL', message: 'bad e-mail' });
  });

  it('labels a dry run’s rows as what they would be', () => {
    const changes = buildChangeSet(batch(), context({ dryRun: true }));
    expect(changes.rows.map((r) => r.status)).toEqual(['would-create', 'failed', 'would-update', 'unchanged']);
  });

  it('splits new and changed users, with the department by key and the batch’s time', () => {
    const changes = buildChangeSet(batch(), context());
    expect(changes.creates.map((row) => [row[0], row[4], row[9], row[11]])).toEqual([['new.user', 'sales', NOW, 7]]);
    expect(changes.updates.map((row) => [row[0], row[3], row[9]])).toEqual([
      ['changed', '555', '2025-01-01T00:00:00.000Z'],
    ]);
    expect([...changes.departments]).toEqual([
      ['sales', 'Sales'],
      ['it', 'IT'],
    ]);
  });

  it('lists the groups the catalogue lacks only when import.createMissingGroups is on', () => {
    expect([...buildChangeSet(batch(), context()).newGroups]).toEqual([['night shift', 'Night Shift']]);
    expect(buildChangeSet(batch(), context({ createMissingGroups: false })).newGroups.size).toBe(0);
  });

  it('audits each change once, naming roles and new groups as people wrote them', () => {
    const changes = buildChangeSet(batch(), context());
    expect(changes.userEvents.map((e) => [e.action, e.username, e.row, e.at, e.actor, e.importId])).toEqual([
      ['user.created', 'new.user', 2, NOW, 'tester', 7],
      ['user.updated', 'changed', 4, NOW, 'tester', 7],
    ]);
    const created = JSON.parse(JSON.stringify(changes.userEvents[0]?.changes)) as Record<string, { new: unknown }>;
    expect(created.groups?.new).toEqual(['Night Shift']);
    expect(created.roles?.new).toEqual(['Auditor']);
    expect(changes.userEvents[1]?.changes).toMatchObject({ roles: { old: ['Viewer'], new: ['Auditor'] } });
  });

  it('names whose memberships to replace, with the stored id of users that exist', () => {
    const changes = buildChangeSet(batch(), context());
    const seen: unknown[] = [];
    forEachMembershipChange(changes, 'roles', (username, storedId, keys) => seen.push([username, storedId, keys]));
    expect(seen).toEqual([
      ['new.user', undefined, ['auditor']],
      ['changed', 10, ['auditor']],
    ]);
  });
});

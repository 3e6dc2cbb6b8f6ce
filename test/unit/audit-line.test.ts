import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changesJson, type AuditEvent } from '../../src/db/repositories/audit.js';
import { openAuditLog } from '../../src/logging/audit-log.js';
import { auditLine, createAuditTrail } from '../../src/pipeline/audit.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-audit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const events: AuditEvent[] = [
  {
    at: '2026-11-25T02:00:00.000Z',
    importId: 7,
    row: 12,
    username: 'ann',
    action: 'user.created',
    changes: {
      name: { old: null, new: 'Ann "Quote" Lee\n東京' },
      password: { changed: true },
      roles: { old: [], new: ['agent', 'admin'] },
    },
    actor: 'ana@host-1',
  },
  {
    at: '2026-11-25T02:00:01.000Z',
    importId: null,
    row: null,
    username: null,
    action: 'department.created',
    changes: { name: 'Sales \\ Ops' },
    actor: 'daemon',
  },
  {
    at: '2026-11-25T02:00:02.000Z',
    importId: 8,
    row: null,
    username: null,
    action: 'import.started',
    changes: null,
    actor: null,
  },
];

describe('audit log line', () => {
  it('is the JSON of {action, at, importId, row, username, actor, changes}, byte for byte, with changes serialised once', () => {
    for (const e of events) {
      const json = changesJson(e);
      expect(auditLine(e)).toBe(
        JSON.stringify({
          action: e.action,
          at: e.at,
          importId: e.importId,
          row: e.row,
          username: e.username,
          actor: e.actor,
          changes: e.changes,
        }),
      );
      expect(json).toBe(e.changes === null ? null : JSON.stringify(e.changes));
      // Remembered: a second call does not serialise again (events are never changed once made).
      const later = { ...e.changes, extra: 1 };
      Object.assign(e.changes ?? {}, later);
      expect(changesJson(e)).toBe(json);
    }
  });
});

describe('staged audit lines', () => {
  const event = (row: number): AuditEvent => ({
    at: '2026-11-25T02:00:00.000Z',
    importId: 3,
    row,
    username: `user${row}`,
    action: 'user.created',
    changes: { name: { old: null, new: `Ann ${row} 東京` } },
    actor: row % 2 === 0 ? 'daemon' : 'bo "b" <x>@host',
  });

  it('reach the audit log only when committed, as the lines of their events', async () => {
    const logs = join(dir, 'logs');
    const log = openAuditLog({ dir: logs });
    const trail = createAuditTrail(log, { dialect: 'sqlite', maxInsertRows: 500 });
    const committed = Array.from({ length: 3_000 }, (_, i) => event(i + 2));
    const rolledBack = trail.stage([event(99_999)]);
    const staged = trail.stage(committed);
    expect(rolledBack.count).toBe(1);
    trail.committedLines(staged);
    // Lines staged before a writer thread chained their events get their seq and hash as written.
    const next = [event(5_000), event(5_001)];
    const chained = { ...trail.stage(next), chained: { first: 41, hashes: 'a'.repeat(64) + 'b'.repeat(64) } };
    trail.committedLines(chained);
    await log.close();
    const text = await readFile(join(logs, 'audit.log'), 'utf8');
    const withPlace = (e: AuditEvent, seq: number, hash: string) => auditLine({ ...e, seq, hash });
    expect(text).toBe(
      [
        ...committed.map(auditLine),
        withPlace(next[0] as AuditEvent, 41, 'a'.repeat(64)),
        withPlace(next[1] as AuditEvent, 42, 'b'.repeat(64)),
      ]
        .map((line) => `${line}\n`)
        .join(''),
    );
    expect(JSON.parse(text.trimEnd().split('\n').at(-1) as string)).toMatchObject({
      seq: 42,
      hash: 'b'.repeat(64),
      action: 'user.created',
      username: 'user5001',
    });
    expect(text).not.toContain('user99999');
  });
});

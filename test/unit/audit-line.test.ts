import { describe, expect, it } from 'vitest';
import { changesJson, type AuditEvent } from '../../src/db/repositories/audit.js';
import { auditLine } from '../../src/pipeline/audit.js';

const events: AuditEvent[] = [
  { at: '2026-11-25T02:00:00.000Z', importId: 7, row: 12, username: 'ann', action: 'user.created', changes: { name: { old: null, new: 'Ann "Quote" Lee\n東京' }, password: { changed: true }, roles: { old: [], new: ['agent', 'admin'] } } },
  { at: '2026-11-25T02:00:01.000Z', importId: null, row: null, username: null, action: 'department.created', changes: { name: 'Sales \\ Ops' } },
  { at: '2026-11-25T02:00:02.000Z', importId: 8, row: null, username: null, action: 'import.started', changes: null },
];

describe('audit log line', () => {
  it('is the JSON of {action, at, importId, row, username, changes}, byte for byte, with changes serialised once', () => {
    for (const e of events) {
      const json = changesJson(e);
      expect(auditLine(e)).toBe(JSON.stringify({ action: e.action, at: e.at, importId: e.importId, row: e.row, username: e.username, changes: e.changes }));
      expect(json).toBe(e.changes === null ? null : JSON.stringify(e.changes));
      // Remembered: a second call does not serialise again (events are never changed once made).
      const later = { ...e.changes, extra: 1 };
      Object.assign(e.changes ?? {}, later);
      expect(changesJson(e)).toBe(json);
    }
  });
});

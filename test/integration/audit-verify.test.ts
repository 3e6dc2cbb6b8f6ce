import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/app/audit-verify.js';
import { configSchema } from '../../src/config/schema.js';
import { GENESIS_HASH, eventHash } from '../../src/domain/audit-chain.js';
import { createDatabase, type Database } from '../../src/db/knex.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrationSource } from '../../src/db/migrations/index.js';
import { createLogger } from '../../src/logging/logger.js';
import {
  appendChained,
  auditLogLine,
  resetTrail,
  sampleEvent,
  storedEvents,
  type StoredChainRow,
} from '../helpers/audit-chain.js';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { describeEachDatabase } from '../helpers/databases.js';

const logger = createLogger(configSchema.parse({}).logs, { files: false, consoleLevel: 'error' });

interface Verdict {
  ok: boolean;
  seq?: number | null;
  problem?: string;
  check?: string;
  line?: number;
  eventId?: number;
  events?: number;
  head?: { seq: number; hash: string };
  log?: { lines: number; checked: number; withoutSeq: number };
}

describeEachDatabase(
  'usersync audit verify: the audit chain walked, each kind of tampering found and named',
  (database) => {
    let db: Database;
    let cwd: string;
    const usersync = (...args: string[]) =>
      runUsersync(['audit', 'verify', ...args], { cwd, env: { USERSYNC_DATABASE_URL: database().url } });
    /** `audit verify --json`: the verdict, after checking the exit code goes with it. */
    const verify = async (...args: string[]): Promise<Verdict> => {
      const result = await usersync('--json', ...args);
      expect(result.stderr).toBe('');
      const verdict = JSON.parse(result.stdout) as Verdict;
      expect(result.code).toBe(verdict.ok ? 0 : 1);
      return verdict;
    };
    const bySeq = async () => new Map((await storedEvents(db.knex)).map((e) => [e.seq, e] as const));
    /** A fresh trail of `n` chained events; returns them in seq order. */
    const freshTrail = async (n = 12): Promise<StoredChainRow[]> => {
      await resetTrail(db.knex);
      await appendChained(
        db.knex,
        Array.from({ length: n }, (_, i) => sampleEvent(i)),
      );
      return (await storedEvents(db.knex)).sort((a, b) => a.seq! - b.seq!);
    };

    beforeAll(() => {
      cwd = makeWorkdir();
      db = createDatabase({ database: { ...configSchema.parse({}).database, url: database().url } }, logger);
    });
    afterAll(async () => {
      await db?.destroy();
    });

    it('chains the events of a database made before the chain in id order, across pages, and verify finds it intact', async () => {
      for (let i = 0; i < 5; i++) await db.knex.migrate.up({ migrationSource, tableName: 'knex_migrations' }); // to 0005
      // 450 events (more than one of the migration's pages), their times out of id order: the
      // chain follows the order they were written (id), not their times.
      const old = Array.from({ length: 450 }, (_, i) => {
        const e = sampleEvent(i);
        return {
          at: new Date(Date.UTC(2026, 0, 1, 0, 0, (i * 7919) % 450)).toISOString(),
          import_id: e.importId,
          row: e.row,
          username: e.username,
          action: e.action,
          changes: i % 10 === 0 ? null : e.changes,
          actor: i % 2 === 0 ? null : e.actor,
        };
      });
      for (let i = 0; i < old.length; i += 150) await db.knex('audit_events').insert(old.slice(i, i + 150));
      await migrateToLatest(db);

      const events = await storedEvents(db.knex);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
      let prev = GENESIS_HASH;
      for (const e of events) {
        expect(e.prevHash).toBe(prev);
        expect(e.hash).toBe(
          eventHash(e.seq!, prev, [e.at, e.importId, e.row, e.username, e.action, e.changes, e.actor]),
        );
        prev = e.hash!;
      }
      expect(await verify()).toEqual({ ok: true, events: 450, head: { seq: 450, hash: prev } });
      // Events appended after the migration go on from its head.
      const head = await appendChained(db.knex, [sampleEvent(1000)]);
      expect(head.seq).toBe(451);
      expect(await verify()).toEqual({ ok: true, events: 451, head });
    });

    it('says an intact trail is intact, with its head, in words and in JSON (exit 0)', async () => {
      const trail = await freshTrail();
      const last = trail[11]!;
      const text = await usersync();
      expect(text).toMatchObject({ code: 0, stderr: '' });
      expect(text.stdout).toBe(`The audit trail is intact: 12 events, head 12:${last.hash}\n`);
      expect(await verify()).toEqual({ ok: true, events: 12, head: { seq: 12, hash: last.hash } });
      expect(await verify('--anchor', `7:${trail[6]!.hash!.toUpperCase()}`)).toMatchObject({ ok: true, events: 12 });
    });

    it('walks page by page: intact across page boundaries, and a gap at a boundary found', async () => {
      await freshTrail(10);
      expect(await verifyAuditChain(db.knex, { page: 3 })).toMatchObject({ ok: true, events: 10, head: { seq: 10 } });
      await db.knex('audit_events').where('seq', 4).delete();
      expect(await verifyAuditChain(db.knex, { page: 3 })).toMatchObject({ ok: false, seq: 4, check: 'gap' });
    });

    it('finds an event whose field was changed', async () => {
      await freshTrail();
      await db.knex('audit_events').where('seq', 5).update({ username: 'mallory' });
      const verdict = await verify();
      expect(verdict).toMatchObject({ ok: false, seq: 5, check: 'changed' });
      expect(verdict.problem).toMatch(/^event 5 \(user\.updated at .*\) was changed after it was written/);
      const text = await usersync();
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^The audit trail in .* is BROKEN at event 5: event 5 .* was changed/);
    });

    it('finds a changed event whose hash was recomputed, at the next event', async () => {
      await freshTrail();
      const e = (await bySeq()).get(5)!;
      const changes = JSON.stringify({ department: { old: 'HR', new: 'Finance' } });
      const hash = eventHash(5, e.prevHash!, [e.at, e.importId, e.row, e.username, e.action, changes, e.actor]);
      await db.knex('audit_events').where('seq', 5).update({ changes, hash });
      expect(await verify()).toMatchObject({ ok: false, seq: 6, check: 'link' });
    });

    it('finds a deleted event in the middle: the gap it leaves', async () => {
      await freshTrail();
      await db.knex('audit_events').where('seq', 6).delete();
      const verdict = await verify();
      expect(verdict).toMatchObject({ ok: false, seq: 6, check: 'gap' });
      expect(verdict.problem).toMatch(/^event 6 is missing: the chain jumps from event 5 to event 7/);
    });

    it('finds the newest events deleted, from the chain head; and with --anchor when the head row was rewritten too', async () => {
      const trail = await freshTrail();
      await db.knex('audit_events').where('seq', '>', 10).delete();
      const verdict = await verify();
      expect(verdict).toMatchObject({ ok: false, seq: 11, check: 'head' });
      expect(verdict.problem).toMatch(
        /the newest events were deleted: the chain head \(audit_chain\) records event 12/,
      );

      await db.knex('audit_chain').where('id', 1).update({ seq: 10, hash: trail[9]!.hash });
      expect(await verify()).toMatchObject({ ok: true, events: 10 });
      const anchored = await verify('--anchor', `12:${trail[11]!.hash}`);
      expect(anchored).toMatchObject({ ok: false, seq: 12, check: 'anchor' });
      expect(anchored.problem).toMatch(/event 12 of the anchor is no longer in the chain .*newest events were deleted/);
      expect(await verify('--anchor', `9:${trail[8]!.hash}`)).toMatchObject({ ok: true, events: 10 });
    });

    it('finds history rewritten before an anchor, every hash recomputed after it', async () => {
      const trail = await freshTrail();
      await resetTrail(db.knex);
      await appendChained(db.knex, [
        ...trail.slice(0, 2),
        { ...trail[2]!, username: 'someone-else' },
        ...trail.slice(3),
      ]);
      expect(await verify()).toMatchObject({ ok: true, events: 12 });
      const verdict = await verify('--anchor', `8:${trail[7]!.hash}`);
      expect(verdict).toMatchObject({ ok: false, seq: 8, check: 'anchor' });
      expect(verdict.problem).toMatch(/^event 8 has hash .*, not the anchor's .*: the history up to it was rewritten/);
    });

    it('finds two events whose contents were swapped', async () => {
      await freshTrail();
      const events = await bySeq();
      const content = (e: StoredChainRow) => ({
        at: e.at,
        import_id: e.importId,
        row: e.row,
        username: e.username,
        action: e.action,
        changes: e.changes,
        actor: e.actor,
      });
      await db
        .knex('audit_events')
        .where('seq', 4)
        .update(content(events.get(7)!));
      await db
        .knex('audit_events')
        .where('seq', 7)
        .update(content(events.get(4)!));
      expect(await verify()).toMatchObject({ ok: false, seq: 4, check: 'changed' });
    });

    it('finds two events reordered (each keeps its own prev_hash and hash, their seqs swapped)', async () => {
      await freshTrail();
      const events = await bySeq();
      // Through a free seq: seq is unique.
      await db.knex('audit_events').where('id', events.get(4)!.id).update({ seq: 1000 });
      await db.knex('audit_events').where('id', events.get(7)!.id).update({ seq: 4 });
      await db.knex('audit_events').where('id', events.get(4)!.id).update({ seq: 7 });
      const verdict = await verify();
      expect(verdict).toMatchObject({ ok: false, seq: 4, check: 'link' });
      expect(verdict.problem).toMatch(/^event 4 does not follow event 3: .*removed, inserted or reordered/);
    });

    it('finds an event written around the chain (no seq)', async () => {
      await freshTrail();
      const { at, username, action, actor } = sampleEvent(99);
      await db.knex('audit_events').insert({ at, username, action, actor, import_id: 1, row: null, changes: null });
      const [outside] = (await storedEvents(db.knex)).filter((e) => e.seq === null);
      const verdict = await verify();
      expect(verdict).toMatchObject({ ok: false, seq: null, check: 'unchained', eventId: outside!.id });
      expect(verdict.problem).toBe(
        `an event has no place in the chain (no seq), the first with id ${outside!.id}: written around the chain, not by usersync`,
      );
    });

    it('checks audit.log against the table: lines before the chain skipped, changes compared as objects, an edited line named', async () => {
      const trail = await freshTrail();
      const logFile = path.join(cwd, 'audit.log');
      const before =
        '{"action":"user.created","at":"2026-10-01T00:00:00.000Z","importId":1,"row":2,"username":"old","actor":null,"changes":null}';
      const lines = trail.map(auditLogLine);
      // The same changes written with other spacing and key order: the same object.
      const spaced = JSON.parse(lines[3]!) as Record<string, unknown>;
      lines[3] = JSON.stringify(
        { ...spaced, changes: Object.fromEntries(Object.entries(spaced.changes as object).reverse()) },
        null,
        0,
      ).replace(/,/g, ', ');
      writeFileSync(logFile, [before, before, ...lines].join('\n') + '\n');
      expect(await verify('--log', logFile)).toEqual({
        ok: true,
        events: 12,
        head: { seq: 12, hash: trail[11]!.hash },
        log: { file: logFile, lines: 14, checked: 12, withoutSeq: 2 },
      });
      const text = await usersync('--log', logFile);
      expect(text.stdout).toContain(
        `${logFile} agrees with it: 12 lines checked; 2 lines from before the chain skipped.`,
      );

      // Line 9 of the file is event 7: its changes edited.
      const edited = [before, before, ...lines];
      edited[8] = edited[8]!.replace('Sales', 'Admins');
      writeFileSync(logFile, edited.join('\n') + '\n');
      const verdict = await verify('--log', logFile);
      expect(verdict).toMatchObject({ ok: false, seq: 7, line: 9, check: 'log' });
      expect(verdict.problem).toBe(
        `line 9 of ${logFile} (event 7) does not match the table's event 7 in its changes. The file or the table was edited`,
      );

      // A line for an event the table no longer has, and a line whose hash was changed.
      writeFileSync(logFile, [...lines, auditLogLine({ ...trail[11]!, seq: 13 })].join('\n') + '\n');
      expect(await verify('--log', logFile)).toMatchObject({ ok: false, seq: 13, line: 13, check: 'log' });
      writeFileSync(logFile, [...lines.slice(0, 2), lines[2]!.replace(trail[2]!.hash!, 'f'.repeat(64))].join('\n'));
      expect(await verify('--log', logFile)).toMatchObject({ ok: false, seq: 3, line: 3, check: 'log' });
      // A line cut short (a disk that filled up, or an edit).
      writeFileSync(logFile, [...lines.slice(0, 4), lines[4]!.slice(0, 40)].join('\n') + '\n');
      const cut = await verify('--log', logFile);
      expect(cut).toMatchObject({ ok: false, seq: null, line: 5, check: 'log' });
      expect(cut.problem).toBe(`line 5 of ${logFile} is not a JSON line: it was cut short or edited`);
    });

    it('refuses a malformed anchor and an unreadable log file (exit 2), naming the code', async () => {
      await freshTrail(2);
      const anchor = await usersync('--anchor', '12:abc');
      expect(anchor.code).toBe(2);
      expect(anchor.stderr).toContain('(code AUDIT_ANCHOR_INVALID)');
      const log = await usersync('--log', path.join(cwd, 'no-such.log'));
      expect(log.code).toBe(2);
      expect(log.stderr).toContain('(code AUDIT_LOG_UNREADABLE)');
      expect(log.stdout).toBe('');
    });
  },
);

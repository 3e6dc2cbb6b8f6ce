import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureConfiguredCatalog } from '../../src/app/configured-catalog.js';
import { configSchema } from '../../src/config/schema.js';
import { createDatabase, type Database } from '../../src/db/knex.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrationNames, migrationSource } from '../../src/db/migrations/index.js';
import {
  insertAuditEvents,
  queryAuditEvents,
  type AuditEvent,
  type StoredAuditEvent,
} from '../../src/db/repositories/audit.js';
import { getImport } from '../../src/db/repositories/imports.js';
import { openAuditLog } from '../../src/logging/audit-log.js';
import { createLogger } from '../../src/logging/logger.js';
import { createAuditTrail } from '../../src/pipeline/audit.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, writeCsv } from '../fixtures/build.js';

const logger = createLogger(configSchema.parse({}).logs, { files: false, consoleLevel: 'error' });

describeEachDatabase('actors and the configured catalogue', (database) => {
  let db: Database;
  let dir: string;
  const pipes: TestPipeline[] = [];
  beforeAll(() => {
    db = createDatabase({ database: { ...configSchema.parse({}).database, url: database().url } }, logger);
    dir = fixtureDir();
  });
  afterAll(async () => {
    for (const pipe of pipes) await pipe.close();
    await db?.destroy();
  });
  const all = async (filter: Parameters<typeof queryAuditEvents>[1] = {}) => {
    const events: StoredAuditEvent[] = [];
    for await (const event of queryAuditEvents(db.knex, filter)) events.push(event);
    return events;
  };
  const auditLogLines = (pipe: TestPipeline) =>
    readFileSync(path.join(pipe.dir, 'logs', 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it('upgrades a database made by the first migration: earlier events and imports keep a null actor', async () => {
    await db.knex.migrate.up({ migrationSource, tableName: 'knex_migrations' }); // 0001-initial only
    const at = new Date().toISOString();
    const [importId] = await db.knex('imports').insert({
      original_name: 'old.csv',
      sha256: 'a'.repeat(64),
      bytes: 1,
      source: 'watch',
      host: 'h',
      status: 'imported',
      started_at: at,
    });
    await db.knex('audit_events').insert({ at, import_id: importId, action: 'import.started', changes: null });
    expect((await migrateToLatest(db)).applied).toEqual(migrationNames().slice(1));
    expect((await getImport(db.knex, Number(importId)))?.actor).toBeNull();
    expect(await all()).toEqual([expect.objectContaining({ action: 'import.started', actor: null })]);
    await insertAuditEvents(db.knex, db, [
      {
        at,
        importId: null,
        row: null,
        username: null,
        action: 'role.removed',
        changes: { name: 'X' },
        actor: 'ana@host',
      },
    ]);
    expect((await all()).map((e) => e.actor)).toEqual([null, 'ana@host']);
    await db.knex('audit_events').delete();
    await db.knex('imports').delete();
  });

  it('records the import’s actor in the register, on every event it writes, in the audit log and in the report', async () => {
    // Through the writer thread (the default) and through knex on the import's own connection (import.atomic).
    for (const [atomic, actor] of [
      [false, 'hr-bot@box'],
      [true, 'daemon'],
    ] as const) {
      const pipe = await createTestPipeline(database().url, { import: { atomic } });
      pipes.push(pipe);
      const file = writeCsv(path.join(dir, `actor-${atomic}.csv`), [
        TEMPLATE,
        ['Ann Actor', `ann.${atomic}`, '', `Dept ${atomic}`, '', '', '', '', 'Viewer', ''],
        ['Bo Actor', `bo.${atomic}`, '', '', '', '', '', '', '', ''],
      ]);
      const result = await pipe.run(file, { actor });
      expect(result.exitCode).toBe(0);
      const importId = result.summary.importId as number;
      expect((await getImport(db.knex, importId))?.actor).toBe(actor);
      const events = await all({ importId });
      expect(events.map((e) => e.action)).toEqual([
        'import.started',
        'department.created',
        'user.created',
        'user.created',
        'import.finished',
      ]);
      expect(events.every((e) => e.actor === actor)).toBe(true);
      const lines = auditLogLines(pipe).filter((line) => line.importId === importId);
      expect(lines.map((line) => [line.action, line.actor])).toEqual(events.map((e) => [e.action, actor]));
      expect(pipe.report(result).actor).toBe(actor);
    }
  });

  it('with a limit, reads the newest matching events, oldest first', async () => {
    const at = new Date().toISOString();
    const event = (username: string, n: number): AuditEvent => ({
      at,
      importId: null,
      row: n,
      username,
      action: 'user.updated',
      changes: { n },
      actor: 'test',
    });
    await insertAuditEvents(
      db.knex,
      db,
      Array.from({ length: 2500 }, (_, n) => event(n % 2 === 0 ? 'even' : 'odd', n)),
    );
    const everything = await all();
    const rows = async (filter: Parameters<typeof queryAuditEvents>[1]) => (await all(filter)).map((e) => e.row);
    expect(await rows({ limit: 3 })).toEqual(everything.slice(-3).map((e) => e.row));
    expect(await rows({ limit: 3 })).toEqual([2497, 2498, 2499]);
    expect(await rows({ username: 'odd', limit: 2 })).toEqual([2497, 2499]);
    // More than a page, across the 1,000-row pages.
    expect(await rows({ username: 'even', limit: 1200 })).toEqual(Array.from({ length: 1200 }, (_, i) => 100 + 2 * i));
    // Fewer matches than the limit: all of them.
    expect((await all({ username: 'even', limit: 5000 })).length).toBe(1250);
    expect(await all({ username: 'nobody', limit: 3 })).toEqual([]);
    await db.knex('audit_events').where('actor', 'test').delete();
  });

  it('creates the configured roles and groups that are missing, once, each audited with the actor', async () => {
    const dirLogs = path.join(fixtureDir(), 'logs');
    const auditLog = openAuditLog({ dir: dirLogs });
    const trail = createAuditTrail(auditLog, db);
    await db
      .knex('roles')
      .insert({ name: 'Night Shift', name_key: 'night shift', created_at: new Date().toISOString() });
    const catalog = { roles: ['Approver', ' NIGHT   shift ', 'approver'], groups: ['Finance Team'] };
    const catalogEvents = async () =>
      (await all()).filter((e) => e.action === 'role.created' || e.action === 'group.created');
    expect(await ensureConfiguredCatalog(db, catalog, trail, 'ops@jump01')).toEqual({
      roles: ['Approver'],
      groups: ['Finance Team'],
    });
    expect(
      await db.knex('roles').whereIn('name_key', ['approver', 'night shift']).orderBy('name_key').pluck('name'),
    ).toEqual(['Approver', 'Night Shift']);
    const created = await catalogEvents();
    expect(created).toEqual([
      expect.objectContaining({
        action: 'role.created',
        changes: { name: 'Approver', config: 'catalog.roles' },
        actor: 'ops@jump01',
        importId: null,
      }),
      expect.objectContaining({
        action: 'group.created',
        changes: { name: 'Finance Team', config: 'catalog.groups' },
        actor: 'ops@jump01',
        importId: null,
      }),
    ]);
    // Present now: nothing more is created or audited.
    expect(await ensureConfiguredCatalog(db, catalog, trail, 'daemon')).toEqual({ roles: [], groups: [] });
    expect(await catalogEvents()).toHaveLength(2);
    await auditLog.close();
    const lines = readFileSync(path.join(dirLogs, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.action, line.actor])).toEqual([
      ['role.created', 'ops@jump01'],
      ['group.created', 'ops@jump01'],
    ]);
  });
});

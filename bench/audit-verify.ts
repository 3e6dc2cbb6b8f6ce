/**
 * `usersync audit verify` over a large audit trail (SPEC §10: hashing under 0.2 s of CPU per
 * 100,000 events; the walk in flat memory). Fills a fresh database with N chained events (hashed
 * here with node:crypto from the encoding in docs/audit-chain.md, independently of src/), then
 * measures the command as a whole process: wall time, CPU and peak RSS.
 *
 *   npm run build && npm run build:bench
 *   node dist/bench/audit-verify.js [--events 1000000] [--databases sqlite,mysql] [--mysql URL]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import knex, { type Knex } from 'knex';
import { measure } from './measure.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'usersync.js');
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    databases: { type: 'string', default: 'sqlite,mysql' },
    mysql: { type: 'string', default: process.env.USERSYNC_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306' },
  },
});
const events = Number(values.events);

/** Appends `count` chained events of a plausible size (an import's user updates) in 500-row statements. */
async function fill(db: Knex, count: number): Promise<void> {
  let prev = '0'.repeat(64);
  for (let seq = 1; seq <= count;) {
    await db.transaction(async (trx) => {
      for (let s = 0; s < 100 && seq <= count; s++) {
        const rows = [];
        for (let i = 0; i < 500 && seq <= count; i++, seq++) {
          const at = new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString();
          const fields = [at, 1 + Math.floor(seq / 1000), 2 + (seq % 1000), `user${seq}`, 'user.updated'] as const;
          const changes = JSON.stringify({
            department: { old: 'HR', new: `Dept ${seq % 97}` },
            groups: { old: ['IT'], new: ['IT', 'Sales'] },
          });
          const actor = 'usersync@bench';
          // docs/audit-chain.md's encoding, written out here rather than taken from src/.
          const hash = createHash('sha256')
            .update(`${JSON.stringify([seq, prev, ...fields, actor])}\n${changes}`)
            .digest('hex');
          const [, importId, row, username, action] = fields;
          rows.push({ at, import_id: importId, row, username, action, changes, actor, seq, prev_hash: prev, hash });
          prev = hash;
        }
        await trx('audit_events').insert(rows);
      }
    });
  }
  await db('audit_chain').where('id', 1).update({ seq: count, hash: prev });
}

async function run(kind: 'sqlite' | 'mysql'): Promise<void> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'usersync-bench-audit-'));
  const name = `usersync_bench_${randomBytes(4).toString('hex')}`;
  const url =
    kind === 'sqlite' ? `sqlite:${path.join(cwd, 'bench.sqlite')}` : `${values.mysql.replace(/\/$/, '')}/${name}`;
  const admin = kind === 'mysql' ? knex({ client: 'mysql2', connection: values.mysql }) : undefined;
  const env = { ...process.env, USERSYNC_DATABASE_URL: url };
  try {
    await admin?.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
    const migrated = await measure(process.execPath, [bin, 'migrate'], { cwd, env });
    if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);
    const db = knex(
      kind === 'sqlite'
        ? { client: 'better-sqlite3', connection: { filename: url.slice(7) }, useNullAsDefault: true }
        : { client: 'mysql2', connection: url },
    );
    const filling = Date.now();
    try {
      await fill(db, events);
    } finally {
      await db.destroy();
    }
    const filled = (Date.now() - filling) / 1000;
    const m = await measure(process.execPath, [bin, 'audit', 'verify', '--json'], { cwd, env });
    const verdict = JSON.parse(m.stdout) as { ok: boolean; events: number };
    if (m.code !== 0 || !verdict.ok || verdict.events !== events)
      throw new Error(`verify failed: ${m.stdout}${m.stderr}`);
    const cpu = m.cpuMs === null ? '?' : `${(m.cpuMs / 1000).toFixed(2)} s CPU`;
    process.stdout.write(
      `${kind}: ${events} events (filled in ${filled.toFixed(0)} s): audit verify ${(m.ms / 1000).toFixed(2)} s, ${cpu}, peak RSS ${m.peakRssMb.toFixed(0)} MB\n`,
    );
  } finally {
    await admin?.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin?.destroy();
    rmSync(cwd, { recursive: true, force: true });
  }
}

for (const kind of values.databases.split(',')) await run(kind.trim() as 'sqlite' | 'mysql');

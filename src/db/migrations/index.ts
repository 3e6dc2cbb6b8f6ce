/**
 * In-code, append-only migrations fed to knex as a migration source (STYLE.md "Database"):
 * no directory scanning, so `.ts` under tests and `.js` from dist/ record the same names
 * (PITFALLS §4.12). Add new migrations at the END; never edit or reorder a shipped one.
 */
import type { Knex } from 'knex';
import * as initial from './0001-initial.js';
import * as actor from './0002-actor.js';
import * as safety from './0003-safety.js';
import * as mirror from './0004-mirror.js';
import * as outbox from './0005-outbox.js';
import * as auditChain from './0006-audit-chain.js';
import * as revert from './0007-revert.js';
import * as targets from './0008-targets.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: Migration]> = [
  ['0001-initial', initial],
  ['0002-actor', actor],
  ['0003-safety', safety],
  ['0004-mirror', mirror],
  ['0005-outbox', outbox],
  ['0006-audit-chain', auditChain],
  ['0007-revert', revert],
  ['0008-targets', targets],
];

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => MIGRATIONS.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = MIGRATIONS.find(([candidate]) => candidate === name);
    if (!found) throw new Error(`Unknown migration ${name}`);
    return found[1];
  },
};

/** Names of every migration this build knows, in order. */
export const migrationNames = (): string[] => MIGRATIONS.map(([name]) => name);

/**
 * Runs the same integration suite on SQLite and on MariaDB/MySQL (STYLE.md "Tests").
 *
 * Each test file gets its own fresh database: a new SQLite file in a temp dir, and a new
 * `usersync_t_<random>` database on the server at USERSYNC_TEST_MYSQL_URL (default
 * mysql://root@127.0.0.1:3306), dropped afterwards. When the server is unreachable the MySQL
 * suite is skipped with a loud notice — unless USERSYNC_TEST_REQUIRE_MYSQL=1 (CI), when it fails.
 * USERSYNC_TEST_DATABASES=sqlite runs only the SQLite suite (database-selection.ts); the other is
 * listed as skipped, and the server is not probed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { afterAll, beforeAll, describe } from 'vitest';
import { type DatabaseKind, selectTestDatabases } from './database-selection.js';

export const MYSQL_SERVER_URL = process.env.USERSYNC_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const selection = selectTestDatabases(process.env);
const requireMysql = selection.requireMysql;
/** The databases this run tests on (USERSYNC_TEST_DATABASES, default both). */
export const TEST_DATABASES = selection.kinds;

export interface TestDatabase {
  /** 'sqlite' or 'mysql'. */
  kind: DatabaseKind;
  /** The database.url for this test file's own fresh database. */
  url: string;
}

async function probeMysql(): Promise<string | undefined> {
  const server = new URL(MYSQL_SERVER_URL);
  const admin = knex({
    client: 'mysql2',
    connection: {
      host: server.hostname,
      port: Number(server.port || 3306),
      user: decodeURIComponent(server.username),
      password: decodeURIComponent(server.password),
      connectTimeout: 2000,
    },
    pool: { min: 0, max: 1 },
  });
  try {
    await admin.raw('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await admin.destroy();
  }
}

const mysqlProblem = TEST_DATABASES.includes('mysql') ? await probeMysql() : undefined;
/** True when tests that need MySQL/MariaDB should be skipped (not selected, or unreachable and not required). */
export const SKIP_MYSQL = !TEST_DATABASES.includes('mysql') || (mysqlProblem !== undefined && !requireMysql);
if (mysqlProblem && !requireMysql) {
  process.stderr.write(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n` +
      `!!! MySQL/MariaDB suite SKIPPED: ${MYSQL_SERVER_URL} unreachable (${mysqlProblem}).\n` +
      `!!! Start MariaDB (start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd)\n` +
      `!!! or set USERSYNC_TEST_REQUIRE_MYSQL=1 to make this a failure.\n` +
      `!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n`,
  );
}

async function adminQuery(sql: string): Promise<void> {
  const server = new URL(MYSQL_SERVER_URL);
  const admin = knex({
    client: 'mysql2',
    connection: {
      host: server.hostname,
      port: Number(server.port || 3306),
      user: decodeURIComponent(server.username),
      password: decodeURIComponent(server.password),
    },
    pool: { min: 0, max: 1 },
  });
  try {
    await admin.raw(sql);
  } finally {
    await admin.destroy();
  }
}

/**
 * `describe`s the suite once per database (or only on those in `kinds`); one left out of
 * TEST_DATABASES is listed as skipped. `database()` inside the suite returns the database of this
 * file; it exists (empty, unmigrated) from `beforeAll` on and is dropped in `afterAll`.
 */
export function describeEachDatabase(
  title: string,
  suite: (database: () => TestDatabase) => void,
  kinds: ReadonlyArray<TestDatabase['kind']> = ['sqlite', 'mysql'],
): void {
  describe.each(kinds)(`${title} [%s]`, (kind) => {
    if (!TEST_DATABASES.includes(kind)) {
      describe.skip(`not in USERSYNC_TEST_DATABASES=${TEST_DATABASES.join(',')}: skipped`, () =>
        suite(() => ({ kind, url: '' })));
      return;
    }
    if (kind === 'mysql' && mysqlProblem) {
      if (requireMysql) {
        describe('MySQL/MariaDB', () => {
          beforeAll(() => {
            throw new Error(`USERSYNC_TEST_REQUIRE_MYSQL=1 but ${MYSQL_SERVER_URL} is unreachable: ${mysqlProblem}`);
          });
          suite(() => {
            throw new Error('MySQL unavailable');
          });
        });
      } else {
        describe.skip('MySQL/MariaDB (unreachable: skipped)', () => suite(() => ({ kind, url: '' })));
      }
      return;
    }
    let current: TestDatabase | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      if (kind === 'sqlite') {
        const dir = mkdtempSync(path.join(tmpdir(), 'usersync-db-'));
        current = { kind, url: `sqlite:${path.join(dir, 'test.sqlite')}` };
        cleanup = async () => rmSync(dir, { recursive: true, force: true });
      } else {
        const name = `usersync_t_${randomBytes(5).toString('hex')}`;
        await adminQuery(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
        current = { kind, url: `${MYSQL_SERVER_URL.replace(/\/$/, '')}/${name}` };
        cleanup = () => adminQuery(`DROP DATABASE IF EXISTS \`${name}\``);
      }
    });
    afterAll(async () => {
      await cleanup?.();
    });
    suite(() => {
      if (!current) throw new Error('the test database is created in beforeAll');
      return current;
    });
  });
}

/** A plain knex connection to a test database, for looking at what a daemon in another process wrote. */
export function connectTo(kind: DatabaseKind, url: string): knex.Knex {
  return knex(
    kind === 'sqlite'
      ? { client: 'better-sqlite3', connection: { filename: url.slice('sqlite:'.length) }, useNullAsDefault: true }
      : { client: 'mysql2', connection: url },
  );
}

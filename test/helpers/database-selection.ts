/**
 * Which databases the integration suite runs on, read from the environment:
 * - USERSYNC_TEST_DATABASES: a comma-separated subset of `sqlite,mysql` (default both). CI runs the
 *   whole suite on one Node.js line and only the SQLite half on the others (README "Development").
 * - USERSYNC_TEST_REQUIRE_MYSQL=1: an unreachable MySQL/MariaDB fails the suite instead of skipping it.
 * Requiring MySQL while leaving it out is refused, so a run that claims MariaDB ran it.
 */
export type DatabaseKind = 'sqlite' | 'mysql';

export const DATABASE_KINDS: ReadonlyArray<DatabaseKind> = ['sqlite', 'mysql'];

export interface DatabaseSelection {
  /** The selected kinds, in DATABASE_KINDS order. */
  kinds: ReadonlyArray<DatabaseKind>;
  requireMysql: boolean;
}

export function selectTestDatabases(env: NodeJS.ProcessEnv): DatabaseSelection {
  const requireMysql = env.USERSYNC_TEST_REQUIRE_MYSQL === '1';
  const raw = env.USERSYNC_TEST_DATABASES?.trim() ?? '';
  if (raw === '') return { kinds: DATABASE_KINDS, requireMysql };
  const names = raw.split(',').map((name) => name.trim().toLowerCase());
  const unknown = names.filter((name) => !(DATABASE_KINDS as ReadonlyArray<string>).includes(name));
  if (unknown.length > 0) {
    const listed = unknown.map((name) => JSON.stringify(name)).join(', ');
    throw new Error(
      `USERSYNC_TEST_DATABASES=${raw}: ${listed} is not a test database. Use sqlite, mysql or sqlite,mysql (the default).`,
    );
  }
  const kinds = DATABASE_KINDS.filter((kind) => names.includes(kind));
  if (requireMysql && !kinds.includes('mysql')) {
    throw new Error(
      `USERSYNC_TEST_REQUIRE_MYSQL=1 requires the MySQL suite, but USERSYNC_TEST_DATABASES=${raw} leaves it out. Add mysql to the list or unset USERSYNC_TEST_REQUIRE_MYSQL.`,
    );
  }
  return { kinds, requireMysql };
}

import { describe, expect, it } from 'vitest';
import { selectTestDatabases } from '../helpers/database-selection.js';

// USERSYNC_TEST_DATABASES picks the integration suite's databases; CI runs the SQLite half alone on
// the Node.js lines that do not run the whole suite. Cases: unset or blank (both), one, both in any
// order and case, an unknown name or an empty entry (refused), MySQL required but left out (refused).
describe('USERSYNC_TEST_DATABASES', () => {
  it('runs both databases when unset or blank', () => {
    expect(selectTestDatabases({})).toEqual({ kinds: ['sqlite', 'mysql'], requireMysql: false });
    expect(selectTestDatabases({ USERSYNC_TEST_DATABASES: ' ', USERSYNC_TEST_REQUIRE_MYSQL: '1' })).toEqual({
      kinds: ['sqlite', 'mysql'],
      requireMysql: true,
    });
  });

  it('runs only the databases listed, in the usual order', () => {
    expect(selectTestDatabases({ USERSYNC_TEST_DATABASES: 'sqlite' }).kinds).toEqual(['sqlite']);
    expect(selectTestDatabases({ USERSYNC_TEST_DATABASES: 'mysql', USERSYNC_TEST_REQUIRE_MYSQL: '1' })).toEqual({
      kinds: ['mysql'],
      requireMysql: true,
    });
    expect(selectTestDatabases({ USERSYNC_TEST_DATABASES: ' MySQL , sqlite' }).kinds).toEqual(['sqlite', 'mysql']);
  });

  it('refuses a name that is not a test database, saying which and what to use', () => {
    expect(() => selectTestDatabases({ USERSYNC_TEST_DATABASES: 'sqlite,postgres' })).toThrow(
      'USERSYNC_TEST_DATABASES=sqlite,postgres: "postgres" is not a test database. Use sqlite, mysql or sqlite,mysql (the default).',
    );
    expect(() => selectTestDatabases({ USERSYNC_TEST_DATABASES: 'sqlite,' })).toThrow('"" is not a test database');
  });

  it('refuses to require MySQL while leaving it out, so a run never claims a suite it skipped', () => {
    expect(() => selectTestDatabases({ USERSYNC_TEST_DATABASES: 'sqlite', USERSYNC_TEST_REQUIRE_MYSQL: '1' })).toThrow(
      'USERSYNC_TEST_REQUIRE_MYSQL=1 requires the MySQL suite, but USERSYNC_TEST_DATABASES=sqlite leaves it out. Add mysql to the list or unset USERSYNC_TEST_REQUIRE_MYSQL.',
    );
  });
});

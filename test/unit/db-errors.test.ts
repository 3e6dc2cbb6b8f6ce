import { describe, expect, it } from 'vitest';
import { mapDatabaseError } from '../../src/db/errors.js';
import { parseDatabaseUrl } from '../../src/db/knex.js';
import { configSchema } from '../../src/config/schema.js';

const settings = configSchema.parse({}).database;
const driverError = (fields: Record<string, unknown>, message = 'boom') => Object.assign(new Error(message), fields);

describe('mapDatabaseError', () => {
  // Which driver failures are retried (transient) and which are not (PITFALLS §5.4).
  it.each([
    [{ code: 'ECONNREFUSED' }, 'DB_UNAVAILABLE', 'transient'],
    [{ code: 'PROTOCOL_CONNECTION_LOST' }, 'DB_UNAVAILABLE', 'transient'],
    [{ code: 'ETIMEDOUT' }, 'DB_UNAVAILABLE', 'transient'],
    [{ fatal: true }, 'DB_UNAVAILABLE', 'transient'], // connection died inside a transaction: code lost
    [{ name: 'KnexTimeoutError' }, 'DB_UNAVAILABLE', 'transient'],
    [{ code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 }, 'DB_BUSY', 'transient'],
    [{ code: 'ER_LOCK_DEADLOCK', errno: 1213 }, 'DB_BUSY', 'transient'],
    [{ code: 'SQLITE_BUSY' }, 'DB_BUSY', 'transient'],
    [{ code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 }, 'DB_ACCESS_DENIED', 'operational'],
    [{ code: 'ER_BAD_DB_ERROR', errno: 1049 }, 'DB_UNKNOWN_DATABASE', 'operational'],
    // A unique key another writer took between the import's read and its insert: retried.
    [{ code: 'ER_DUP_ENTRY', errno: 1062 }, 'DB_CONFLICT', 'transient'],
    [{ code: 'SQLITE_CONSTRAINT_UNIQUE' }, 'DB_CONFLICT', 'transient'],
    [{ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }, 'DB_QUERY_FAILED', 'operational'],
  ])('maps %j to %s (%s)', (fields, code, kind) => {
    const error = driverError(fields);
    if ('name' in fields) error.name = fields.name;
    const mapped = mapDatabaseError(error, 'db.example:3306');
    expect(mapped.code).toBe(code);
    expect(mapped.kind).toBe(kind);
  });

  it('names host and port when the database cannot be reached', () => {
    expect(mapDatabaseError(driverError({ code: 'ECONNREFUSED' }), '127.0.0.1:3399').message).toContain(
      '127.0.0.1:3399',
    );
  });

  it('drops the statement and its bound values from knex messages', () => {
    const mapped = mapDatabaseError(
      driverError(
        { code: 'ER_DUP_ENTRY' },
        "insert into `users` (`password_hash`) values ('$argon2id$secret') - Duplicate entry 'x'",
      ),
      'h:1',
    );
    expect(mapped.message).not.toContain('argon2id');
    expect(mapped.message).toContain("Duplicate entry 'x'");
  });
});

describe('parseDatabaseUrl', () => {
  it('reads sqlite: and mysql:// URLs and hides the password in the description', () => {
    expect(parseDatabaseUrl('sqlite:/tmp/x.sqlite', settings).dialect).toBe('sqlite');
    const mysql = parseDatabaseUrl('mysql://app:s3cr%40t@db.example:3307/users', settings);
    expect(mysql.dialect).toBe('mysql');
    expect(mysql.location).toBe('db.example:3307');
    expect(mysql.description).not.toContain('s3cr');
    expect((mysql.config.connection as { password: string }).password).toBe('s3cr@t');
  });

  it.each(['postgres://x@y/z', 'mysql://root@127.0.0.1:3306', 'sqlite:', 'not a url'])(
    'rejects %j with DB_URL_INVALID',
    (url) => {
      expect(() => parseDatabaseUrl(url, settings)).toThrow(expect.objectContaining({ code: 'DB_URL_INVALID' }));
    },
  );
});

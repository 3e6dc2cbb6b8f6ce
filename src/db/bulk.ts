/**
 * Multi-row INSERT (optionally upsert) built directly from row arrays — the write path of every
 * import batch. knex's query builder took as long to compile a 500-row insert as SQLite took to
 * run it, and its SQLite form (`insert … select … union all select …`) is heavier than VALUES.
 * The SQL text depends only on the table, columns and row count, so SQLite reuses the prepared
 * statement (see cachePreparedStatements in knex.ts). Backtick quoting works on both databases.
 */
import type { Knex } from 'knex';
import { sqlCapabilities, type Capabilities, type Dialect } from './dialect.js';
import { chunk } from './time.js';

export interface BulkInsert {
  table: string;
  columns: readonly string[];
  rows: ReadonlyArray<readonly unknown[]>;
  /** Upsert on this unique column, setting `merge` columns from the new row. */
  conflict?: { column: string; merge: readonly string[] };
  /**
   * Where the dialect has `insertReturning`: these columns of every row inserted or updated come
   * back, e.g. the ids of users just created, without a select that finds each again by its key.
   */
  returning?: readonly string[];
  /**
   * For a writer thread (statement-writer.ts): columns whose row value is a key of another table,
   * stored as that row's `id` (null when there is none) — e.g. `department_id: {table:
   * 'departments', key: 'name_key'}` — so a statement needs no ids read back from another.
   * SQLite joins them in the statement itself; on MySQL the writer thread looks them up
   * (BoundStatement.references): MariaDB ran such a join or sub-select much slower than the
   * insert itself (mysql-writer.ts has the measurements).
   */
  references?: Readonly<Record<string, { table: string; key: string }>>;
  /**
   * For a writer thread: every row is new (a plain insert, no `conflict`), and this column is the
   * table's key that later statements' `references` name it by. On MySQL the thread may then take
   * the rows' ids from the insert's first id instead of selecting them (BoundStatement.identifies).
   */
  identifies?: string;
}

/** A statement's column that holds another table's key, for a writer thread to turn into that row's id. */
export interface ColumnReference {
  column: number;
  table: string;
  key: string;
}

/** One statement and its values, ready to run: a multi-row insert's row by row, any other's as one row. */
export interface BoundStatement {
  sql: string;
  rows: ReadonlyArray<readonly unknown[]>;
  /** MySQL: columns holding another table's key, for the writer thread to replace by that row's id. */
  references?: readonly ColumnReference[];
  /** MySQL: the key column of rows this plain insert creates, whose ids the writer thread may infer (BulkInsert.identifies). */
  identifies?: ColumnReference;
  /**
   * Audit events whose rows end in seq, prev_hash and hash left empty: the writer thread fills
   * them from the chain's head, locked in its transaction (repositories/audit.ts).
   */
  chained?: boolean;
}

const quote = (name: string): string => `\`${name.replace(/`/g, '``')}\``;
const sqlCache = new Map<string, string>();

function statement(dialect: Dialect, insert: BulkInsert, count: number): string {
  const key = `${dialect}|${insert.table}|${insert.columns.join(',')}|${count}|${insert.conflict?.column ?? ''}|${insert.conflict?.merge.join(',') ?? ''}|${insert.returning?.join(',') ?? ''}|${JSON.stringify(insert.references ?? {})}`;
  const cached = sqlCache.get(key);
  if (cached) return cached;
  const tuple = `(${insert.columns.map(() => '?').join(',')})`;
  const values = Array.from({ length: count }, () => tuple).join(',');
  const joined = insert.references && sqlCapabilities(dialect).keyReferences === 'joined-in-sql';
  let sql = `insert into ${quote(insert.table)} (${insert.columns.map(quote).join(',')}) ${joined ? selectWithReferences(insert, values) : `values ${values}`}`;
  if (insert.conflict) sql += upsertClause(sqlCapabilities(dialect).upsertSyntax, insert.conflict);
  if (insert.returning) sql += ` returning ${insert.returning.map(quote).join(',')}`;
  if (sqlCache.size > 200) sqlCache.clear();
  sqlCache.set(key, sql);
  return sql;
}

function upsertClause(syntax: Capabilities['upsertSyntax'], conflict: NonNullable<BulkInsert['conflict']>): string {
  const onConflict = syntax === 'on-conflict';
  const column = quote(conflict.column);
  // Nothing to merge: a row whose key is there already is left as it is (not INSERT IGNORE,
  // which would also turn every other error into a warning on MySQL: PITFALLS §4).
  if (conflict.merge.length === 0)
    return onConflict ? ` on conflict (${column}) do nothing` : ` on duplicate key update ${column} = ${column}`;
  const set = conflict.merge
    .map((c) => (onConflict ? `${quote(c)} = excluded.${quote(c)}` : `${quote(c)} = values(${quote(c)})`))
    .join(', ');
  return onConflict ? ` on conflict (${column}) do update set ${set}` : ` on duplicate key update ${set}`;
}

/**
 * `select … from (values …) as v left join <table> …`: each referenced key joined to its table by
 * its unique index. A scalar sub-select per value instead — `(select id from users where
 * username = ?)` — cost SQLite ~5 µs a row (500-row statements: 845 ms for 50,000 memberships
 * with two references against 80 ms joined). The left join keeps the values as the outer loop,
 * so rows go in in the order given; `where true` is what SQLite's upsert needs after a join
 * (its ON CONFLICT would otherwise read as the join's ON).
 */
function selectWithReferences(insert: BulkInsert, values: string): string {
  const joins: string[] = [];
  const columns = insert.columns.map((column, i) => {
    const reference = insert.references?.[column];
    if (!reference) return `v.column${i + 1}`;
    const alias = `r${joins.length}`;
    joins.push(
      `left join ${quote(reference.table)} as ${alias} on ${alias}.${quote(reference.key)} = v.column${i + 1}`,
    );
    return `${alias}.\`id\``;
  });
  return `select ${columns.join(',')} from (values ${values}) as v ${joins.join(' ')} where true`;
}

/**
 * Inserts every row, at most `maxRows` per statement. Booleans go in as 1/0 on both databases.
 * Resolves to the `returning` columns of the rows written (an empty list without `returning`).
 */
export async function bulkInsert(
  knex: Knex,
  dialect: Dialect,
  maxRows: number,
  insert: BulkInsert,
): Promise<unknown[][]> {
  if (insert.returning && !sqlCapabilities(dialect).insertReturning)
    throw new Error(`bulkInsert: returning is for SQLite only (${dialect} has no returning clause)`);
  if (insert.references && sqlCapabilities(dialect).keyReferences !== 'joined-in-sql')
    throw new Error(`bulkInsert: on ${dialect} references are for a writer thread (bulkStatements)`);
  const returned: unknown[][] = [];
  for (const { sql, rows } of bulkStatements(dialect, maxRows, insert)) {
    // Sized up front: pushing 6,000 values one by one regrew the array a dozen times per statement.
    const bindings: unknown[] = new Array(rows.length * insert.columns.length);
    let at = 0;
    for (const row of rows)
      for (const value of row) bindings[at++] = typeof value === 'boolean' ? Number(value) : value;
    if (insert.returning) for (const row of await selectArrays(knex, dialect, sql, bindings)) returned.push(row);
    else await execute(knex, dialect, sql, bindings);
  }
  return returned;
}

/** The statements of `bulkInsert`, at most `maxRows` rows each, for a caller that runs them itself (booleans left as they are). */
export function bulkStatements(dialect: Dialect, maxRows: number, insert: BulkInsert): BoundStatement[] {
  const width = insert.columns.length;
  // Keys the writer thread turns into ids: the columns that hold them, and the rows' own key.
  const byWriter = sqlCapabilities(dialect).keyReferences === 'resolved-by-writer';
  const references =
    byWriter && insert.references
      ? Object.entries(insert.references).map(([column, { table, key }]) => ({
          column: insert.columns.indexOf(column),
          table,
          key,
        }))
      : undefined;
  if (references?.some((r) => r.column < 0))
    throw new Error(`bulkInsert into ${insert.table}: a reference names a column it does not insert`);
  if (insert.identifies !== undefined && (insert.conflict || !insert.columns.includes(insert.identifies)))
    throw new Error(`bulkInsert into ${insert.table}: identifies needs a plain insert of its key column`);
  const identifies =
    byWriter && insert.identifies !== undefined
      ? { column: insert.columns.indexOf(insert.identifies), table: insert.table, key: insert.identifies }
      : undefined;
  return chunk(insert.rows, maxRows).map((rows) => {
    for (const row of rows)
      if (row.length !== width)
        throw new Error(`bulkInsert into ${insert.table}: a row has ${row.length} values for ${width} columns`);
    return {
      sql: statement(dialect, insert, rows.length),
      rows,
      ...(references ? { references } : {}),
      ...(identifies ? { identifies } : {}),
    };
  });
}

/** The driver connections `execute` uses: better-sqlite3's Database, mysql2's callback Connection. */
interface DriverConnection {
  prepare(sql: string): {
    run(bindings: unknown[]): unknown;
    raw(on: boolean): { all(bindings: unknown[]): unknown[][] };
  };
  query(
    options: string | { sql: string; rowsAsArray?: boolean },
    bindings: unknown[],
    done: (error: Error | null, rows?: unknown) => void,
  ): void;
  execute(sql: string, bindings: unknown[], done: (error: Error | null) => void): void;
}

interface ConnectionSource {
  acquireConnection(): Promise<DriverConnection>;
  releaseConnection(connection: DriverConnection): Promise<unknown>;
}

/**
 * Runs one write on the handle's connection through the driver, without knex's raw formatter:
 * for a 500-row insert knex walked every `?` of the SQL with a callback and scanned every binding
 * for undefined (~0.22 s of a 100k-row first load on SQLite, for nothing: the SQL is ours and the
 * bindings are plain values). Inside a transaction the handle's client hands out the
 * transaction's own connection (knex's transaction client), so the write is part of it.
 * On MySQL it is a prepared statement (mysql2's `execute`, kept per SQL text): with `query`
 * mysql2 escaped every value into the SQL text (~0.34 s of a 100k-row first load's main thread,
 * and its garbage) and the server parsed it back (server CPU 2.85-3.16 -> 2.61-2.69 s).
 */
async function execute(knex: Knex, dialect: Dialect, sql: string, bindings: unknown[]): Promise<void> {
  await onConnection(knex, async (connection) => {
    if (dialect === 'sqlite') connection.prepare(sql).run(bindings);
    else
      await new Promise<void>((resolve, reject) =>
        connection.execute(sql, bindings, (error) => (error ? reject(error) : resolve())),
      );
  });
}

/**
 * Runs one select the same way and returns its rows as arrays (columns in select order): no
 * object with named keys per row, which for the stored-user look-up of every batch was ~0.1 s
 * of a 100k-row re-import on SQLite.
 */
export async function selectArrays(
  knex: Knex,
  dialect: Dialect,
  sql: string,
  bindings: unknown[],
): Promise<unknown[][]> {
  return onConnection(knex, (connection) =>
    dialect === 'sqlite'
      ? connection.prepare(sql).raw(true).all(bindings)
      : new Promise<unknown[][]>((resolve, reject) =>
          connection.query({ sql, rowsAsArray: true }, bindings, (error, rows) =>
            error ? reject(error) : resolve(rows as unknown[][]),
          ),
        ),
  );
}

async function onConnection<T>(knex: Knex, work: (connection: DriverConnection) => T | Promise<T>): Promise<T> {
  const client = knex.client as ConnectionSource;
  const connection = await client.acquireConnection();
  try {
    return await work(connection);
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * `group_concat` of a column with a newline separator (catalogue keys never contain one: their
 * whitespace is collapsed to single spaces). MySQL's result is capped by group_concat_max_len,
 * which knex.ts raises on every connection.
 */
export function concatKeys(dialect: Dialect, column: string): string {
  return dialect === 'sqlite' ? `group_concat(${column}, char(10))` : `group_concat(${column} separator '\\n')`;
}

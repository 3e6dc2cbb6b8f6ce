/**
 * The databases usersync writes to and what each can do, in a module of its own so that the SQL
 * builders (bulk.ts) can ask without importing knex.ts, which imports the writer threads that
 * import those builders. knex.ts adds what depends on the instance (its file, its pool).
 */
export type Dialect = 'sqlite' | 'mysql';

/**
 * What the rest of the code may rely on from the store, decided here from the dialect (and the
 * pool's size) so that callers ask for a capability instead of testing which database it is.
 */
export interface Capabilities {
  /** How a multi-row insert updates the rows whose unique key is there already (bulk.ts). */
  readonly upsertSyntax: 'on-conflict' | 'on-duplicate-key';
  /** `insert … returning` hands back columns of the rows it wrote (SQLite); MySQL has no such clause. */
  readonly insertReturning: boolean;
  /**
   * Where a statement's keys of other tables' rows become their ids (bulk.ts `references`): joined
   * in the SQL itself (SQLite), or looked up by the writer thread (MySQL, which ran such joins and
   * sub-selects much slower than the insert itself: mysql-writer.ts).
   */
  readonly keyReferences: 'joined-in-sql' | 'resolved-by-writer';
  /**
   * No second connection while a transaction is open (SQLite's one connection, a MySQL pool of
   * one): other queries must run inside that transaction, as waiting for another connection would
   * wait for a commit that waits for them.
   */
  readonly singleConnection: boolean;
  /** How an import writes through a writer thread (`openWriter`); undefined where it cannot. */
  readonly writerThread: WriterThreadCapability | undefined;
}

export interface WriterThreadCapability {
  /**
   * Batches handed to the thread that the import's thread does not wait for. SQLite: two, so that
   * the import's thread, the reader and the writer all keep busy on 2 cores (a 100k-row first
   * load: 4.47–4.82 → 4.28–4.51 s, 9 of 12 alternating pairs faster). MySQL: one, as a second
   * showed no gain there (means 7.78 → 8.07 s over 6 alternating pairs).
   */
  readonly batchesInFlight: number;
  /**
   * The young generation of the thread in lean-memory mode (src/xlsx/memory-mode.ts), or undefined
   * where that mode writes without the thread. For the bench's 1M-row file the thread took MySQL
   * from 104.9 to 72.9 s for 257 → 272 MB peak RSS, but SQLite only from 48.3 to 43.6 s for
   * 265 → 285 MB, too near the 300 MB ceiling for a tenth of the time. 8 MB, as the reader's.
   */
  readonly leanYoungGenerationMb: number | undefined;
}

type SqlCapabilities = Pick<Capabilities, 'upsertSyntax' | 'insertReturning' | 'keyReferences'>;

/** The SQL each dialect speaks; what depends on the instance (its file, its pool) is added by createDatabase. */
export const SQL_CAPABILITIES: Record<Dialect, SqlCapabilities> = {
  sqlite: { upsertSyntax: 'on-conflict', insertReturning: true, keyReferences: 'joined-in-sql' },
  mysql: { upsertSyntax: 'on-duplicate-key', insertReturning: false, keyReferences: 'resolved-by-writer' },
};

/** The SQL capabilities of a dialect, for code that builds statements without a Database (bulk.ts). */
export const sqlCapabilities = (dialect: Dialect): SqlCapabilities => SQL_CAPABILITIES[dialect];

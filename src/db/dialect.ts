/**
 * The databases usersync writes to, in a module of its own so that the SQL builders (bulk.ts) can
 * name them without importing knex.ts, which imports the writer threads that import those builders.
 */
export type Dialect = 'sqlite' | 'mysql';

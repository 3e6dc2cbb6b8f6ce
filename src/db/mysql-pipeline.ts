/**
 * Executes of prepared statements written to the socket as soon as they are queued, for the MySQL
 * writer thread (mysql-writer.ts, which runs this function's source).
 *
 * mysql2 writes a command only once the one before it has answered, so between two statements the
 * server waited for the writer thread to be scheduled, hear the answer and encode the next 500
 * rows' parameters. Here an execute of a statement the connection has already prepared is encoded
 * and written at once, behind the commands already on the wire, and handed to mysql2's queue to
 * read its answer in turn; the server goes from one statement to the next. Alternating 100k-row
 * first loads into MariaDB on 2 cores: 9.48 → 9.08 s (means of 24 pairs, 18 of them faster; one
 * run alone swings by more). Sending a message's statements before the previous message's have
 * answered as well was slower (9.34 against 8.85 s over 8 runs each, more CPU on both sides).
 *
 * The server answers commands in the order it reads them, and mysql2 reads answers in the order
 * of its queue, so a command is written ahead only when every command queued before it was too
 * (the one running has been written by mysql2 itself). Anything else — a statement not prepared
 * yet, a look-up, a commit — goes through mysql2 as usual, and nothing is written ahead of it.
 * A commit is never written ahead of the statements before it: the writer sends it only once they
 * all succeeded (an error leaves MariaDB's transaction open, and the rest would be committed).
 *
 * This uses mysql2's internals (its command queue, statement cache and packet classes), so it runs
 * only on the 3.x line it was written for, with everything it uses present; otherwise every
 * execute goes through mysql2. test/integration/mysql-pipeline.test.ts checks it on the locked version.
 */

/** A mysql2 connection, as far as this uses it. */
interface Connection {
  execute(sql: string, values: unknown[], done: (error: Error | null, result?: unknown) => void): unknown;
  addCommand(command: unknown): unknown;
  write(buffer: Buffer): void;
  _bumpSequenceId(packets: number): void;
  _statements: { get(key: string): { id: number; parameters: unknown } | undefined };
  _commands: { length: number };
  _command: unknown;
  _isMariaDB?: boolean;
  serverCapabilityFlags?: number;
  config: { compress?: boolean; debug?: boolean; clientFlags: number; charsetNumber: number; timezone: string };
  constructor: { statementKey(options: { sql: string }): string };
  /** Commands written ahead and not yet started (this module's own count). */
  writtenAhead?: number;
}

export interface PipelinedExecute {
  /** mysql2's `connection.execute(sql, values, done)`, written ahead when it can be. */
  execute(
    connection: Connection,
    sql: string,
    values: unknown[],
    done: (error: Error | null, result?: unknown) => void,
  ): void;
  /** How many executes were written ahead, and how many went through mysql2 in turn. */
  readonly counts: { ahead: number; inTurn: number };
}

/**
 * Self-contained (its source runs in the writer thread): `driverDir` is mysql2's package directory,
 * `load` a `require`.
 */
export function createPipelinedExecute(driverDir: string, load: (id: string) => any): PipelinedExecute {
  const counts = { ahead: 0, inTurn: 0 };
  let Execute: any;
  let ExecutePacket: any;
  let ConnectionConfig: any;
  try {
    if (!/^3\./.test(load(`${driverDir}/package.json`).version)) throw new Error('not mysql2 3.x');
    Execute = load(`${driverDir}/lib/commands/execute.js`);
    ExecutePacket = load(`${driverDir}/lib/packets/execute.js`);
    ConnectionConfig = load(`${driverDir}/lib/connection_config.js`);
    if (
      typeof Execute.prototype.resultsetHeader !== 'function' ||
      typeof ExecutePacket.prototype.toPacket !== 'function' ||
      typeof ConnectionConfig.queryOptions !== 'function'
    )
      throw new Error('unknown mysql2 internals');
  } catch {
    Execute = undefined; // every execute through mysql2
  }
  // mysql2 splits a longer packet in several; such a statement goes through it.
  const MAX_PACKET_BYTES = 16777215;

  function inTurn(
    c: Connection,
    sql: string,
    values: unknown[],
    done: (error: Error | null, result?: unknown) => void,
  ): void {
    counts.inTurn++;
    c.execute(sql, values, done);
  }

  function execute(
    c: Connection,
    sql: string,
    values: unknown[],
    done: (error: Error | null, result?: unknown) => void,
  ): void {
    if (
      Execute === undefined ||
      c.config.compress ||
      c.config.debug ||
      typeof c._bumpSequenceId !== 'function' ||
      typeof c._commands?.length !== 'number'
    )
      return inTurn(c, sql, values, done);
    const statement = c._statements.get(c.constructor.statementKey({ sql }));
    // Only behind commands already written: mysql2's queue then holds only those written ahead.
    if (statement === undefined || c._commands.length !== (c.writtenAhead ?? 0)) return inTurn(c, sql, values, done);
    // The packet as Execute.start builds it.
    const clientFlags = c.config.clientFlags & (c.serverCapabilityFlags || 0);
    const packet = new ExecutePacket(
      statement.id,
      values,
      c.config.charsetNumber,
      c.config.timezone,
      undefined,
      clientFlags,
      c._isMariaDB,
      statement.parameters,
    ).toPacket(1);
    if (packet.length() >= MAX_PACKET_BYTES) return inTurn(c, sql, values, done);
    packet.writeHeader(0); // a command's first packet
    const command = new Execute({ statement, sql, values }, done);
    // Execute.start without the write: mysql2 calls it when the command's turn comes.
    command.start = function (this: any, _packet: unknown, connection: Connection) {
      connection.writtenAhead = (connection.writtenAhead ?? 1) - 1;
      this._connection = connection;
      this.options = ConnectionConfig.queryOptions(connection.config, this._executeOptions);
      this._setTimeout();
      connection._bumpSequenceId(1); // the packet written below
      return Execute.prototype.resultsetHeader;
    };
    c.write(packet.buffer);
    c.writtenAhead = (c.writtenAhead ?? 0) + 1; // before addCommand: an idle connection starts it at once
    counts.ahead++;
    c.addCommand(command);
  }

  return { execute, counts };
}

/**
 * The MySQL writer's executes written ahead (src/db/mysql-pipeline.ts), on a real connection with
 * the locked mysql2: every statement runs once, answers come back to the right caller in order, a
 * failed one leaves the connection in step, and nothing is written ahead of a command mysql2 has
 * not written yet.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import mysql from 'mysql2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPipelinedExecute } from '../../src/db/mysql-pipeline.js';
import { describeEachDatabase } from '../helpers/databases.js';

const require = createRequire(import.meta.url);
const driverDir = path.dirname(require.resolve('mysql2'));

interface Result {
  affectedRows: number;
  insertId: number;
}

describeEachDatabase(
  'MySQL writer: executes written ahead',
  (database) => {
    let connection: mysql.Connection;
    const query = <T>(sql: string): Promise<T> =>
      new Promise((resolve, reject) =>
        connection.query(sql, (error, rows) => (error ? reject(error) : resolve(rows as T))),
      );

    beforeAll(async () => {
      connection = mysql.createConnection(database().url);
      await query('create table ahead (id bigint unsigned not null auto_increment primary key, v int not null unique)');
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => connection.end(() => resolve()));
    });

    it('runs every statement once, answers each in the order sent, and stays in step after one fails', async () => {
      const pipeline = createPipelinedExecute(driverDir, require);
      const run = (v: number) =>
        new Promise<Result>((resolve, reject) =>
          pipeline.execute(connection as never, 'insert into ahead (v) values (?)', [v], (error, result) =>
            error ? reject(error) : resolve(result as Result),
          ),
        );
      await run(0); // prepares the statement: in turn
      const values = Array.from({ length: 300 }, (_, i) => (i === 150 ? 5 : i + 1)); // 5 twice: the second fails
      const settled = await Promise.allSettled(values.map(run));
      expect(pipeline.counts.ahead).toBeGreaterThanOrEqual(290);
      expect(settled[150]).toMatchObject({ status: 'rejected', reason: { code: 'ER_DUP_ENTRY' } });
      const ids = settled
        .filter((s) => s.status === 'fulfilled')
        .map((s) => (s as PromiseFulfilledResult<Result>).value);
      expect(ids).toHaveLength(299);
      expect(ids.every((r, i) => r.affectedRows === 1 && (i === 0 || r.insertId > ids[i - 1]!.insertId))).toBe(true);
      const stored = await query<Array<{ v: number }>>('select v from ahead order by id');
      expect(stored.map((r) => r.v)).toEqual([0, ...values.filter((_, i) => i !== 150)]);
      expect(await query<Array<{ one: number }>>('select 1 as one')).toEqual([{ one: 1 }]);
    });

    it('writes nothing ahead of a command mysql2 has not written yet', async () => {
      const pipeline = createPipelinedExecute(driverDir, require);
      const run = (v: number) =>
        new Promise<Result>((resolve, reject) =>
          pipeline.execute(connection as never, 'insert into ahead (v) values (?)', [v], (error, result) =>
            error ? reject(error) : resolve(result as Result),
          ),
        );
      await run(1000);
      const before = { ...pipeline.counts };
      const first = run(1001); // written ahead: nothing else queued
      const count = query<Array<{ n: number }>>('select count(*) as n from ahead where v > 1000'); // queued, written in its turn
      const second = run(1002); // behind the look-up: must wait for its turn too
      await Promise.all([first, second]);
      expect(await count).toEqual([{ n: 1 }]);
      expect({ ahead: pipeline.counts.ahead - before.ahead, inTurn: pipeline.counts.inTurn - before.inTurn }).toEqual({
        ahead: 1,
        inTurn: 1,
      });
    });

    it('leaves every execute to mysql2 when its internals are not the ones it knows', async () => {
      const pipeline = createPipelinedExecute(path.join(driverDir, 'not-mysql2'), require);
      const result = await new Promise<Result>((resolve, reject) =>
        pipeline.execute(connection as never, 'insert into ahead (v) values (?)', [2000], (error, r) =>
          error ? reject(error) : resolve(r as Result),
        ),
      );
      expect(result.affectedRows).toBe(1);
      expect(pipeline.counts).toEqual({ ahead: 0, inTurn: 1 });
    });
  },
  ['mysql'],
);

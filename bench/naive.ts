/**
 * The reference a user would otherwise write: read the sheet and do one upsert per row with knex
 * (roles, groups and department included, one statement each), no batching. Runs the file's
 * first ROWS rows (all of them, or a sample the bench extrapolates and says so: run.ts naiveRows).
 *
 * Prints, as JSON, when the first fifth of its rows was done and when all were: a sample is
 * extrapolated at the rate between the two, not by scaling the whole process's time, whose fixed
 * part — start-up and exceljs reading the file's shared strings, ~2 s of a 5,000-row sample's 6 s
 * with a fast disk — would be scaled too and overstate the naive time by a third.
 */
import ExcelJS from 'exceljs';
import knex from 'knex';

const [file, url, limitText] = process.argv.slice(2);
if (!file || !url || !limitText) throw new Error('usage: naive.js FILE DATABASE_URL ROWS');
const limit = Number(limitText);
const db = knex(
  url.startsWith('sqlite:')
    ? { client: 'better-sqlite3', connection: { filename: url.slice(7) }, useNullAsDefault: true }
    : { client: 'mysql2', connection: url },
);
const now = new Date().toISOString();
const warmRows = Math.max(1, Math.floor(limit / 5));
let warmMs = NaN;
let done = 0;
const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, { sharedStrings: 'cache', worksheets: 'emit' });
outer: for await (const sheet of reader) {
  for await (const row of sheet) {
    if (row.number === 1) continue;
    const v = (i: number) => (row.getCell(i).value === null ? null : String(row.getCell(i).value));
    const username = String(v(2)).toLowerCase();
    const deptName = v(4);
    let departmentId: number | null = null;
    if (deptName) {
      await db('departments')
        .insert({ name: deptName, name_key: deptName.toLowerCase(), created_at: now })
        .onConflict('name_key')
        .ignore();
      departmentId = Number((await db('departments').where('name_key', deptName.toLowerCase()).first('id'))?.id);
    }
    await db('users')
      .insert({
        username,
        name: v(1),
        email: v(5),
        phone: v(6),
        department_id: departmentId,
        active: v(7) === 'Yes',
        ignore_mfa: v(8) === 'Yes',
        created_at: now,
        updated_at: now,
      })
      .onConflict('username')
      .merge(['name', 'email', 'phone', 'department_id', 'active', 'ignore_mfa', 'updated_at']);
    const userId = Number((await db('users').where('username', username).first('id'))?.id);
    // Memberships the simple way: look each name up, replace the user's set.
    for (const [cell, table, link, column] of [
      [9, 'roles', 'user_roles', 'role_id'],
      [10, 'user_groups', 'user_group_members', 'group_id'],
    ] as const) {
      const names = (v(cell) ?? '')
        .split(/[,;]/)
        .map((n) => n.trim().toLowerCase())
        .filter(Boolean);
      await db(link).where('user_id', userId).delete();
      for (const name of names) {
        const found = await db(table).where('name_key', name).first('id');
        if (found) await db(link).insert({ user_id: userId, [column]: found.id });
      }
    }
    if (++done === warmRows) warmMs = performance.now();
    if (done >= limit) break outer;
  }
}
const endMs = performance.now();
await db.destroy();
process.stdout.write(`${JSON.stringify({ rows: done, warmRows, warmMs, endMs })}\n`);

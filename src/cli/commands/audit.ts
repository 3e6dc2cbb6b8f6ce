/**
 * `usersync audit`: the audit trail, oldest first, filtered by user, import and time; `--limit N`
 * keeps the newest N. `usersync audit verify` checks its hash chain (audit-verify.ts).
 */
import { withDatabaseErrors } from '../../db/errors.js';
import { queryAuditEvents, type StoredAuditEvent } from '../../db/repositories/audit.js';
import { normaliseUsername } from '../../domain/username.js';
import { fail } from '../../errors.js';
import type { CommandModule } from '../command-module.js';
import { registerAuditVerify } from './audit-verify.js';

/** `2026-11-01`, a full ISO time, or a relative `7d` / `12h` / `30m`. */
export function parseSince(text: string, now = new Date()): string {
  const relative = /^(\d+)\s*([dhm])$/i.exec(text.trim());
  if (relative) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2]!.toLowerCase() as 'd' | 'h' | 'm'];
    return new Date(now.getTime() - Number(relative[1]) * unit).toISOString();
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime()))
    throw fail('USAGE_INVALID', {
      message: `--since "${text}" is not a time: use 2026-11-01, 2026-11-01T08:00:00Z, or 7d / 12h / 30m.`,
    });
  return time.toISOString();
}

function describeChanges(event: StoredAuditEvent): string {
  if (!event.changes) return '';
  return Object.entries(event.changes)
    .map(([field, value]) => {
      if (value && typeof value === 'object' && 'changed' in value) return `${field} changed`;
      if (value && typeof value === 'object' && 'new' in value)
        return `${field}: ${JSON.stringify((value as unknown as { old: unknown }).old)} → ${JSON.stringify((value as { new: unknown }).new)}`;
      return `${field}=${JSON.stringify(value)}`;
    })
    .join('; ');
}

export const auditCommand: CommandModule = (cli, run) =>
  cli.command(
    'audit',
    'Show the audit trail (every matching event, oldest first)',
    // The listing's options are its own (`global: false`): yargs' options are global by default,
    // and would be accepted after `verify` too.
    (y) =>
      registerAuditVerify(y, run)
        .option('user', { type: 'string', global: false, describe: 'Only events about this username' })
        .option('import', { type: 'number', global: false, describe: 'Only events of this import id' })
        .option('since', {
          type: 'string',
          global: false,
          describe: 'Only events at or after this time (ISO date/time, or 7d, 12h, 30m)',
        })
        .option('limit', {
          type: 'number',
          global: false,
          describe: 'Only the newest N matching events (still printed oldest first)',
        })
        .option('json', { type: 'boolean', global: false, default: false, describe: 'One JSON array of events' }),
    (args) =>
      run(args, { readOnly: true }, async ({ database, out }) => {
        if (args.limit !== undefined && !(Number.isInteger(args.limit) && args.limit >= 1)) {
          throw fail('USAGE_INVALID', {
            message: `--limit ${args.limit} is not a number of events: give a whole number of at least 1.`,
          });
        }
        const db = await database();
        const events = queryAuditEvents(db.knex, {
          username: args.user === undefined ? undefined : normaliseUsername(args.user),
          importId: args.import,
          since: args.since === undefined ? undefined : parseSince(args.since),
          limit: args.limit,
        });
        await withDatabaseErrors(db.location, async () => {
          if (args.json) return out.jsonArray(events);
          const rows: Array<Array<string | number | null>> = [];
          for await (const e of events)
            rows.push([e.at, e.actor, e.importId, e.row, e.username, e.action, describeChanges(e)]);
          if (rows.length === 0) await out.write(`No matching audit events in ${db.description}.\n`);
          else await out.table(['AT', 'BY', 'IMPORT', 'ROW', 'USERNAME', 'ACTION', 'CHANGES'], rows);
        });
      }),
  );

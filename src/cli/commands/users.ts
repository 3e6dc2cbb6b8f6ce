/**
 * `usersync users list|show`: the directory, as tables or as SPEC §3's user shape with --json.
 * `users activate|deactivate`: a one-off change of one user's Active flag, made like an import's —
 * `updated_at` moved and a `user.updated` event with the actor, in one transaction.
 */
import type { Argv } from 'yargs';
import type { AuditEvent } from '../../db/repositories/audit.js';
import { withBusyRetries, withDatabaseErrors } from '../../db/errors.js';
import { getUser, listUsers, setUserActive, type UserView } from '../../db/repositories/users.js';
import { isoNow } from '../../db/time.js';
import { printable } from '../../domain/text-rules.js';
import { normaliseUsername } from '../../domain/username.js';
import { fail } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { openForChanges } from '../open-for-changes.js';
import type { CommandModule } from '../command-module.js';

const yesNo = (value: boolean) => (value ? 'Yes' : 'No');

export const usersCommand: CommandModule = (cli, run) =>
  cli.command('users', 'Read the user directory; activate or deactivate a user', (y) =>
    y
      .command(
        'list',
        'List users (every user unless filtered)',
        (c) =>
          c
            .option('json', { type: 'boolean', default: false, describe: 'One JSON array of users' })
            .option('department', { type: 'string', describe: 'Only users in this department' })
            .option('role', { type: 'string', describe: 'Only users holding this role' })
            .option('group', { type: 'string', describe: 'Only members of this user group' })
            .option('active', { type: 'boolean', describe: 'Only active (--active) or inactive (--no-active) users' }),
        (args) =>
          run(args, { readOnly: true }, async ({ database, out }) => {
            const db = await database();
            const users = listUsers(db.knex, {
              department: args.department,
              role: args.role,
              group: args.group,
              active: args.active,
            });
            await withDatabaseErrors(db.location, async () => {
              if (args.json) return out.jsonArray(users);
              const rows: Array<Array<string | null>> = [];
              for await (const u of users)
                rows.push([
                  u.username,
                  u.name,
                  u.department,
                  u.email,
                  yesNo(u.active),
                  u.roles.join(', '),
                  u.groups.join(', '),
                ]);
              if (rows.length === 0) await out.write(`No users in ${db.description}.\n`);
              else await out.table(['USERNAME', 'NAME', 'DEPARTMENT', 'E-MAIL', 'ACTIVE', 'ROLES', 'GROUPS'], rows);
            });
          }),
      )
      .command(
        'show <username>',
        'Show one user',
        (c) =>
          c
            .positional('username', { type: 'string', demandOption: true })
            .option('json', { type: 'boolean', default: false }),
        (args) =>
          run(args, { readOnly: true }, async ({ database, out }) => {
            const db = await database();
            const username = normaliseUsername(String(args.username));
            const user = await withDatabaseErrors(db.location, () => getUser(db.knex, username));
            if (!user)
              throw fail('USER_NOT_FOUND', { message: `No user has the username "${username}" in ${db.description}.` });
            if (args.json) await out.json(user);
            else await out.write(describeUser(user));
          }),
      )
      .command(
        'deactivate <username>',
        'Deactivate one user (audited; a user already inactive is left as is)',
        activeOptions,
        (args) => run(args, {}, (context) => setActive(context, args, false)),
      )
      .command(
        'activate <username>',
        'Activate one user (audited; a user already active is left as is)',
        activeOptions,
        (args) => run(args, {}, (context) => setActive(context, args, true)),
      )
      .demandCommand(1, 'Name a users command: list, show, activate or deactivate.'),
  );

/** The options of `users activate|deactivate <username> [--by NAME] [--json]`. */
const activeOptions = (c: Argv) =>
  c
    .positional('username', { type: 'string', demandOption: true })
    .option('by', {
      type: 'string',
      describe: 'Who the change is made by, for the audit trail (default: your OS user@host)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'Print {username, active, changed} as JSON' });

type ActiveArgs = { username: string; by?: string | undefined; json: boolean };

/**
 * The "Deactivated" line: `absent` when a mirror feed deactivated the user for being left out of
 * its files (SPEC §8), so HR knows that listing the user again in that feed's file reactivates it.
 */
function deactivationInWords(u: UserView): string {
  if (u.deactivatedReason === 'absent') return `absent: left out of the files of feed ${u.feed ?? '(none recorded)'}`;
  return u.active ? '—' : 'not for absence (by a file row or by hand)';
}

function describeUser(u: UserView): string {
  const lines: Array<[string, string]> = [
    ['Username', u.username],
    ['Name', u.name ?? ''],
    ['Department', u.department ?? ''],
    ['E-mail', u.email ?? ''],
    ['Phone', u.phone ?? ''],
    ['Active', yesNo(u.active)],
    ['Feed', u.feed ?? '(none recorded)'],
    ['Deactivated', deactivationInWords(u)],
    ['Ignore MFA', yesNo(u.ignoreMfa)],
    ['Roles', u.roles.join(', ')],
    ['User groups', u.groups.join(', ')],
    ['Password', u.hasPassword ? `set (changed ${u.passwordUpdatedAt ?? 'unknown'})` : 'not set'],
    ['Created', u.createdAt],
    ['Updated', u.updatedAt],
  ];
  return lines.map(([label, value]) => `${label.padEnd(12)} ${printable(value)}`).join('\n') + '\n';
}

async function setActive(context: CommandContext, args: ActiveArgs, active: boolean): Promise<void> {
  const username = normaliseUsername(String(args.username));
  const { db, trail, actor } = await openForChanges(context, args.by);
  const events: AuditEvent[] = [];
  const outcome = await withBusyRetries(db.location, () =>
    db.knex.transaction(async (trx) => {
      events.length = 0; // a try again starts afresh
      const at = isoNow();
      const result = await setUserActive(trx, username, active, at);
      if (result === 'changed') {
        const changes = { active: { old: !active, new: active } };
        events.push({ at, importId: null, row: null, username, action: 'user.updated', changes, actor });
        await trail.record(trx, events);
      }
      return result;
    }),
  );
  trail.committed(events);
  if (outcome === 'missing')
    throw fail('USER_NOT_FOUND', { message: `No user has the username "${printable(username)}".` });
  const changed = outcome === 'changed';
  context.logger.info(active ? 'user.activated' : 'user.deactivated', { username, changed, actor, fileOnly: true });
  if (args.json) return context.out.json({ username, active, changed });
  const shown = printable(username);
  if (changed) await context.out.write(`${active ? 'activated' : 'deactivated'} user "${shown}"\n`);
  else await context.out.write(`user "${shown}" is already ${active ? 'active' : 'inactive'}; nothing changed\n`);
}

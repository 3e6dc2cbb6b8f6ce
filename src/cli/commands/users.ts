/** `usersync users list|show`: the directory, as tables or as SPEC §3's user shape with --json. */
import { withDatabaseErrors } from '../../db/errors.js';
import { getUser, listUsers, type UserView } from '../../db/repositories/users.js';
import { printable } from '../../domain/text-rules.js';
import { normaliseUsername } from '../../domain/username.js';
import { fail } from '../../errors.js';
import type { CommandModule } from '../root.js';

const yesNo = (value: boolean) => (value ? 'Yes' : 'No');

export const usersCommand: CommandModule = (cli, run) =>
  cli.command('users', 'Read the user directory', (y) =>
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
            const users = listUsers(db.knex, { department: args.department, role: args.role, group: args.group, active: args.active });
            await withDatabaseErrors(db.location, async () => {
              if (args.json) return out.jsonArray(users);
              const rows: Array<Array<string | null>> = [];
              for await (const u of users) rows.push([u.username, u.name, u.department, u.email, yesNo(u.active), u.roles.join(', '), u.groups.join(', ')]);
              if (rows.length === 0) await out.write(`No users in ${db.description}.\n`);
              else await out.table(['USERNAME', 'NAME', 'DEPARTMENT', 'E-MAIL', 'ACTIVE', 'ROLES', 'GROUPS'], rows);
            });
          }),
      )
      .command(
        'show <username>',
        'Show one user',
        (c) => c.positional('username', { type: 'string', demandOption: true }).option('json', { type: 'boolean', default: false }),
        (args) =>
          run(args, { readOnly: true }, async ({ database, out }) => {
            const db = await database();
            const username = normaliseUsername(String(args.username));
            const user = await withDatabaseErrors(db.location, () => getUser(db.knex, username));
            if (!user) throw fail('USER_NOT_FOUND', { message: `No user has the username "${username}" in ${db.description}.` });
            if (args.json) await out.json(user);
            else await out.write(describeUser(user));
          }),
      )
      .demandCommand(1, 'Name a users command: list or show.'),
  );

function describeUser(u: UserView): string {
  const lines: Array<[string, string]> = [
    ['Username', u.username],
    ['Name', u.name ?? ''],
    ['Department', u.department ?? ''],
    ['E-mail', u.email ?? ''],
    ['Phone', u.phone ?? ''],
    ['Active', yesNo(u.active)],
    ['Ignore MFA', yesNo(u.ignoreMfa)],
    ['Roles', u.roles.join(', ')],
    ['User groups', u.groups.join(', ')],
    ['Password', u.hasPassword ? `set (changed ${u.passwordUpdatedAt ?? 'unknown'})` : 'not set'],
    ['Created', u.createdAt],
    ['Updated', u.updatedAt],
  ];
  return lines.map(([label, value]) => `${label.padEnd(12)} ${printable(value)}`).join('\n') + '\n';
}

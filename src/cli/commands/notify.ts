/**
 * `usersync notify test [--to ADDRESS..]` (SPEC §11): sends a test message now, through the
 * configured server, and says exactly which step failed when it did not go: DNS, the connection,
 * TLS, the login, a refused recipient. Exit 0 sent; 2 not configured; 3 the server did not take it.
 * It touches no database: the queue is the daemon's.
 */
import { hostname } from 'node:os';
import { fail } from '../../errors.js';
import { createMailer, SendFailure, serverOf } from '../../notify/send.js';
import type { CommandModule } from '../command-module.js';

export const notifyCommand: CommandModule = (cli, run) =>
  cli.command('notify', 'E-mail notifications: send a test message', (y) =>
    y
      .command(
        'test',
        'Send a test message to notify.to (or --to) and say what failed, if anything',
        (c) =>
          c
            .option('to', { type: 'string', array: true, describe: 'Send to this address instead of notify.to' })
            .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON' }),
        (args) =>
          run(args, { readOnly: true }, async ({ config, out }) => {
            const { smtp } = config.notify;
            if (smtp.url === '')
              throw fail('CONFIG_INVALID', { message: 'notify.smtp.url is not set: no e-mail can be sent.' });
            const to = (args.to as string[] | undefined)?.length ? (args.to as string[]) : config.notify.to;
            if (to.length === 0)
              throw fail('CONFIG_INVALID', {
                message: 'Nobody to write to: set notify.to or give --to ADDRESS.',
              });
            const server = serverOf(smtp.url);
            let mailer;
            try {
              mailer = await createMailer(smtp);
              const result = await mailer.send({
                to,
                subject: '[usersync] Test message',
                text: `This is a test message from usersync on ${hostname()}, sent through ${server}.\n`,
                html: `<p>This is a test message from usersync on ${hostname()}, sent through ${server}.</p>`,
              });
              if (result.rejected.length > 0)
                throw new SendFailure(
                  'recipient',
                  `${server} refused the recipients ${result.rejected.join(', ')}.`,
                  true,
                );
              if (args.json) await out.json({ sent: true, server, to: result.accepted });
              else await out.write(`Sent a test message through ${server} to ${result.accepted.join(', ')}.\n`);
            } catch (error) {
              if (!(error instanceof SendFailure)) throw error;
              throw fail(error.step === 'config' ? 'CONFIG_INVALID' : 'NOTIFY_SEND_FAILED', {
                message: error.message,
                details: { step: error.step },
              });
            } finally {
              mailer?.close();
            }
          }),
      )
      .demandCommand(1, 'Name a notify command: test.'),
  );

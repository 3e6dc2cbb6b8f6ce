/**
 * The configuration of SPEC §11, telling people by e-mail: `notify`. Part of the schema
 * (schema.ts, the only place keys are spelled), kept apart for size. `feeds[].notify` and
 * `safety.approvers` (safety-schema.ts) name the other recipients.
 */
import { z } from 'zod';

/** The outcomes an import can have (pipeline/report/types.ts Outcome), as notify.on lists them. */
export const NOTIFY_OUTCOMES = ['imported', 'imported_with_errors', 'rejected', 'held'] as const;

const smtp = z
  .strictObject({
    url: z
      .string()
      .default('')
      .refine(
        (url) => url === '' || /^smtps?:\/\/[^/]/i.test(url),
        'must be smtp://… or smtps://…, or "" for no e-mail',
      )
      .describe(
        'smtp://user:pass@host:587 (STARTTLS when the server offers it) or smtps://…:465 (TLS from the start); "" sends no e-mail. A secret: keep it in a file only you can read, or in USERSYNC_SMTP_URL.',
      ),
    from: z.string().default('').describe('The From address of every message, e.g. "usersync@example.com".'),
    caFile: z
      .string()
      .default('')
      .describe(
        'PEM file of the certificate authority the server’s certificate is checked against ("" = the system’s).',
      ),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('How long to wait for the server to answer before the message is retried later.'),
  })
  .prefault({})
  .refine((value) => value.url === '' || z.email().safeParse(value.from).success, {
    path: ['from'],
    message: 'an e-mail address is required when notify.smtp.url is set',
  })
  .describe('The SMTP server (nodemailer).');

export const notify = z
  .strictObject({
    smtp,
    to: z.array(z.email()).default([]).describe('Addresses told about every feed’s files (besides feeds[].notify).'),
    on: z
      .array(z.enum(NOTIFY_OUTCOMES))
      .default(() => ['held' as const, 'rejected' as const, 'imported_with_errors' as const])
      .describe('The daemon import outcomes that send a message; add "imported" for a confirmation every time.'),
    retryInitialMs: z
      .number()
      .int()
      .min(10)
      .default(30_000)
      .describe('First wait before a message the server did not take is tried again.'),
    retryMaxMs: z
      .number()
      .int()
      .min(10)
      .default(3_600_000)
      .describe('Longest wait between tries of one message (capped exponential backoff).'),
  })
  .prefault({})
  .describe('Telling people by e-mail (SPEC §11): messages are queued in the database and sent by the daemon.');

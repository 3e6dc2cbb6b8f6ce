/**
 * Who is told about an import and what the message says (SPEC §11), and what each nodemailer
 * failure is called when it cannot be provoked on 127.0.0.1 alone (DNS).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema, loadConfig } from '../../src/config/index.js';
import { recipientsFor } from '../../src/notify/enqueue.js';
import { renderImportMessage } from '../../src/notify/render.js';
import { explain } from '../../src/notify/send.js';
import type { ReportSummary } from '../../src/pipeline/report/types.js';

const config = configSchema.parse({
  notify: { smtp: { url: 'smtp://127.0.0.1:2525', from: 'usersync@example.com' }, to: ['hr@example.com'] },
  safety: { approvers: ['ciso@example.com', 'HR@example.com'] },
  feeds: [{ name: 'workday', match: 'workday*', notify: ['hr-ops@example.com'] }],
});

const summary = (over: Partial<ReportSummary>): ReportSummary => ({
  importId: 42,
  file: { name: 'workday-2026-12.xlsx', sha256: 'ab'.repeat(32), bytes: 1000 },
  dryRun: false,
  outcome: 'imported',
  counts: { rows: 100, created: 3, updated: 40, unchanged: 50, failed: 7, deactivated: 0 },
  warnings: [],
  startedAt: '2026-12-07T08:00:00.000Z',
  finishedAt: '2026-12-07T08:00:05.000Z',
  durationMs: 5000,
  feed: 'workday',
  ...over,
});

describe('recipients (SPEC §11)', () => {
  // Cases: an outcome in notify.on → notify.to + the feed's list; one not in it → nobody;
  // held → also the approvers, each address once (ignoring case); held with held left out of
  // notify.on → the approvers only; a file of the built-in feed → notify.to only.
  it('sends an outcome listed in notify.on to notify.to and the feed’s list', () => {
    expect(recipientsFor(config, summary({ outcome: 'imported_with_errors' }))).toEqual([
      'hr@example.com',
      'hr-ops@example.com',
    ]);
  });
  it('tells nobody about an outcome notify.on leaves out', () => {
    expect(recipientsFor(config, summary({ outcome: 'imported' }))).toEqual([]);
  });
  it('adds the approvers to a held file, each address once', () => {
    expect(recipientsFor(config, summary({ outcome: 'held' }))).toEqual([
      'hr@example.com',
      'hr-ops@example.com',
      'ciso@example.com',
    ]);
  });
  it('still tells the approvers of a held file when notify.on leaves held out', () => {
    const quiet = { ...config, notify: { ...config.notify, on: ['rejected' as const] } };
    expect(recipientsFor(quiet, summary({ outcome: 'held' }))).toEqual(['ciso@example.com', 'HR@example.com']);
  });
  it('sends a file of the built-in feed to notify.to only', () => {
    expect(recipientsFor(config, summary({ outcome: 'rejected', feed: 'inbox' }))).toEqual(['hr@example.com']);
  });
});

describe('the message (SPEC §11)', () => {
  it('names the file and the outcome in words in the subject, and gives counts and warnings', () => {
    const message = renderImportMessage(
      summary({ outcome: 'imported_with_errors', warnings: ['Column "Fax" is not a template column and was ignored'] }),
    );
    expect(message.subject).toBe(
      '[usersync] workday-2026-12.xlsx: Imported with errors: 7 rows failed, 93 other rows were applied',
    );
    expect(message.text).toContain('rows 100, created 3, updated 40, unchanged 50, failed 7, deactivated 0');
    expect(message.text).toContain('- Column "Fax" is not a template column and was ignored');
    expect(message.html).toContain('Column &quot;Fax&quot; is not a template column');
  });

  it('gives a held file’s tripped guards, what it would do and the commands that decide it', () => {
    const message = renderImportMessage(
      summary({
        outcome: 'held',
        counts: { rows: 300, created: 0, updated: 0, unchanged: 70, failed: 0, deactivated: 230 },
        guards: [{ guard: 'deactivate', limit: 50, planned: 230, users: ['ana', 'ben'] }],
        approveCommand: 'usersync holds approve 42',
      }),
    );
    expect(message.subject).toBe(
      '[usersync] workday-2026-12.xlsx: Held for approval: 1 safety limit was exceeded; 230 users left out of the file would be deactivated; nothing was changed',
    );
    expect(message.text).toContain(
      '- 230 active users would be deactivated — the limit is 50 (safety.limits.deactivate, or limits.deactivate of feed "workday")',
    );
    expect(message.text).toContain('users: ana, ben and 228 more');
    expect(message.text).toContain('Would create 0 users and update 0; 70 unchanged; would deactivate 230 users.');
    expect(message.text).toContain('To apply it:   usersync holds approve 42');
    expect(message.text).toContain('To decline it: usersync holds decline 42');
    expect(message.html).toContain('<code>To apply it:   usersync holds approve 42</code>');
  });

  it('says why a rejected file was rejected, and keeps a file name from adding header lines', () => {
    const message = renderImportMessage(
      summary({
        outcome: 'rejected',
        file: { name: 'evil\r\nBcc: x@example.com.xlsx', sha256: '', bytes: 1 },
        error: { code: 'FILE_NO_USERNAME_COLUMN', message: 'No Username column.' },
      }),
    );
    expect(message.subject).not.toMatch(/[\r\n]/);
    expect(message.text).toContain('FILE_NO_USERNAME_COLUMN: No Username column.');
  });
});

describe('naming a failure', () => {
  it('calls an unresolvable host a DNS failure, worth retrying', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND smtp.example.invalid'), { code: 'EDNS' });
    expect(explain(dns, 'smtp.example.invalid:587')).toMatchObject({ step: 'dns', permanent: false });
    expect(explain(dns, 'smtp.example.invalid:587').message).toMatch(/^DNS: the name of smtp.example.invalid:587/);
  });
  it('retries a 4xx reply and gives up on a 5xx one', () => {
    const busy = Object.assign(new Error('Message failed'), {
      code: 'EMESSAGE',
      responseCode: 451,
      response: '451 try later',
    });
    const spam = Object.assign(new Error('Message failed'), {
      code: 'EMESSAGE',
      responseCode: 554,
      response: '554 spam',
    });
    expect(explain(busy, 'h:25')).toMatchObject({ step: 'message', permanent: false });
    expect(explain(spam, 'h:25')).toMatchObject({ step: 'message', permanent: true });
  });
});

describe('the SMTP URL is a secret (SPEC §11)', () => {
  it('never shows its password in a configuration error', () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'usersync-cfg-'));
    const error = (() => {
      try {
        loadConfig({ cwd, env: { USERSYNC_SMTP_URL: 'http://mailer:Smtp-Secret-55@mail.example.com:587' } });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error?.message).toContain('notify.smtp.url');
    expect(error?.message).toContain('mailer:***@mail.example.com');
    expect(error?.message).not.toContain('Smtp-Secret-55');
  });

  it('requires a From address once a server is set', () => {
    const parsed = configSchema.safeParse({ notify: { smtp: { url: 'smtp://127.0.0.1:25' } } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['notify', 'smtp', 'from']);
  });
});

/**
 * The daemon tells people (SPEC §11), against a real SMTP server on 127.0.0.1 with STARTTLS (a
 * self-signed certificate) and AUTH: a message per import whose outcome is in notify.on, with the
 * xlsx report attached and never a password or the imported file; a held file also to the
 * approvers with the commands that decide it; a server that is down delays no import and gets the
 * message once it is back; a queued message survives a restart and goes out exactly once; a server
 * that refuses every recipient fails the message for good.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import knex from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { header, mimePart, selfSignedCertificate, startTestSmtp, type TestSmtp } from '../helpers/smtp.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv } from '../fixtures/build.js';

const USER = { user: 'usersync', pass: 'Smtp-Pass-31337' };
const PASSWORD = 'Row-Secret-9x7y';
const today = () => new Date().toISOString().slice(0, 10);

describeEachDatabase('the daemon tells people by e-mail', (database) => {
  const tls = selfSignedCertificate();
  const rejecting: string[] = [];
  let smtp: TestSmtp;
  let daemon: DaemonHandle;
  let fixtures: string;
  let n = 0;

  const config = () => ({
    notify: {
      smtp: { url: smtp.url(USER), from: 'usersync@example.com', caFile: tls.certFile, connectTimeoutMs: 2000 },
      to: ['hr@example.com'],
      retryInitialMs: 200,
      retryMaxMs: 1000,
    },
    safety: { approvers: ['ciso@example.com'] },
    feeds: [{ name: 'workday', match: 'workday*', notify: ['hr-ops@example.com'], limits: { deactivate: 0 } }],
  });
  const start = async (cwd?: string) => {
    daemon = await startDaemon({ databaseUrl: database().url, config: config(), ...(cwd ? { cwd } : {}) });
  };

  beforeAll(async () => {
    fixtures = fixtureDir();
    smtp = await startTestSmtp({ auth: USER, tls, reject: rejecting });
    await start();
  });
  afterAll(async () => {
    await daemon?.stop();
    await smtp?.stop();
  });

  /** Drops a CSV into the inbox: one good row (with a password) and, unless `good`, one bad e-mail. */
  function drop(name: string, options: { good?: boolean; rows?: ReturnType<typeof userRow>[] } = {}): void {
    const rows = options.rows ?? [
      userRow({ name: 'Ana', username: `ana${++n}`, password: PASSWORD }),
      ...(options.good ? [] : [userRow({ name: 'Bad', username: `bad${n}`, email: 'not-an-address' })]),
    ];
    const file = writeCsv(path.join(fixtures, `${name}-${n}.csv`), [TEMPLATE, ...rows] as string[][]);
    copyFileSync(file, path.join(daemon.folder('inbox'), name));
  }
  const finished = (name: string) =>
    ['archive', 'error']
      .flatMap((f) => listFiles(path.join(daemon.cwd, f, today())))
      .filter((f) => f.endsWith(`_${name}`));
  const metric = async (status: string) => {
    const match = new RegExp(`usersync_notifications_total\\{status="${status}"\\} (\\d+)`).exec(
      await daemon.metrics(),
    );
    return Number(match?.[1] ?? NaN);
  };
  const mailAbout = (name: string) =>
    smtp.mails.filter((m) => header(m.raw, 'Subject')?.startsWith(`[usersync] ${name}:`));

  it('mails an import with errors to notify.to: outcome in the subject, counts in the body, the report attached, no password', async () => {
    drop('good.csv', { good: true }); // imported: not in notify.on, so no message
    await waitFor(() => finished('good.csv').length > 0, 20_000, daemon.output);
    drop('staff.csv');
    await waitFor(() => mailAbout('staff.csv').length === 1, 20_000, daemon.output);
    const mail = mailAbout('staff.csv')[0]!;
    expect(mail).toMatchObject({ secure: true, user: 'usersync', to: ['hr@example.com'] });
    expect(header(mail.raw, 'Subject')).toBe(
      '[usersync] staff.csv: Imported with errors: 1 row failed, 1 other row was applied',
    );
    const text = mimePart(mail.raw, 'text/plain')!.toString('utf8');
    expect(text).toContain('rows 2, created 1, updated 0, unchanged 0, failed 1, deactivated 0');
    const id = /\(import (\d+),/.exec(text)![1];
    expect(mimePart(mail.raw, 'text/html')!.toString('utf8')).toContain('Imported with errors');
    const report = path.join(daemon.cwd, 'error', today(), `${id}_staff.report.xlsx`);
    expect(mimePart(mail.raw, 'application/vnd.openxmlformats')).toEqual(readFileSync(report));
    expect(mail.raw).toContain(`filename=${id}_staff.report.xlsx`);
    expect([...mail.raw.matchAll(/filename=/g)]).toHaveLength(1); // never the imported file
    expect(mail.raw).not.toContain(PASSWORD);
    expect(mail.raw).not.toContain(Buffer.from(PASSWORD).toString('base64').slice(0, 12));
    expect(mailAbout('good.csv')).toEqual([]);
    expect(await metric('sent')).toBe(1);
    expect(daemon.output()).not.toContain(USER.pass);
  });

  it('mails a held file to the feed, notify.to and the approvers, with the tripped guard and the commands that decide it', async () => {
    drop('workday-1.csv', { rows: [userRow({ name: 'Ana', username: 'ana1', active: 'No' })] });
    await waitFor(() => mailAbout('workday-1.csv').length === 1, 20_000, daemon.output);
    const mail = mailAbout('workday-1.csv')[0]!;
    expect(mail.to).toEqual(['hr@example.com', 'hr-ops@example.com', 'ciso@example.com']);
    expect(header(mail.raw, 'Subject')).toBe(
      '[usersync] workday-1.csv: Held for approval: 1 safety limit was exceeded; nothing was changed',
    );
    const text = mimePart(mail.raw, 'text/plain')!.toString('utf8');
    expect(text).toContain('1 active user would be deactivated — the limit is 0');
    expect(text).toContain('users: ana1');
    expect(text).toMatch(/To apply it: +usersync .*holds approve \d+/);
    expect(text).toMatch(/To decline it: usersync .*holds decline \d+/);
    expect(mail.raw).toMatch(/filename=\d+_workday-1\.report\.xlsx/);
  });

  it('does not delay an import while the server is down, and sends its message once the server is back', async () => {
    await smtp.stop();
    const retries = await metric('retry');
    const before = Date.now();
    drop('down.csv');
    await waitFor(() => finished('down.csv').length > 0, 20_000, daemon.output);
    expect(Date.now() - before).toBeLessThan(10_000);
    await waitFor(async () => (await metric('retry')) > retries, 20_000, daemon.output);
    const health = await daemon.health();
    expect(health.body.notifications).toMatchObject({ queued: 1, stuck: null });
    expect(health.body.notifications).toHaveProperty('lastError', expect.stringContaining('Connection refused'));
    expect(await daemon.metrics()).toContain('usersync_notification_queue 1');
    await smtp.start();
    await waitFor(() => mailAbout('down.csv').length === 1, 20_000, daemon.output);
    await waitFor(async () => (await daemon.metrics()).includes('usersync_notification_queue 0'), 10_000);
  });

  it('keeps a queued message across a restart and sends it exactly once', async () => {
    await smtp.stop();
    drop('restart.csv');
    await waitFor(() => finished('restart.csv').length > 0, 20_000, daemon.output);
    await waitFor(async () => ((await daemon.health()).body.notifications as { queued: number }).queued === 1, 10_000);
    expect(await daemon.stop()).toBe(0);
    await smtp.start();
    await start(daemon.cwd);
    await waitFor(() => mailAbout('restart.csv').length === 1, 20_000, daemon.output);
    // Two more dispatcher ticks and a second restart: sent means never again.
    await new Promise((r) => setTimeout(r, 4500));
    expect(await daemon.stop()).toBe(0);
    await start(daemon.cwd);
    await new Promise((r) => setTimeout(r, 3000));
    expect(mailAbout('restart.csv')).toHaveLength(1);
    expect(mailAbout('staff.csv')).toHaveLength(1);
  });

  it('fails a message for good when the server refuses every recipient, and imports on', async () => {
    rejecting.push('hr@example.com');
    try {
      drop('refused.csv');
      await waitFor(async () => (await metric('failed')) === 1, 20_000, daemon.output);
      expect(finished('refused.csv').length).toBeGreaterThan(0);
      expect(mailAbout('refused.csv')).toEqual([]);
      expect(daemon.output()).toMatch(
        /"error":"[^"]*refused the recipients hr@example\.com[^"]*".*"message":"notify\.failed"/,
      );
      expect((await daemon.health()).body.notifications).toMatchObject({ queued: 0 });
    } finally {
      rejecting.length = 0;
    }
  });

  it('reports on /healthz a message queued for more than an hour, until it goes', async () => {
    await smtp.stop();
    const db = knex(
      database().kind === 'sqlite'
        ? { client: 'better-sqlite3', connection: { filename: database().url.slice(7) }, useNullAsDefault: true }
        : { client: 'mysql2', connection: database().url },
    );
    try {
      const now = Date.now();
      await db('notifications').insert({
        import_id: null,
        status: 'queued',
        recipients: JSON.stringify(['hr@example.com']),
        subject: '[usersync] old.csv: Rejected: nothing in this file was imported',
        body_text: 'old',
        body_html: '<p>old</p>',
        attempts: 0,
        created_at: new Date(now - 2 * 3600_000).toISOString(),
        next_attempt_at: new Date(now).toISOString(),
      });
    } finally {
      await db.destroy();
    }
    const stuck = await waitFor(async () => {
      const health = await daemon.health();
      return health.status === 503 ? health : undefined;
    }, 20_000);
    expect(stuck!.body.degraded).toMatch(
      /^notifications: 1 queued, the oldest for 120 min \(Connection refused by 127/,
    );
    await smtp.start();
    await waitFor(() => mailAbout('old.csv').length === 1, 20_000, daemon.output);
    await waitFor(async () => (await daemon.health()).status === 200, 10_000);
  });
});

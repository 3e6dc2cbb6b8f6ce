/**
 * `usersync notify test` (SPEC §11) against a real SMTP server on 127.0.0.1 (STARTTLS with a
 * self-signed certificate, AUTH): it sends, or says exactly which step failed — connection, TLS,
 * login, a refused recipient — with exit 3; not configured is exit 2. The password never shows.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { freePort } from '../helpers/daemon.js';
import { header, selfSignedCertificate, startTestSmtp, type TestSmtp } from '../helpers/smtp.js';

const USER = { user: 'usersync', pass: 'Cli-Smtp-Pass-42' };

describe('usersync notify test', () => {
  const tls = selfSignedCertificate();
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startTestSmtp({ auth: USER, tls, reject: ['nobody@example.com'] });
  });
  afterAll(async () => smtp?.stop());

  async function notifyTest(smtpSettings: Record<string, unknown>, args: string[] = [], to = ['hr@example.com']) {
    const cwd = makeWorkdir();
    const config = path.join(cwd, 'usersync.json');
    writeFileSync(config, JSON.stringify({ notify: { smtp: { from: 'usersync@example.com', ...smtpSettings }, to } }));
    chmodSync(config, 0o600);
    const result = await runUsersync(['--config', config, 'notify', 'test', ...args], { cwd });
    expect(result.stdout + result.stderr).not.toContain(USER.pass);
    return result;
  }

  it('sends a test message over STARTTLS with a login, to notify.to or to --to', async () => {
    const ok = await notifyTest({ url: smtp.url(USER), caFile: tls.certFile });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`Sent a test message through 127.0.0.1:${smtp.port} to hr@example.com.\n`);
    expect(smtp.mails.at(-1)).toMatchObject({ secure: true, user: 'usersync', to: ['hr@example.com'] });
    expect(header(smtp.mails.at(-1)!.raw, 'Subject')).toBe('[usersync] Test message');
    const other = await notifyTest({ url: smtp.url(USER), caFile: tls.certFile }, ['--to', 'it@example.com', '--json']);
    expect(JSON.parse(other.stdout)).toEqual({ sent: true, server: `127.0.0.1:${smtp.port}`, to: ['it@example.com'] });
  });

  it('names each failure, exit 3', async () => {
    // Each case: what is wrong → the words that must say so.
    const cases: Array<[Record<string, unknown>, string[], RegExp]> = [
      [{ url: `smtp://127.0.0.1:${await freePort()}` }, [], /Connection refused by 127\.0\.0\.1:\d+/],
      [{ url: smtp.url(USER) }, [], /TLS with 127\.0\.0\.1:\d+ failed: .*certificate/],
      [
        { url: smtp.url({ user: 'usersync', pass: 'Wrong-Pass-1' }), caFile: tls.certFile },
        [],
        /Login to 127\.0\.0\.1:\d+ failed: check the user and password in notify\.smtp\.url/,
      ],
      [
        { url: smtp.url(USER), caFile: tls.certFile },
        ['--to', 'nobody@example.com'],
        /refused the recipients nobody@example\.com/,
      ],
    ];
    for (const [settings, args, words] of cases) {
      const result = await notifyTest(settings, args);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toMatch(words);
      expect(result.stderr).toContain('NOTIFY_SEND_FAILED');
      expect(result.stderr).not.toContain('Wrong-Pass-1');
    }
  });

  it('says what is missing when nothing is configured, exit 2', async () => {
    const none = await notifyTest({ url: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('notify.smtp.url is not set');
    const nobody = await notifyTest({ url: smtp.url(USER), caFile: tls.certFile }, [], []);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('Nobody to write to: set notify.to or give --to ADDRESS.');
  });
});

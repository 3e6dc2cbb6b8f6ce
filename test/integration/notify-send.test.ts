/**
 * Sending one message through a real SMTP server on 127.0.0.1 (notify/send.ts), and what each
 * failure is called: refused connection, TLS (a certificate nobody vouches for), login, a refused
 * recipient; STARTTLS with a self-signed certificate the configured CA file trusts.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailer, SendFailure, type Mailer } from '../../src/notify/send.js';
import { fixtureDir } from '../fixtures/build.js';
import { freePort } from '../helpers/daemon.js';
import { header, mimePart, selfSignedCertificate, startTestSmtp, type TestSmtp } from '../helpers/smtp.js';

const USER = { user: 'usersync', pass: 'smtp-Secret-77' };
const settings = (url: string, caFile = '') => ({ url, from: 'usersync@example.com', caFile, connectTimeoutMs: 3000 });

async function failureOf(mailer: Mailer, to = ['hr@example.com']): Promise<SendFailure> {
  const error = await mailer.send({ to, subject: 's', text: 't', html: '<p>t</p>' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SendFailure);
  return error as SendFailure;
}

describe('sending through a real SMTP server', () => {
  const tls = selfSignedCertificate();
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startTestSmtp({ auth: USER, tls, reject: ['nobody@example.com'] });
  });
  afterAll(async () => smtp?.stop());

  it('upgrades with STARTTLS to a self-signed certificate the CA file trusts, logs in, and attaches the report', async () => {
    const report = path.join(fixtureDir(), '7_staff.report.xlsx');
    writeFileSync(report, Buffer.from('PK\u0003\u0004 not really a workbook'));
    const mailer = await createMailer(settings(smtp.url(USER), tls.certFile));
    const result = await mailer.send({
      to: ['hr@example.com', 'it@example.com'],
      subject: '[usersync] staff.xlsx: Imported — ünïcode',
      text: 'plain body',
      html: '<p>html body</p>',
      attachmentPath: report,
      messageId: '<usersync-1-x@test>',
    });
    mailer.close();
    expect(result).toEqual({ accepted: ['hr@example.com', 'it@example.com'], rejected: [], attached: true });
    const mail = smtp.mails.at(-1)!;
    expect(mail).toMatchObject({ secure: true, user: 'usersync', from: 'usersync@example.com' });
    expect(mail.to).toEqual(['hr@example.com', 'it@example.com']);
    expect(header(mail.raw, 'Subject')).toBe('[usersync] staff.xlsx: Imported — ünïcode');
    expect(header(mail.raw, 'Message-ID')).toBe('<usersync-1-x@test>');
    expect(mimePart(mail.raw, 'text/plain')?.toString()).toContain('plain body');
    expect(mimePart(mail.raw, 'text/html')?.toString()).toContain('<p>html body</p>');
    expect(mimePart(mail.raw, 'application/vnd.openxmlformats')).toEqual(
      Buffer.from('PK\u0003\u0004 not really a workbook'),
    );
    expect(mail.raw).toContain('filename=7_staff.report.xlsx');
  });

  it('sends without the attachment when the report is gone, and says so', async () => {
    const mailer = await createMailer(settings(smtp.url(USER), tls.certFile));
    const result = await mailer.send({
      to: ['hr@example.com'],
      subject: 's',
      text: 't',
      html: 't',
      attachmentPath: '/nonexistent/report.xlsx',
    });
    expect(result.attached).toBe(false);
    expect(smtp.mails.at(-1)!.raw).not.toContain('filename=');
  });

  it('calls a certificate the CA file does not vouch for a TLS failure, worth retrying', async () => {
    const failure = await failureOf(await createMailer(settings(smtp.url(USER))));
    expect(failure.step).toBe('tls');
    expect(failure.permanent).toBe(false);
    expect(failure.message).toMatch(/^TLS with 127\.0\.0\.1:\d+ failed: .*certificate/);
  });

  it('calls a wrong password a login failure, final, and never repeats the password', async () => {
    const wrong = { user: 'usersync', pass: 'wrong-Pass-99' };
    const failure = await failureOf(await createMailer(settings(smtp.url(wrong), tls.certFile)));
    expect(failure.step).toBe('auth');
    expect(failure.permanent).toBe(true);
    expect(failure.message).toContain('Login to 127.0.0.1');
    expect(failure.message).not.toContain('wrong-Pass-99');
  });

  it('calls a recipient the server refuses a refused recipient, final; the others still get it', async () => {
    const mailer = await createMailer(settings(smtp.url(USER), tls.certFile));
    const failure = await failureOf(mailer, ['nobody@example.com']);
    expect(failure.step).toBe('recipient');
    expect(failure.permanent).toBe(true);
    expect(failure.message).toContain('nobody@example.com');
    const partly = await mailer.send({
      to: ['nobody@example.com', 'hr@example.com'],
      subject: 's',
      text: 't',
      html: 't',
    });
    expect(partly).toMatchObject({ accepted: ['hr@example.com'], rejected: ['nobody@example.com'] });
  });

  it('calls a port nobody listens on a refused connection, worth retrying', async () => {
    const port = await freePort();
    const failure = await failureOf(await createMailer(settings(`smtp://127.0.0.1:${port}`)));
    expect(failure).toMatchObject({ step: 'connection', permanent: false });
    expect(failure.message).toBe(
      `Connection refused by 127.0.0.1:${port}: nothing listens there, or a firewall says no.`,
    );
  });

  it('calls an unreadable CA file a configuration problem', async () => {
    await expect(createMailer(settings(smtp.url(USER), '/nonexistent/ca.pem'))).rejects.toMatchObject({
      step: 'config',
    });
  });
});

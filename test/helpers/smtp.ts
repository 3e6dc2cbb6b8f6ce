/**
 * A real SMTP server on 127.0.0.1 (the smtp-server package) for the e-mail tests (SPEC §11): it
 * keeps every message it takes, can require a login, offer STARTTLS with a self-signed certificate
 * made by openssl, refuse chosen recipients with 550, and be stopped and started again on the same
 * port (a server that is down, then back).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { freePort } from './daemon.js';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** The user that logged in, when one did. */
  user: string | undefined;
  secure: boolean;
}

export interface TestSmtpOptions {
  /** Require AUTH PLAIN/LOGIN with this user and password. */
  auth?: { user: string; pass: string };
  /** Offer STARTTLS with this certificate (selfSignedCertificate()). */
  tls?: { key: string; cert: string };
  /** Recipients refused with 550. */
  reject?: string[];
  port?: number;
}

export interface TestSmtp {
  port: number;
  mails: ReceivedMail[];
  /** smtp://user:pass@127.0.0.1:port (no user when auth is not required). */
  url(user?: { user: string; pass: string }): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestSmtp(options: TestSmtpOptions = {}): Promise<TestSmtp> {
  const port = options.port ?? (await freePort());
  const mails: ReceivedMail[] = [];
  let server: SMTPServer | undefined;
  const config = (): SMTPServerOptions => ({
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : { disabledCommands: ['STARTTLS'] }),
    ...(options.auth ? { authMethods: ['PLAIN', 'LOGIN'] } : { authOptional: true }),
    allowInsecureAuth: !options.tls,
    logger: false,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass)
        return callback(null, { user: auth.username });
      callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (options.reject?.includes(address.address))
        return callback(Object.assign(new Error(`No such user ${address.address}`), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: session.user as string | undefined,
          secure: session.secure,
        });
        callback();
      });
    },
  });
  const handle: TestSmtp = {
    port,
    mails,
    url: (user) =>
      user
        ? `smtp://${encodeURIComponent(user.user)}:${encodeURIComponent(user.pass)}@127.0.0.1:${port}`
        : `smtp://127.0.0.1:${port}`,
    start: () =>
      new Promise<void>((resolve, reject) => {
        server = new SMTPServer(config());
        server.on('error', () => undefined);
        server.listen(port, '127.0.0.1', () => resolve());
        server.once('error', reject);
      }),
    stop: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
  await handle.start();
  return handle;
}

/** A self-signed certificate for 127.0.0.1, made with `openssl req -x509` (node:crypto cannot make X.509). */
export function selfSignedCertificate(): { key: string; cert: string; certFile: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'usersync-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1'].concat([
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]),
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

/** The decoded body of the MIME part with this content type (quoted-printable, base64 or plain). */
export function mimePart(raw: string, contentType: string): Buffer | undefined {
  const parts = raw.split(/\r?\n--[^\r\n]+\r?\n/);
  for (const part of parts) {
    const split = part.search(/\r?\n\r?\n/);
    if (split < 0) continue;
    const headers = part.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
    if (!new RegExp(`^Content-Type:\\s*${contentType}`, 'im').test(headers)) continue;
    const body = part
      .slice(split)
      .replace(/^\r?\n\r?\n/, '')
      .replace(/\r?\n--[^\r\n]*--\s*$/, '');
    if (/Content-Transfer-Encoding: base64/i.test(headers)) return Buffer.from(body.replace(/\s+/g, ''), 'base64');
    if (/Content-Transfer-Encoding: quoted-printable/i.test(headers))
      return Buffer.from(
        body
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      );
    return Buffer.from(body, 'utf8');
  }
  return undefined;
}

/** A header's value, unfolded (and RFC 2047-decoded for UTF-8 words). */
export function header(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.search(/\r?\n\r?\n/));
  const match = new RegExp(`^${name}: (.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  if (!match) return undefined;
  return match[1]!
    .replace(/\r?\n[ \t]/g, ' ')
    .replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(
            text
              .replace(/_/g, ' ')
              .replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
            'latin1',
          ).toString('utf8'),
    );
}

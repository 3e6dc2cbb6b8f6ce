/**
 * Hands one message to the SMTP server (nodemailer), and says in words what went wrong when it did
 * not take it: which step failed (DNS, connection, TLS, login, recipients, the message) and whether
 * trying again later can help. The SMTP URL's password is never part of what is said: errors
 * name the host and port only, and nodemailer's own logger stays off.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type TransportOptions } from 'nodemailer';
import type { Config } from '../config/schema.js';

export interface Outgoing {
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** The xlsx report to attach; skipped (with a line in the log) when it no longer exists. */
  attachmentPath?: string | null;
  /** Stable across retries, so a mail client can tell a repeat after a crash mid-send. */
  messageId?: string;
}

export type FailedStep = 'config' | 'dns' | 'connection' | 'tls' | 'auth' | 'recipient' | 'message' | 'server';

/** A send that failed: the step, words a person can act on, and whether a later try may work. */
export class SendFailure extends Error {
  constructor(
    readonly step: FailedStep,
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'SendFailure';
  }
}

export interface SendResult {
  accepted: string[];
  /** Recipients the server refused while it took the message for the others. */
  rejected: string[];
  attached: boolean;
}

export interface Mailer {
  send(message: Outgoing): Promise<SendResult>;
  close(): void;
}

/** Where the server is, for messages: host:port, never the user or password. */
export function serverOf(url: string): string {
  try {
    const parsed = new URL(url);
    const port = parsed.port || (parsed.protocol === 'smtps:' ? '465' : '587');
    return `${parsed.hostname}:${port}`;
  } catch {
    return 'the SMTP server';
  }
}

/** A mailer for notify.smtp; throws SendFailure('config') when the CA file cannot be read. */
export async function createMailer(settings: Config['notify']['smtp']): Promise<Mailer> {
  let ca: Buffer | undefined;
  if (settings.caFile !== '') {
    try {
      ca = await readFile(path.resolve(settings.caFile));
    } catch (error) {
      throw new SendFailure(
        'config',
        `notify.smtp.caFile ${settings.caFile} cannot be read (${(error as NodeJS.ErrnoException).code})`,
        true,
      );
    }
  }
  const transport = nodemailer.createTransport({
    url: settings.url,
    connectionTimeout: settings.connectTimeoutMs,
    greetingTimeout: settings.connectTimeoutMs,
    socketTimeout: Math.max(60_000, settings.connectTimeoutMs),
    logger: false,
    debug: false,
    ...(ca ? { tls: { ca } } : {}),
  } as TransportOptions);
  const server = serverOf(settings.url);
  return {
    async send(message) {
      let attachment: Buffer | undefined;
      if (message.attachmentPath) attachment = await readFile(message.attachmentPath).catch(() => undefined);
      try {
        const info = (await transport.sendMail({
          from: settings.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
          ...(message.messageId ? { messageId: message.messageId } : {}),
          ...(attachment && message.attachmentPath
            ? {
                attachments: [
                  {
                    filename: path.basename(message.attachmentPath),
                    content: attachment,
                    contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
                  },
                ],
              }
            : {}),
        })) as { accepted?: unknown[]; rejected?: unknown[] };
        return {
          accepted: (info.accepted ?? []).map(String),
          rejected: (info.rejected ?? []).map(String),
          attached: attachment !== undefined,
        };
      } catch (error) {
        throw explain(error, server);
      }
    },
    close: () => transport.close(),
  };
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  rejected?: unknown[];
}

/** nodemailer's error → the step that failed, in words, and whether to retry. */
export function explain(error: unknown, server: string): SendFailure {
  const e = error as SmtpError;
  const reply = e.response ? ` The server said: ${e.response.slice(0, 300)}` : '';
  const inner = e.message ?? String(error);
  // 5xx replies are final; 4xx (and no reply at all: the network) are worth another try.
  const permanent = e.responseCode !== undefined && e.responseCode >= 500;
  if (e.code === 'EDNS' || /ENOTFOUND|EAI_AGAIN/.test(inner))
    return new SendFailure('dns', `DNS: the name of ${server} could not be resolved (${inner}).`, false);
  if (/ECONNREFUSED/.test(inner))
    return new SendFailure(
      'connection',
      `Connection refused by ${server}: nothing listens there, or a firewall says no.`,
      false,
    );
  if (e.code === 'ETLS' || /certificate|TLS|SSL|handshake/i.test(inner))
    return new SendFailure(
      'tls',
      `TLS with ${server} failed: ${inner}. Check notify.smtp.caFile and the server's certificate.`,
      false,
    );
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH')
    return new SendFailure(
      'auth',
      `Login to ${server} failed: check the user and password in notify.smtp.url.${reply}`,
      permanent,
    );
  if (e.code === 'EENVELOPE') {
    const who = (e.rejected ?? []).map(String).join(', ');
    return new SendFailure(
      'recipient',
      `${server} refused the recipient${who ? `s ${who}` : ''} (or the sender).${reply}`,
      permanent,
    );
  }
  if (e.code === 'ETIMEDOUT' || e.code === 'ECONNECTION' || e.code === 'ESOCKET')
    return new SendFailure('connection', `No usable connection to ${server}: ${inner}`, false);
  if (e.code === 'EMESSAGE') return new SendFailure('message', `${server} refused the message.${reply}`, permanent);
  return new SendFailure('server', `${server}: ${inner}${reply}`, permanent);
}

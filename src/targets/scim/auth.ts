/**
 * The Authorization header of a target's requests. Bearer: the configured token. OAuth 2.0 client
 * credentials (RFC 6749 §4.4): a token is asked for once, kept until shortly before it expires,
 * shared by every request in flight, and asked for again when the target answers 401. The client
 * secret goes only to the token endpoint, in the Basic header (client_secret_basic).
 */
import type { TargetConfig } from '../../config/targets-schema.js';
import { DeliveryFault, errorDetail } from './fault.js';

export interface Credentials {
  header(): Promise<string>;
  /** The target refused the token: forget it, so the next header() asks for a new one. */
  invalidate(token: string): void;
}

/** Tokens are renewed this long before the expiry the endpoint gave. */
const EARLY_MS = 30_000;

export function credentialsFor(target: Pick<TargetConfig, 'auth' | 'timeoutMs'>): Credentials {
  const auth = target.auth;
  if (auth.type === 'bearer') return { header: async () => `Bearer ${auth.token}`, invalidate: () => undefined };
  const oauth = auth; // narrowed, for the closures below
  let current: { header: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (oauth.scope !== '') form.set('scope', oauth.scope);
    const basic = Buffer.from(
      `${encodeURIComponent(oauth.clientId)}:${encodeURIComponent(oauth.clientSecret)}`,
    ).toString('base64');
    let response: Response;
    try {
      response = await fetch(oauth.tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        signal: AbortSignal.timeout(target.timeoutMs),
      });
    } catch (error) {
      throw new DeliveryFault('transient', `token endpoint ${oauth.tokenUrl} unreachable: ${reason(error)}`);
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON: the error below quotes the start of the text.
    }
    if (!response.ok || typeof body.access_token !== 'string') {
      // A refused client is the operator's to fix (configuration), not the change's: the queue waits.
      const oauthError = typeof body.error === 'string' ? `${body.error} ` : '';
      throw new DeliveryFault(
        'transient',
        `token endpoint ${oauth.tokenUrl} refused client ${oauth.clientId}: ${oauthError}${errorDetail(response.status, body, text)}`,
        response.status,
      );
    }
    const lifetimeMs = typeof body.expires_in === 'number' ? body.expires_in * 1000 : 3_600_000;
    const header = `Bearer ${body.access_token}`;
    current = { header, expiresAt: Date.now() + Math.max(lifetimeMs - EARLY_MS, lifetimeMs / 2) };
    return header;
  }

  return {
    async header() {
      if (current && Date.now() < current.expiresAt) return current.header;
      pending ??= fetchToken().finally(() => (pending = undefined));
      return pending;
    },
    invalidate(header) {
      if (current?.header === header) current = undefined;
    },
  };
}

export function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

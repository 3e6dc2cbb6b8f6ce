/**
 * Authentication for the SCIM endpoints: an OAuth 2.0 client-credentials token endpoint (RFC 6749
 * §4.4) issuing random bearer tokens that expire, or one static bearer token, or nothing.
 * `check` is what scimmy-routers calls for every SCIM request; throwing makes it answer 401.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { ScimProviderOptions } from './types.js';

export type AuthOption = ScimProviderOptions['auth'];

/** scimmy-routers' names for the authenticationSchemes it advertises (oauth → "oauth2", bearer → "oauthbearertoken"). */
export type RouterAuthType = 'oauth' | 'bearer';

export class ScimAuth {
  /** token → expiry (ms since epoch) */
  private readonly tokens = new Map<string, number>();

  constructor(private readonly option: AuthOption) {}

  get routerType(): RouterAuthType {
    return this.option?.type === 'oauth2' ? 'oauth' : 'bearer';
  }

  /** Throws with a message for scimmy-routers' 401 unless the request carries a valid bearer token. */
  check(req: Request): string {
    const verdict = this.verdict(req);
    if (verdict.ok) return verdict.user;
    // RFC 6750 §3: say which kind of failure it was, so a client knows to fetch a new token.
    const error = verdict.error ? `, error="${verdict.error}"` : '';
    req.res?.setHeader('WWW-Authenticate', `Bearer realm="scim"${error}`);
    throw new Error(verdict.message);
  }

  /** The same rule as check, without the 401 side effects. */
  accepts(req: Request): boolean {
    return this.verdict(req).ok;
  }

  private verdict(req: Request): { ok: true; user: string } | { ok: false; message: string; error?: string } {
    if (!this.option) return { ok: true, user: 'anonymous' };
    const token = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '')?.[1];
    if (token === undefined) return { ok: false, message: 'Authorization: Bearer <token> required' };
    if (this.option.type === 'bearer')
      return token === this.option.token
        ? { ok: true, user: 'bearer' }
        : { ok: false, message: 'Invalid token', error: 'invalid_token' };
    const expiresAt = this.tokens.get(token);
    if (expiresAt === undefined) return { ok: false, message: 'Invalid or revoked token', error: 'invalid_token' };
    if (Date.now() >= expiresAt) return { ok: false, message: 'Token expired', error: 'invalid_token' };
    return { ok: true, user: this.option.clientId };
  }

  expireAll(): void {
    this.tokens.clear();
  }

  /**
   * POST /oauth/token, body already read as text: grant_type=client_credentials with the client
   * id and secret by HTTP Basic (RFC 6749 §2.3.1, form-encoded before base64) or as form fields.
   */
  token(rawBody: string, req: Request, res: Response): void {
    res.setHeader('Cache-Control', 'no-store');
    const option = this.option;
    if (option?.type !== 'oauth2') {
      res.status(404).json({ error: 'not_found', error_description: 'This provider issues no tokens' });
      return;
    }
    const form = new URLSearchParams(rawBody);
    const basic = basicCredentials(req.header('authorization'));
    const clientId = basic?.id ?? form.get('client_id');
    const clientSecret = basic?.secret ?? form.get('client_secret');
    if (clientId !== option.clientId || clientSecret !== option.clientSecret) {
      res.setHeader('WWW-Authenticate', 'Basic realm="oauth"');
      res.status(401).json({ error: 'invalid_client', error_description: 'Unknown client or wrong secret' });
      return;
    }
    if (form.get('grant_type') !== 'client_credentials') {
      res.status(400).json({ error: 'unsupported_grant_type', error_description: 'Only client_credentials' });
      return;
    }
    const ttl = option.tokenTtlSeconds ?? 3600;
    const accessToken = randomBytes(24).toString('base64url');
    this.tokens.set(accessToken, Date.now() + ttl * 1000);
    res.status(200).json({ access_token: accessToken, token_type: 'Bearer', expires_in: ttl });
  }
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const unform = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
  try {
    return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  }
}

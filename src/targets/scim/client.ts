/**
 * One target's HTTP: SCIM JSON requests over node's fetch (undici underneath, keep-alive by
 * default, so a busy queue reuses its connections). Faults that are nobody's decision — the
 * network, a timeout, 429, 5xx, and 401 after a fresh token — are thrown as transient; every
 * other answer is returned for the caller to read (201, 200, 204, 404, 409, other 4xx).
 */
import type { TargetConfig } from '../../config/targets-schema.js';
import { credentialsFor, reason, type Credentials } from './auth.js';
import { DeliveryFault, errorDetail, retryAfterMs } from './fault.js';

export interface ScimResponse {
  status: number;
  body: unknown;
  text: string;
}

export interface ScimClient {
  readonly baseUrl: string;
  request(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<ScimResponse>;
}

const SCIM_JSON = 'application/scim+json';

export function createScimClient(
  target: Pick<TargetConfig, 'url' | 'auth' | 'timeoutMs'>,
  options: { credentials?: Credentials; stop?: AbortSignal } = {},
): ScimClient {
  const credentials = options.credentials ?? credentialsFor(target);
  // A stopping daemon cuts requests short rather than wait up to timeoutMs for each.
  const signal = () =>
    options.stop
      ? AbortSignal.any([AbortSignal.timeout(target.timeoutMs), options.stop])
      : AbortSignal.timeout(target.timeoutMs);
  const baseUrl = target.url.replace(/\/+$/, '');

  async function send(method: string, path: string, body: unknown): Promise<Response & { authorization: string }> {
    const authorization = await credentials.header();
    try {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          authorization,
          accept: `${SCIM_JSON}, application/json`,
          ...(body === undefined ? {} : { 'content-type': SCIM_JSON }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal(),
      });
      return Object.assign(response, { authorization });
    } catch (error) {
      throw new DeliveryFault('transient', `${method} ${path}: ${reason(error)}`);
    }
  }

  return {
    baseUrl,
    async request(method, path, body) {
      let response = await send(method, path, body);
      if (response.status === 401) {
        // An expired or revoked token: one more try with a new one.
        await response.body?.cancel();
        credentials.invalidate(response.authorization);
        response = await send(method, path, body);
      }
      const text = await response.text();
      let parsed: unknown = null;
      if (text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = null;
        }
      }
      const { status } = response;
      if (status === 401 || status === 429 || status >= 500)
        throw new DeliveryFault(
          'transient',
          `${method} ${path}: ${errorDetail(status, parsed, text)}`,
          status,
          retryAfterMs(response.headers.get('retry-after')),
        );
      return { status, body: parsed, text };
    },
  };
}

/** A refusal (a 4xx that is not handled) as a fault that parks the user's change. */
export function refused(method: string, path: string, response: ScimResponse): DeliveryFault {
  return new DeliveryFault(
    'refused',
    `${method} ${path}: ${errorDetail(response.status, response.body, response.text)}`,
    response.status,
  );
}

/**
 * How a delivery can fail (SPEC §12): `transient` faults — the network, a timeout, 401 after a
 * fresh token, 429, 5xx — are tried again later with backoff and never lose the change; a target
 * that `refused` one (any other 4xx) parks that user's change with the target's own words until
 * an operator retries it.
 */
export type FaultKind = 'transient' | 'refused';

export class DeliveryFault extends Error {
  constructor(
    readonly kind: FaultKind,
    message: string,
    readonly status?: number,
    /** The target's Retry-After, in ms, when it sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryFault';
  }
}

/** `Retry-After` in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The target's explanation of an error answer: SCIM's `detail` (RFC 7644 §3.12), else the start of the body. */
export function errorDetail(status: number, body: unknown, text: string): string {
  const scim = body as { detail?: unknown; scimType?: unknown } | null;
  const detail =
    scim && typeof scim.detail === 'string'
      ? `${scim.detail}${typeof scim.scimType === 'string' ? ` (${scim.scimType})` : ''}`
      : text.replace(/\s+/g, ' ').trim().slice(0, 300);
  return `HTTP ${status}${detail ? `: ${detail}` : ''}`;
}

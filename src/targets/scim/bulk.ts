/**
 * SCIM Bulk (RFC 7644 §3.7): many users' writes in one request, when the target's
 * /ServiceProviderConfig offers it. Each operation's own status decides that user's fate, as a
 * single request's would; a 409 or 404 is left to the single-request path (users-api.ts), which
 * knows how to link or re-create.
 */
import type { ScimClient } from './client.js';
import { DeliveryFault, errorDetail } from './fault.js';
import { patchBody, scimUser, userPatch } from './resource.js';
import type { UserWrite } from './users-api.js';

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

/**
 * Operations per Bulk request, whatever the target allows: providers process a request's
 * operations one after another (SCIMMY's cost grows with the square of their number), so more
 * requests of this size, several at once, go faster than few huge ones.
 */
const MAX_BULK_OPERATIONS = 100;

export interface BulkLimits {
  maxOperations: number;
  maxPayloadSize: number;
}

/** Per write: the target's id, `single` (to be tried alone), or the fault that parks or retries it. */
export type BulkOutcome = { id: string } | { single: true } | { fault: DeliveryFault };

/** The target's Bulk limits, or null when it has none (or does not say). Transient faults are thrown. */
export async function bulkLimits(client: ScimClient): Promise<BulkLimits | null> {
  const response = await client.request('GET', '/ServiceProviderConfig');
  if (response.status >= 300) return null;
  const bulk = (response.body as { bulk?: { supported?: unknown; maxOperations?: unknown; maxPayloadSize?: unknown } })
    ?.bulk;
  if (bulk?.supported !== true) return null;
  const maxOperations =
    typeof bulk.maxOperations === 'number' ? Math.min(bulk.maxOperations, MAX_BULK_OPERATIONS) : 100;
  const maxPayloadSize = typeof bulk.maxPayloadSize === 'number' ? bulk.maxPayloadSize : 1_048_576;
  return maxOperations > 1 ? { maxOperations, maxPayloadSize } : null;
}

interface Operation {
  method: 'POST' | 'PATCH';
  path: string;
  bulkId?: string;
  data: unknown;
}

/** Splits the writes into requests within the limits; resolves to one outcome per write. */
export function bulkRequests(
  writes: readonly UserWrite[],
  limits: BulkLimits,
): Array<{ writes: UserWrite[]; body: unknown }> {
  const requests: Array<{ writes: UserWrite[]; body: unknown }> = [];
  let ops: Operation[] = [];
  let batch: UserWrite[] = [];
  let size = 200;
  const flush = () => {
    if (ops.length > 0) requests.push({ writes: batch, body: { schemas: [BULK_REQUEST], Operations: ops } });
    ops = [];
    batch = [];
    size = 200;
  };
  for (const write of writes) {
    // Every operation has a bulkId (required for POST, allowed for the rest): results are matched on it.
    const op: Operation =
      write.remoteId === null
        ? { method: 'POST', path: '/Users', bulkId: '', data: scimUser(write.username, write.after) }
        : {
            method: 'PATCH',
            path: `/Users/${encodeURIComponent(write.remoteId)}`,
            bulkId: '',
            data: patchBody(userPatch(write.username, write.before, write.after)),
          };
    const opSize = Buffer.byteLength(JSON.stringify(op)) + 1;
    if (ops.length >= limits.maxOperations || size + opSize > limits.maxPayloadSize * 0.9) flush();
    op.bulkId = `u${batch.length}`;
    ops.push(op);
    batch.push(write);
    size += opSize;
  }
  flush();
  return requests;
}

export async function sendBulk(
  client: ScimClient,
  request: { writes: UserWrite[]; body: unknown },
): Promise<BulkOutcome[]> {
  const response = await client.request('POST', '/Bulk', request.body);
  // The request as a whole refused (too large, Bulk switched off, one operation it cannot parse):
  // each write goes alone, so that only a write the target refuses on its own is parked.
  if (response.status >= 300) return request.writes.map(() => ({ single: true }));
  const results = (response.body as { Operations?: unknown[] } | null)?.Operations ?? [];
  const sent = (request.body as { Operations: Operation[] }).Operations;
  return request.writes.map((write, i) => outcomeOf(write, sent[i]!, findResult(results, sent[i]!, i)));
}

interface BulkResult {
  bulkId?: string;
  method?: string;
  location?: string;
  status?: string | number;
  response?: unknown;
}

/** The result of an operation: by its bulkId, else by position (a target that drops bulkIds keeps the order). */
function findResult(results: unknown[], op: Operation, index: number): BulkResult | undefined {
  const byId = (results as BulkResult[]).find((r) => r?.bulkId === op.bulkId);
  return byId ?? (results[index] as BulkResult | undefined);
}

function outcomeOf(write: UserWrite, op: Operation, result: BulkResult | undefined): BulkOutcome {
  if (!result) return { single: true };
  const status = Number(typeof result.status === 'object' ? (result.status as { code?: unknown }).code : result.status);
  const what = `Bulk ${op.method} ${op.path}`;
  if (status >= 200 && status < 300) {
    if (write.remoteId !== null) return { id: write.remoteId };
    const fromBody = (result.response as { id?: unknown } | undefined)?.id;
    const fromLocation = result.location?.split('/').pop();
    const id = typeof fromBody === 'string' ? fromBody : fromLocation ? decodeURIComponent(fromLocation) : undefined;
    return id ? { id } : { single: true };
  }
  if (status === 409 || status === 404) return { single: true };
  const detail = errorDetail(status, result.response ?? null, '');
  if (status === 401 || status === 429 || status >= 500 || !Number.isFinite(status))
    return { fault: new DeliveryFault('transient', `${what}: ${detail}`, status) };
  return { fault: new DeliveryFault('refused', `${what}: ${detail}`, status) };
}

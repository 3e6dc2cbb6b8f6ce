/**
 * rejectWhen for POST /Bulk, per operation, as a provider that validates each operation answers:
 * the predicate sees every operation (method, base path + operation path, data); the ones it names
 * are taken out before SCIMMY's BulkRequest runs and put back into its BulkResponse, in their
 * places, as status "400" with a SCIM invalidValue error. The others run normally.
 *
 * Limits: a later operation that references a rejected POST's bulkId gets SCIMMY's 400 "No POST
 * operation found matching bulkId" (a real provider might say 412); rejected operations do not
 * count towards failOnErrors.
 */
import type { Request, Response } from 'express';
import { SCIM_ERROR_SCHEMA } from './scim-error.js';
import type { ScimRejectPredicate } from './types.js';

const BULK_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

interface BulkOperation {
  method?: unknown;
  path?: unknown;
  bulkId?: unknown;
  data?: unknown;
}

/** True when it has answered the request itself (every operation rejected). */
export function rejectBulkOperations(req: Request, res: Response, predicate: ScimRejectPredicate): boolean {
  const operations: unknown = (req.body as { Operations?: unknown } | undefined)?.Operations;
  if (!Array.isArray(operations)) return false;
  const ops = operations as BulkOperation[];
  const rejections = ops.map((op) =>
    predicate({
      method: String(op?.method ?? '').toUpperCase(),
      path: req.baseUrl + String(op?.path ?? ''),
      body: op?.data,
    }),
  );
  if (rejections.every((message) => message === undefined)) return false;

  const merge = (done: unknown[]): unknown[] =>
    ops
      .map((op, i) => (rejections[i] === undefined ? done.shift() : rejected(op, rejections[i]!)))
      .filter((result) => result !== undefined);
  const kept = ops.filter((_, i) => rejections[i] === undefined);
  if (kept.length === 0) {
    res
      .status(200)
      .type('application/scim+json')
      .send(JSON.stringify({ schemas: [BULK_RESPONSE_SCHEMA], Operations: merge([]) }));
    return true;
  }
  req.body = { ...(req.body as object), Operations: kept };
  // scimmy-routers answers with res.send(BulkResponse), which express turns into res.json().
  const json = res.json.bind(res);
  res.json = (body: { Operations?: unknown }) =>
    json(
      res.statusCode === 200 && Array.isArray(body?.Operations)
        ? { ...body, Operations: merge([...body.Operations]) }
        : body,
    );
  return false;
}

function rejected(op: BulkOperation, detail: string): object {
  return {
    method: op.method,
    ...(typeof op.bulkId === 'string' ? { bulkId: op.bulkId } : {}),
    status: '400',
    response: { schemas: [SCIM_ERROR_SCHEMA], status: '400', scimType: 'invalidValue', detail },
  };
}

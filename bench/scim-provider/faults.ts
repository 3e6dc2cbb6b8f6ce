/**
 * Fault injection in front of the SCIM endpoints (never the token endpoint):
 * - failNext: the next N SCIM requests get 429/500/502/503 (with Retry-After when asked), before
 *   auth is checked, as a rate limiter or a gateway in front of a provider answers;
 * - rejectWhen: an authenticated request the predicate names gets 400 invalidValue, as a provider's
 *   own validation would. Unauthenticated requests go on to scimmy-routers and its 401.
 *   For POST /Bulk the predicate judges each operation instead (bulk-rejects.ts).
 */
import type { Request, RequestHandler } from 'express';
import type { ScimAuth } from './auth.js';
import { rejectBulkOperations } from './bulk-rejects.js';
import { scimError } from './scim-error.js';
import type { ScimRejectPredicate } from './types.js';

export type InjectedStatus = 429 | 500 | 502 | 503;

export class ScimFaults {
  private failures: { remaining: number; status: InjectedStatus; retryAfterSeconds: number | undefined } | undefined;
  private predicate: ScimRejectPredicate | undefined;

  failNext(count: number, status: InjectedStatus, retryAfterSeconds?: number): void {
    this.failures = count > 0 ? { remaining: count, status, retryAfterSeconds } : undefined;
  }

  rejectWhen(predicate: ScimRejectPredicate | undefined): void {
    this.predicate = predicate;
  }

  clear(): void {
    this.failures = undefined;
    this.predicate = undefined;
  }

  middleware(auth: ScimAuth): RequestHandler {
    return (req, res, next) => {
      const failure = this.failures;
      if (failure) {
        failure.remaining -= 1;
        if (failure.remaining <= 0) this.failures = undefined;
        if (failure.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(failure.retryAfterSeconds));
        return scimError(res, failure.status, undefined, `Injected failure: HTTP ${failure.status}`);
      }
      const predicate = this.predicate;
      if (!predicate || !auth.accepts(req)) return next();
      if (req.method === 'POST' && req.path === '/Bulk')
        return rejectBulkOperations(req, res, predicate) ? undefined : next();
      const message = predicate(view(req));
      if (message !== undefined) return scimError(res, 400, 'invalidValue', message);
      next();
    };
  }
}

function view(req: Request): Parameters<ScimRejectPredicate>[0] {
  return { method: req.method, path: req.originalUrl, body: req.body };
}

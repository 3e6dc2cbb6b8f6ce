/**
 * Reads every request body as raw text before anything else does, logs the request, and hands
 * scimmy-routers the parsed JSON. Reading the stream ourselves is what lets the log keep the exact
 * bytes (tests assert no body ever carries a password); body-parser's json(), which scimmy-routers
 * mounts, sees a finished stream and leaves our `req.body` alone.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { scimError } from './scim-error.js';
import type { ScimRequestLog } from './types.js';

/** Far above any Bulk maxPayloadSize: the Bulk router itself answers 413 past the advertised size. */
const BODY_LIMIT_BYTES = 64 * 1024 * 1024;
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\b/i;

/** The raw body text of a request, for handlers that parse it themselves (the token endpoint). */
export function rawBody(res: Response): string {
  return (res.locals.rawBody as string | undefined) ?? '';
}

/** Requests received, and how many were answered with an error status (400 or above). */
export interface RequestTally {
  total: number;
  failed: number;
}

/**
 * `log` undefined keeps only the tally: a benchmark of 100,000 users would otherwise hold every
 * body it sent in memory (about 1 GB), which is the provider's cost, not the client's.
 */
export function logAndReadBody(log: ScimRequestLog[] | undefined, tally: RequestTally): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const entry: ScimRequestLog = {
      method: req.method,
      path: req.originalUrl,
      headers: { ...req.headers },
      body: '',
      status: 0,
      at: Date.now(),
    };
    log?.push(entry);
    tally.total++;
    res.on('finish', () => {
      entry.status = res.statusCode;
      if (res.statusCode >= 400) tally.failed++;
    });

    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('error', next);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      entry.body = text;
      res.locals.rawBody = text;
      if (size > BODY_LIMIT_BYTES) return scimError(res, 413, undefined, 'Request body too large');
      if (text === '' || !JSON_TYPE.test(req.header('content-type') ?? '')) return next();
      try {
        req.body = JSON.parse(text);
      } catch (error) {
        return scimError(res, 400, 'invalidSyntax', `Request body is not JSON: ${(error as Error).message}`);
      }
      next();
    });
  };
}

/** Waits `ms` before handing the request on (ScimProviderOptions.latencyMs). */
export function delay(ms: number): RequestHandler {
  return (_req, _res, next) => void setTimeout(next, ms);
}

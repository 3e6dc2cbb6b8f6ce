/**
 * The express app: request log and raw body → optional latency → POST /oauth/token →
 * /scim/v2 (faults, member-only group PATCHes (group-members.ts), then scimmy-routers, which
 * authenticates and serves every SCIM endpoint).
 * Call only after declareResources(): scimmy-routers mounts the resource types declared when it
 * is constructed, and resets SCIMMY.Config, so configureScimmy() runs after it.
 */
import querystring from 'node:querystring';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import type { ScimAuth } from './auth.js';
import type { ScimFaults } from './faults.js';
import { delay, logAndReadBody, rawBody, type RequestTally } from './request-log.js';
import { groupMembersPatch } from './group-members.js';
import { scimError } from './scim-error.js';
import type { ScimStore } from './store.js';
import type { ScimProviderOptions, ScimRequestLog } from './types.js';

export const SCIM_BASE_PATH = '/scim/v2';
export const TOKEN_PATH = '/oauth/token';

export interface AppParts {
  store: ScimStore;
  origin: string;
  auth: ScimAuth;
  faults: ScimFaults;
  requests: ScimRequestLog[];
  tally: RequestTally;
  options: ScimProviderOptions;
  maxResults: number;
}

export function buildApp(parts: AppParts): Express {
  const app = express();
  // Express 5's req.query is a getter that parses the URL on every read, so scimmy-routers'
  // middleware that turns startIndex/count into numbers changes nothing and SCIMMY ignores both
  // (it wants integers). Parse them as numbers here instead.
  app.set('query parser', (text: string) => {
    const query: Record<string, unknown> = querystring.parse(text);
    for (const name of ['startIndex', 'count']) {
      const value = query[name];
      if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) query[name] = Number(value);
    }
    return query;
  });
  app.use(logAndReadBody(parts.options.requestLog === false ? undefined : parts.requests, parts.tally));
  if (parts.options.latencyMs) app.use(delay(parts.options.latencyMs));
  app.post(TOKEN_PATH, (req, res) => parts.auth.token(rawBody(res), req, res));

  const scim = new SCIMMYRouters({
    type: parts.auth.routerType,
    handler: (req) => parts.auth.check(req),
    baseUri: () => parts.origin,
  });
  configureScimmy(parts.options, parts.maxResults);
  app.use(SCIM_BASE_PATH, parts.faults.middleware(parts.auth), groupMembersPatch(parts.store, parts.auth), scim);

  // scimmy-routers passes errors of status 500 and above on after it has answered; express's
  // default handler would then destroy the keep-alive socket. Anything unanswered gets a 500.
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    scimError(res, 500, undefined, error.message);
  });
  return app;
}

/**
 * /ServiceProviderConfig as the options say. SCIMMY.Config is process-global and cumulative:
 * scimmy-routers' constructor has just set patch, filter, sort and bulk to supported and appended
 * its authentication scheme, so every value is set here again.
 */
function configureScimmy(options: ScimProviderOptions, maxResults: number): void {
  const bulk = options.bulk;
  // Keep the one scheme this router appended (oauth2 or oauthbearertoken); none without auth.
  const advertised = options.auth ? [...SCIMMY.Config.get().authenticationSchemes].slice(-1) : [];
  SCIMMY.Config.set('authenticationSchemes', []);
  SCIMMY.Config.set({
    patch: true,
    filter: { supported: true, maxResults },
    // pageFor() pages before SCIMMY could sort, so sorting would be per page: say it is unsupported.
    sort: false,
    etag: false,
    changePassword: false,
    bulk: bulk
      ? { supported: true, maxOperations: bulk.maxOperations, maxPayloadSize: bulk.maxPayloadSize ?? 1_048_576 }
      : { supported: false },
    ...(advertised.length ? { authenticationSchemes: advertised } : {}),
  });
}

/**
 * The configuration of SPEC §12, provisioning to the product: `targets`, the SCIM 2.0 service
 * providers every committed change to a user is delivered to. Part of the schema (schema.ts, the
 * only place keys are spelled), kept apart for size. Its secrets (`clientSecret`, `token`) are
 * never logged nor printed (secret-files.ts warns when a configuration file holding one is
 * readable by others).
 */
import { z } from 'zod';

const httpUrl = (what: string) =>
  z
    .string()
    .min(1)
    .refine((url) => /^https?:\/\/[^/]/i.test(url), 'must be http://… or https://…')
    .describe(what);

const oauth2 = z
  .strictObject({
    type: z.literal('oauth2'),
    tokenUrl: httpUrl('The token endpoint (OAuth 2.0 client credentials grant).'),
    clientId: z.string().min(1).describe('The client id usersync was given by the product.'),
    clientSecret: z.string().min(1).describe('Its secret. Keep the configuration file readable only by usersync.'),
    scope: z.string().default('').describe('Scope to ask for ("" asks for none).'),
  })
  .describe('OAuth 2.0 client credentials: a token is asked for, kept until it expires, and asked again on 401.');

const bearer = z
  .strictObject({
    type: z.literal('bearer'),
    token: z.string().min(1).describe('A long-lived bearer token the product issued. A secret.'),
  })
  .describe('A fixed bearer token.');

const target = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64')
      .describe(
        'The target’s name in commands, logs and metrics (e.g. "segura"). Never change it: its queue and ids are kept under it.',
      ),
    type: z.literal('scim').describe('"scim": a SCIM 2.0 service provider (RFC 7643/7644).'),
    url: httpUrl('The SCIM base URL, e.g. https://pam.example.com/scim/v2 (…/Users, …/Groups are under it).'),
    auth: z
      .discriminatedUnion('type', [oauth2, bearer])
      .describe(
        'How usersync authenticates: { "type": "oauth2", "tokenUrl", "clientId", "clientSecret", "scope" (optional) } or { "type": "bearer", "token" }.',
      ),
    enabled: z
      .boolean()
      .default(true)
      .describe('Default true; false: nothing is delivered to it, its queue keeps growing.'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe('Users delivered at once, default 4 (one user’s changes always in order).'),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .default(30_000)
      .describe('Longest wait for one HTTP answer before it is retried, default 30000.'),
    retryInitialMs: z
      .number()
      .int()
      .min(10)
      .default(1000)
      .describe('First wait after a network error, 429 or 5xx, default 1000.'),
    retryMaxMs: z
      .number()
      .int()
      .min(10)
      .default(300_000)
      .describe(
        'Longest wait between tries, default 300000 (capped exponential backoff with jitter; a Retry-After wins when longer).',
      ),
    bulk: z
      .boolean()
      .default(true)
      .describe(
        'Default true: use SCIM Bulk when the target’s /ServiceProviderConfig offers it; false sends one request per user.',
      ),
    groups: z
      .boolean()
      .default(true)
      .describe('Default true: push roles and groups as SCIM groups with their members; false sends users only.'),
    rolePrefix: z
      .string()
      .default('')
      .describe(
        'Put before a role’s name to make its SCIM group’s displayName (e.g. "role:"), when roles and groups may share names.',
      ),
  })
  .describe('A SCIM 2.0 service provider the directory is provisioned to.');

export const targets = z
  .array(target)
  .default([])
  .refine((list) => new Set(list.map((t) => t.name)).size === list.length, 'two targets have the same name')
  .describe('Where every change to a user is delivered (SPEC §12): SCIM 2.0 service providers.');

export type TargetConfig = z.infer<typeof target>;

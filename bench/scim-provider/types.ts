/**
 * The public shape of the SCIM 2.0 test service provider (startScimProvider in ./index.ts): what
 * the SCIM tests and the benchmark see. Kept apart so the store, the handlers and the HTTP layer
 * can share the record types without importing each other.
 */

/** One HTTP request the provider received, token endpoint included, in the order received. */
export interface ScimRequestLog {
  method: string;
  /** Path with the query string, as sent (e.g. `/scim/v2/Users?filter=...`). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body as raw text, exactly as received ('' when there was none). */
  body: string;
  /** The status sent back; 0 until the response has finished. */
  status: number;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface ScimProviderOptions {
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** No auth option: every SCIM request is accepted without a token. */
  auth?:
    | { type: 'oauth2'; clientId: string; clientSecret: string; tokenTtlSeconds?: number /* default 3600 */ }
    | { type: 'bearer'; token: string };
  /** Advertised in /ServiceProviderConfig and served at POST /Bulk; false or omitted: no bulk (501). */
  bulk?: { maxOperations: number; maxPayloadSize?: number } | false;
  /** Artificial delay before each request is handled. */
  latencyMs?: number;
  /** false: `requests` stays empty and only requestCounts() counts (the benchmark); default true. */
  requestLog?: boolean;
}

/** A user's attributes as a client sets them (never a password: SCIMMY's schema does not return it, so it is never stored). */
export interface ScimUserFields {
  userName: string;
  externalId?: string;
  name?: { formatted?: string; givenName?: string; familyName?: string; [key: string]: unknown };
  emails?: Array<{ value: string; type?: string; primary?: boolean; [key: string]: unknown }>;
  phoneNumbers?: Array<{ value: string; type?: string; primary?: boolean; [key: string]: unknown }>;
  active?: boolean;
  /** Any other core User attribute the client sent (displayName, title, ...). */
  [attribute: string]: unknown;
}

/** A stored user as plain data. */
export interface ScimUserRecord extends ScimUserFields {
  id: string;
  meta: { resourceType: 'User'; created: string; lastModified: string };
}

export interface ScimGroupMember {
  value: string;
  display?: string;
  type?: string;
}

/** A stored group as plain data. */
export interface ScimGroupRecord {
  id: string;
  displayName: string;
  externalId?: string;
  members: ScimGroupMember[];
  meta: { resourceType: 'Group'; created: string; lastModified: string };
}

/** What a rejectWhen predicate sees: method, path with query, and the parsed JSON body (undefined when none). */
export interface ScimRequestView {
  method: string;
  path: string;
  /** Whatever the client sent. */
  body: any;
}

export type ScimRejectPredicate = (req: ScimRequestView) => string | undefined;

export interface ScimProvider {
  /** The SCIM base URL: http://127.0.0.1:PORT/scim/v2 */
  url: string;
  /** OAuth 2.0 client-credentials token endpoint: http://127.0.0.1:PORT/oauth/token */
  tokenUrl: string;
  /** Every request received (token endpoint included), in order; reset() empties it in place. */
  requests: ScimRequestLog[];
  /** Requests received and those answered 400 or above, counted even with options.requestLog false. */
  requestCounts(): { total: number; failed: number };
  /** Stored users, as copies. */
  users(): ScimUserRecord[];
  /** Stored groups, as copies. */
  groups(): Array<{ id: string; displayName: string; externalId?: string; members: Array<{ value: string }> }>;
  /** The next `count` SCIM requests (not the token endpoint) get `status` and a SCIM error body, before auth is checked. */
  failNext(count: number, status: 429 | 500 | 502 | 503, retryAfterSeconds?: number): void;
  /**
   * Authenticated SCIM requests for which the predicate returns a message get 400 invalidValue
   * with that detail. For POST /Bulk it judges each operation (path = base path + operation path,
   * body = operation data) and a named operation gets status "400" inside the BulkResponse.
   */
  rejectWhen(predicate: ScimRejectPredicate): void;
  clearRejects(): void;
  /** Every OAuth token issued so far becomes invalid (the static bearer token of auth.type 'bearer' stays valid). */
  expireTokens(): void;
  /** Forgets users, groups, logged requests and faults; issued tokens stay valid. */
  reset(): void;
  /** Creates a user directly in storage (validated by SCIMMY's User schema), bypassing HTTP and faults. */
  addUser(resource: object): ScimUserRecord;
  /** Closes the server and its keep-alive sockets; data is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port with the same data. */
  start(): Promise<void>;
}

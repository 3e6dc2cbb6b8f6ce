/**
 * The SCIM test service provider (test/helpers/scim-provider.ts) behaves as the SCIM tests and the
 * benchmark rely on: OAuth tokens, SCIMMY-validated users and groups, filters, paging, PATCH,
 * Bulk, fault injection, and stop/start with the data kept. Everything goes through node's fetch.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startScimProvider, type ScimProvider } from '../helpers/scim-provider.js';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** A SCIM JSON body, read loosely. */
type Json = any;

async function token(provider: ScimProvider, secret = 'client-secret'): Promise<Response> {
  return fetch(provider.tokenUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from(`client-id:${secret}`).toString('base64'),
    },
    body: 'grant_type=client_credentials',
  });
}

/** A SCIM client bound to one provider and one bearer token. */
function client(provider: ScimProvider, bearer: () => string | undefined) {
  return async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; headers: Headers; json: Json }> => {
    const authorization = bearer();
    const res = await fetch(provider.url + path, {
      method,
      headers: {
        'content-type': 'application/scim+json',
        ...(authorization ? { authorization: `Bearer ${authorization}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
}

const newUser = (userName: string, extra: object = {}) => ({ schemas: [USER_SCHEMA], userName, ...extra });
const patch = (...Operations: object[]) => ({ schemas: [PATCH_SCHEMA], Operations });

describe('SCIM provider with OAuth client credentials and Bulk', () => {
  let provider: ScimProvider;
  let accessToken: string | undefined;
  const scim = (...args: Parameters<ReturnType<typeof client>>) => client(provider, () => accessToken)(...args);

  beforeAll(async () => {
    provider = await startScimProvider({
      auth: { type: 'oauth2', clientId: 'client-id', clientSecret: 'client-secret' },
      bulk: { maxOperations: 50 },
    });
    accessToken = ((await (await token(provider)).json()) as Json).access_token;
  });
  afterEach(() => provider.reset());
  afterAll(() => provider.stop());

  it('issues a bearer token for the right client secret, by HTTP Basic or by form fields', async () => {
    const basic = await token(provider);
    expect(basic.status).toBe(200);
    expect(await basic.json()).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      access_token: expect.any(String),
    });
    const form = await fetch(provider.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=client-id&client_secret=client-secret',
    });
    expect(form.status).toBe(200);
    expect(provider.requests.slice(-2).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /oauth/token 200',
      'POST /oauth/token 200',
    ]);
  });

  it('answers 401 invalid_client for a wrong client secret', async () => {
    const res = await token(provider, 'wrong');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('answers 401 with a SCIM error without a token and after expireTokens()', async () => {
    const anonymous = await client(provider, () => undefined)('GET', '/Users');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toMatchObject({ schemas: [ERROR_SCHEMA], status: '401' });

    const own = ((await (await token(provider)).json()) as Json).access_token as string;
    expect((await client(provider, () => own)('GET', '/Users')).status).toBe(200);
    provider.expireTokens();
    const expired = await client(provider, () => own)('GET', '/Users');
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
    accessToken = ((await (await token(provider)).json()) as Json).access_token;
  });

  it('creates a user, stores no password, and logs the raw request body', async () => {
    const created = await scim(
      'POST',
      '/Users',
      newUser('alice', {
        name: { formatted: 'Alice A' },
        emails: [{ value: 'a@example.org', primary: true }],
        active: true,
      }),
    );
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ userName: 'alice', id: expect.any(String), meta: { resourceType: 'User' } });
    expect(created.json.meta.location).toBe(`${provider.url}/Users/${created.json.id}`);
    expect(provider.users()).toMatchObject([
      { id: created.json.id, userName: 'alice', name: { formatted: 'Alice A' } },
    ]);
    const logged = provider.requests.find((r) => r.method === 'POST' && r.path === '/scim/v2/Users');
    expect(logged).toMatchObject({ status: 201, body: expect.stringContaining('"userName":"alice"') });
  });

  it('keeps a password a client sends out of storage but in the request log, where tests can catch it', async () => {
    await scim('POST', '/Users', newUser('bob', { password: 'Secret-123' }));
    expect(JSON.stringify(provider.users())).not.toContain('Secret-123');
    expect(provider.requests.some((r) => r.body.includes('Secret-123'))).toBe(true);
  });

  it('answers 409 uniqueness for a userName that exists, in any case', async () => {
    provider.addUser({ userName: 'carol' });
    const again = await scim('POST', '/Users', newUser('Carol'));
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ schemas: [ERROR_SCHEMA], status: '409', scimType: 'uniqueness' });
  });

  it('finds a user by userName eq, ignoring case, and returns an empty list for none', async () => {
    const carol = provider.addUser({ userName: 'carol', externalId: 'E-7' });
    provider.addUser({ userName: 'dave' });
    const found = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "CAROL"')}`);
    expect(found.json).toMatchObject({ totalResults: 1, Resources: [{ id: carol.id, userName: 'carol' }] });
    const byExternalId = await scim('GET', `/Users?filter=${encodeURIComponent('externalId eq "E-7"')}`);
    expect(byExternalId.json.Resources.map((u: Json) => u.id)).toEqual([carol.id]);
    const none = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "nobody"')}`);
    expect(none.json).toMatchObject({ totalResults: 0, Resources: [] });
    const other = await scim('GET', `/Users?filter=${encodeURIComponent('userName sw "da"')}`);
    expect(other.json.Resources.map((u: Json) => u.userName)).toEqual(['dave']);
  });

  it('pages over 250 users with startIndex and count, with correct totalResults', async () => {
    for (let i = 0; i < 250; i++) provider.addUser({ userName: `user${String(i).padStart(3, '0')}` });
    const seen: string[] = [];
    for (const startIndex of [1, 101, 201]) {
      const page = await scim('GET', `/Users?startIndex=${startIndex}&count=100`);
      expect(page.json).toMatchObject({ totalResults: 250, startIndex });
      expect(page.json.itemsPerPage).toBe(page.json.Resources.length);
      seen.push(...page.json.Resources.map((u: Json) => u.userName));
    }
    expect(seen).toEqual(provider.users().map((u) => u.userName));
    // startIndex not on a page boundary (SCIMMY's ListResponse would cut it twice; paging.ts).
    const odd = await scim('GET', '/Users?startIndex=50&count=100');
    expect(odd.json.Resources.map((u: Json) => u.userName)).toEqual(seen.slice(49, 149));
    const capped = await scim('GET', '/Users?count=5000');
    expect(capped.json.Resources).toHaveLength(250);
  });

  it('applies PATCH replace ops to a user, PUT replaces it, DELETE removes it, unknown ids get 404', async () => {
    const { id } = provider.addUser({ userName: 'erin', active: true, emails: [{ value: 'old@example.org' }] });
    const patched = await scim(
      'PATCH',
      `/Users/${id}`,
      patch(
        { op: 'replace', path: 'active', value: false },
        { op: 'replace', path: 'name.formatted', value: 'Erin E' },
        { op: 'replace', path: 'emails', value: [{ value: 'new@example.org', primary: true }] },
        { op: 'replace', path: 'phoneNumbers', value: [{ value: '+44 20 7946 0000' }] },
        { op: 'replace', path: 'externalId', value: 'E-9' },
      ),
    );
    expect(patched.status).toBe(200);
    expect(provider.users()[0]).toMatchObject({
      active: false,
      name: { formatted: 'Erin E' },
      emails: [{ value: 'new@example.org', primary: true }],
      phoneNumbers: [{ value: '+44 20 7946 0000' }],
      externalId: 'E-9',
    });
    expect((await scim('PUT', `/Users/${id}`, newUser('erin', { active: true }))).status).toBe(200);
    expect(provider.users()[0]).toMatchObject({ userName: 'erin', active: true });
    expect(provider.users()[0]!.emails).toBeUndefined();
    expect((await scim('DELETE', `/Users/${id}`)).status).toBe(204);
    expect(provider.users()).toEqual([]);
    for (const [method, body] of [
      ['GET'],
      ['PATCH', patch({ op: 'replace', path: 'active', value: true })],
      ['DELETE'],
    ] as const)
      expect((await scim(method, `/Users/${id}`, body)).status).toBe(404);
  });

  it('adds group members with PATCH add and removes them with members[value eq "id"]', async () => {
    const frank = provider.addUser({ userName: 'frank' });
    const gina = provider.addUser({ userName: 'gina' });
    const group = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'Staff',
      members: [{ value: frank.id }],
    });
    expect(group.status).toBe(201);
    const path = `/Groups/${group.json.id}`;
    await scim('PATCH', path, patch({ op: 'add', path: 'members', value: [{ value: gina.id }] }));
    expect(provider.groups()[0]!.members.map((m) => m.value)).toEqual([frank.id, gina.id]);
    await scim('PATCH', path, patch({ op: 'remove', path: `members[value eq "${frank.id}"]` }));
    expect(provider.groups()[0]).toMatchObject({ displayName: 'Staff', members: [{ value: gina.id }] });
    const unknown = await scim('PATCH', path, patch({ op: 'add', path: 'members', value: [{ value: 'no-such-id' }] }));
    expect(unknown).toMatchObject({ status: 400, json: { scimType: 'invalidValue' } });
  });

  it('applies member-only PATCHes itself (204, no group in the answer), and leaves the rest to SCIMMY', async () => {
    const users = Array.from({ length: 3000 }, (_, i) => provider.addUser({ userName: `bulkmember${i}` }));
    const group = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Big' });
    const path = `/Groups/${group.json.id}`;
    const ids = users.map((u) => u.id);
    const add = await scim(
      'PATCH',
      path,
      patch({ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }),
    );
    expect(add.status).toBe(204);
    expect(await scim('PATCH', path, patch({ op: 'add', path: 'members', value: [{ value: ids[0] }] }))).toMatchObject({
      status: 204,
    }); // already a member: no duplicate
    for (let i = 0; i < 20; i++)
      expect((await scim('PATCH', path, patch({ op: 'remove', path: `members[value eq "${ids[i]}"]` }))).status).toBe(
        204,
      );
    const members = provider.groups().find((g) => g.displayName === 'Big')!.members;
    expect(members).toHaveLength(2980);
    expect(new Set(members.map((m) => m.value)).size).toBe(2980);
    expect(
      await scim('PATCH', '/Groups/no-such-group', patch({ op: 'add', path: 'members', value: [{ value: ids[0] }] })),
    ).toMatchObject({ status: 404 });
    // Anything but members goes through SCIMMY, which answers with the group.
    const renamed = await scim('PATCH', path, patch({ op: 'replace', path: 'displayName', value: 'Bigger' }));
    expect(renamed).toMatchObject({ status: 200, json: { displayName: 'Bigger' } });
  });

  it('runs a Bulk request with per-operation status, bulkId references and errors', async () => {
    const existing = provider.addUser({ userName: 'hana' });
    const groupId = (await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'G' })).json.id;
    const bulk = await scim('POST', '/Bulk', {
      schemas: [BULK_SCHEMA],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'ivan', data: newUser('ivan') },
        { method: 'POST', path: '/Users', bulkId: 'dup', data: newUser('hana') },
        {
          method: 'PATCH',
          path: `/Users/${existing.id}`,
          data: patch({ op: 'replace', path: 'active', value: false }),
        },
        {
          method: 'PATCH',
          path: `/Groups/${groupId}`,
          data: patch({ op: 'add', path: 'members', value: [{ value: 'bulkId:ivan' }] }),
        },
      ],
    });
    expect(bulk.status).toBe(200);
    expect(bulk.json.Operations.map((o: Json) => o.status)).toEqual(['201', '409', '200', '200']);
    expect(bulk.json.Operations[1].response).toMatchObject({ scimType: 'uniqueness' });
    const ivan = provider.users().find((u) => u.userName === 'ivan')!;
    expect(provider.groups()[0]!.members).toEqual([{ value: ivan.id }]);
    const tooMany = Array.from({ length: 51 }, (_, i) => ({
      method: 'POST',
      path: '/Users',
      bulkId: `b${i}`,
      data: newUser(`b${i}`),
    }));
    expect((await scim('POST', '/Bulk', { schemas: [BULK_SCHEMA], Operations: tooMany })).status).toBe(413);
  });

  it('advertises patch, filter (1000), bulk and oauth2 in /ServiceProviderConfig', async () => {
    const config = (await scim('GET', '/ServiceProviderConfig')).json;
    expect(config).toMatchObject({
      patch: { supported: true },
      filter: { supported: true, maxResults: 1000 },
      bulk: { supported: true, maxOperations: 50 },
      sort: { supported: false },
      authenticationSchemes: [{ type: 'oauth2' }],
    });
    expect(config.authenticationSchemes).toHaveLength(1);
  });

  it('fails the next requests with 429 and Retry-After, then serves again', async () => {
    provider.failNext(2, 429, 7);
    for (let i = 0; i < 2; i++) {
      const limited = await scim('GET', '/Users');
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(limited.json).toMatchObject({ schemas: [ERROR_SCHEMA], status: '429' });
    }
    expect((await token(provider)).status).toBe(200);
    expect((await scim('GET', '/Users')).status).toBe(200);
  });

  it('rejects requests the predicate names with 400 invalidValue until clearRejects()', async () => {
    provider.rejectWhen((req) =>
      req.method === 'POST' && req.body?.userName === 'bad' ? 'bad is not allowed' : undefined,
    );
    const rejected = await scim('POST', '/Users', newUser('bad'));
    expect(rejected).toMatchObject({ status: 400, json: { scimType: 'invalidValue', detail: 'bad is not allowed' } });
    expect((await scim('POST', '/Users', newUser('good'))).status).toBe(201);
    provider.clearRejects();
    expect((await scim('POST', '/Users', newUser('bad'))).status).toBe(201);
  });

  it('rejects the Bulk operations the predicate names with status "400" in their places; the others run', async () => {
    const seen: string[] = [];
    provider.rejectWhen((req) => {
      seen.push(`${req.method} ${req.path}`);
      return req.body?.userName?.startsWith('bad') ? `${req.body.userName} is not allowed` : undefined;
    });
    const operations = ['good1', 'bad1', 'good2', 'bad2'].map((name) => ({
      method: 'POST',
      path: '/Users',
      bulkId: name,
      data: newUser(name),
    }));
    const bulk = await scim('POST', '/Bulk', { schemas: [BULK_SCHEMA], Operations: operations });
    expect(bulk.json.Operations.map((o: Json) => [o.bulkId, o.status])).toEqual([
      ['good1', '201'],
      ['bad1', '400'],
      ['good2', '201'],
      ['bad2', '400'],
    ]);
    expect(bulk.json.Operations[1].response).toMatchObject({ scimType: 'invalidValue', detail: 'bad1 is not allowed' });
    expect(seen).toEqual(Array(4).fill('POST /scim/v2/Users'));
    expect(provider.users().map((u) => u.userName)).toEqual(['good1', 'good2']);

    const allBad = await scim('POST', '/Bulk', { schemas: [BULK_SCHEMA], Operations: [operations[1]] });
    expect(allBad).toMatchObject({ status: 200, json: { Operations: [{ bulkId: 'bad1', status: '400' }] } });
  });

  it('keeps its data across stop() and start() on the same port', async () => {
    provider.addUser({ userName: 'jan' });
    await provider.stop();
    await expect(fetch(provider.url + '/Users')).rejects.toThrow();
    await provider.start();
    const list = await scim('GET', '/Users');
    expect(list.json.Resources.map((u: Json) => u.userName)).toEqual(['jan']);
  });
});

describe('SCIM provider with a static bearer token and no Bulk', () => {
  let provider: ScimProvider;
  beforeAll(async () => {
    provider = await startScimProvider({ auth: { type: 'bearer', token: 'static-token' } });
  });
  afterAll(() => provider.stop());

  it('accepts only the static token, refuses Bulk with 501 and advertises oauthbearertoken', async () => {
    expect((await client(provider, () => 'other')('GET', '/Users')).status).toBe(401);
    const scim = client(provider, () => 'static-token');
    expect((await scim('POST', '/Bulk', { schemas: [BULK_SCHEMA], Operations: [] })).status).toBe(501);
    const config = (await scim('GET', '/ServiceProviderConfig')).json;
    expect(config).toMatchObject({ bulk: { supported: false }, authenticationSchemes: [{ type: 'oauthbearertoken' }] });
  });

  it('refuses a second provider while this one listens', async () => {
    await expect(startScimProvider()).rejects.toThrow(/Another SCIM provider is listening/);
  });
});

describe('SCIM provider with latency and no auth', () => {
  it('delays every request by latencyMs and needs no token', async () => {
    const provider = await startScimProvider({ latencyMs: 80 });
    try {
      const started = Date.now();
      expect((await client(provider, () => undefined)('GET', '/Users')).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    } finally {
      await provider.stop();
    }
  });
});

describe('SCIM provider tokens with a short lifetime', () => {
  it('refuses a token once tokenTtlSeconds have passed', async () => {
    const provider = await startScimProvider({
      auth: { type: 'oauth2', clientId: 'client-id', clientSecret: 'client-secret', tokenTtlSeconds: 1 },
    });
    try {
      const issued = (await (await token(provider)).json()) as Json;
      expect(issued.expires_in).toBe(1);
      const scim = client(provider, () => issued.access_token);
      expect((await scim('GET', '/Users')).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await scim('GET', '/Users')).status).toBe(401);
    } finally {
      await provider.stop();
    }
  });
});

describe('SCIM provider without a request log (the benchmark)', () => {
  it('keeps no request, only counts of them and of those answered 400 or above', async () => {
    const provider = await startScimProvider({ requestLog: false });
    try {
      const scim = client(provider, () => undefined);
      expect((await scim('POST', '/Users', newUser('counted'))).status).toBe(201);
      expect((await scim('POST', '/Users', newUser('counted'))).status).toBe(409);
      expect((await scim('GET', '/Users')).status).toBe(200);
      expect(provider.requests).toEqual([]);
      expect(provider.requestCounts()).toEqual({ total: 3, failed: 1 });
      expect(provider.users().map((u) => u.userName)).toEqual(['counted']);
    } finally {
      await provider.stop();
    }
  });
});

/**
 * Provisioning to a real SCIM 2.0 service provider on 127.0.0.1 (scimmy + scimmy-routers, with an
 * OAuth2 token endpoint), SPEC §12: the daemon's dispatcher, run in this process against the
 * pipeline's database, delivers what imports commit — created, each attribute changed, roles and
 * groups, deactivated and reactivated — through 409s, 429 with Retry-After, 503s, refusals that
 * park and are retried after a fix, expired tokens and a restart with a full queue, in order and
 * without ever sending a password.
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TargetConfig } from '../../src/config/targets-schema.js';
import {
  chainEnd,
  peekTargetState,
  queueCounts,
  requeueParked,
  targetUsers,
} from '../../src/db/repositories/targets.js';
import { createMetrics } from '../../src/health/metrics.js';
import { createLogger } from '../../src/logging/logger.js';
import { createTargetsDispatcher, type TargetsDispatcher } from '../../src/targets/dispatcher.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv } from '../fixtures/build.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { dumpTables, walkFiles } from '../helpers/secrets.js';
import { waitFor } from '../helpers/daemon.js';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { startScimProvider, type ScimProvider } from '../helpers/scim-provider.js';

const CLIENT = { clientId: 'usersync', clientSecret: 'Client-Secret-4477' };
const PASSWORD = 'Row-Password-7f3q!';

describeEachDatabase('SCIM provisioning', (database) => {
  let provider: ScimProvider;
  let pipe: TestPipeline;
  let dispatcher: TargetsDispatcher | undefined;
  let fixtures: string;
  let n = 0;
  let logger: ReturnType<typeof createLogger>;

  const target = (overrides: Partial<TargetConfig> = {}): TargetConfig => ({
    name: 'pam',
    type: 'scim',
    url: provider.url,
    auth: { type: 'oauth2', tokenUrl: provider.tokenUrl, scope: '', ...CLIENT },
    enabled: true,
    concurrency: 4,
    timeoutMs: 5000,
    retryInitialMs: 50,
    retryMaxMs: 400,
    bulk: true,
    groups: true,
    rolePrefix: '',
    ...overrides,
  });
  const startDispatcher = (overrides: Partial<TargetConfig> = {}) => {
    dispatcher = createTargetsDispatcher({
      config: { ...pipe.config, targets: [target(overrides)] },
      db: pipe.db,
      logger,
      metrics: createMetrics(),
    });
    dispatcher.start();
  };
  const stopDispatcher = async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
  };

  beforeAll(async () => {
    fixtures = fixtureDir();
    provider = await startScimProvider({ auth: { type: 'oauth2', ...CLIENT }, bulk: { maxOperations: 50 } });
    pipe = await createTestPipeline(database().url, {
      feeds: [{ name: 'roster', match: 'roster-*.csv', mode: 'mirror', limits: { deactivate: 1, rowDropPercent: -1 } }],
    });
    logger = createLogger(
      { ...pipe.config.logs, console: process.env.SCIM_DEBUG ? 'json' : 'off' },
      { consoleLevel: process.env.SCIM_DEBUG ? 'debug' : 'error' },
    );
    startDispatcher();
  });
  afterAll(async () => {
    await stopDispatcher();
    await pipe?.close();
    await provider?.stop();
  });

  const knex = () => pipe.db.knex;
  const importRows = async (rows: ReturnType<typeof userRow>[], prefix = 'hr') => {
    const file = writeCsv(path.join(fixtures, `${prefix}-${++n}.csv`), [TEMPLATE, ...rows] as string[][]);
    const result = await pipe.run(file, prefix === 'roster' ? { feed: 'roster' } : {});
    expect(result.summary.counts.failed).toBe(0);
    return result.summary.outcome;
  };
  /** Every user event delivered or parked, and nothing waiting for a retry. */
  const settled = () =>
    waitFor(async () => {
      const state = await peekTargetState(knex(), 'pam');
      if (state.cursorSeq < (await chainEnd(knex()))) return false;
      return (await queueCounts(knex(), 'pam', state.cursorSeq)).queued === 0;
    }, 30_000);
  const remote = (userName: string) => provider.users().find((u) => u.userName === userName);
  /** A request to the provider as its own admins would make it (a token of their own). */
  const direct = async (method: string, pathname: string, body?: unknown) => {
    const token = (await (
      await fetch(provider.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT.clientId,
          client_secret: CLIENT.clientSecret,
        }),
      })
    ).json()) as { access_token: string };
    const response = await fetch(`${provider.url}${pathname}`, {
      method,
      headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/scim+json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    expect(response.status, await response.clone().text()).toBeLessThan(300);
  };
  const groupId = (displayName: string) => provider.groups().find((g) => g.displayName === displayName)!.id;
  const patchOp = (op: string, pathText: string, value?: unknown) => ({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op, path: pathText, ...(value === undefined ? {} : { value }) }],
  });
  const members = (displayName: string) => {
    const group = provider.groups().find((g) => g.displayName === displayName);
    const names = new Map(provider.users().map((u) => [u.id, u.userName]));
    return (group?.members ?? []).map((m) => names.get(m.value)).sort();
  };

  it('creates users with their attributes, roles and groups, and never sends a password', async () => {
    await importRows([
      userRow({
        name: 'Ann Lee',
        username: 'ann',
        password: PASSWORD,
        email: 'ann@example.com',
        phone: '+1 555 0100',
        roles: 'Administrator',
        groups: 'Finance',
      }),
      userRow({ name: 'Bob Stone', username: 'bob', password: PASSWORD, email: 'bob@example.com', groups: 'Finance' }),
    ]);
    await settled();
    expect(remote('ann')).toMatchObject({
      userName: 'ann',
      externalId: 'ann',
      name: { formatted: 'Ann Lee' },
      emails: [expect.objectContaining({ value: 'ann@example.com' })],
      phoneNumbers: [expect.objectContaining({ value: '+1 555 0100' })],
      active: true,
    });
    expect(remote('bob')).toMatchObject({ userName: 'bob', active: true });
    expect(members('Finance')).toEqual(['ann', 'bob']);
    expect(members('Administrator')).toEqual(['ann']);
    const stored = await targetUsers(knex(), 'pam', ['ann', 'bob']);
    expect(stored.get('ann')).toMatchObject({ remoteId: remote('ann')!.id, status: 'synced' });
    expect(provider.requests.length).toBeGreaterThan(0);
    for (const request of provider.requests) {
      expect(request.body).not.toContain(PASSWORD);
      expect(request.body.toLowerCase()).not.toContain('password');
    }
  });

  it('changes each attribute with a PATCH of only what changed', async () => {
    const before = provider.requests.length;
    await importRows([
      userRow({
        name: 'Ann Lee-Park',
        username: 'ann',
        email: 'ann.park@example.com',
        phone: '+1 555 0199',
        roles: 'Administrator',
        groups: 'Finance',
      }),
    ]);
    await settled();
    expect(remote('ann')).toMatchObject({
      name: { formatted: 'Ann Lee-Park' },
      emails: [expect.objectContaining({ value: 'ann.park@example.com' })],
      phoneNumbers: [expect.objectContaining({ value: '+1 555 0199' })],
    });
    const sent = provider.requests.slice(before).filter((r) => r.path.includes('/Users') || r.path.includes('/Bulk'));
    expect(sent.some((r) => r.method === 'POST' && r.path.endsWith('/Users'))).toBe(false); // no second create
    expect(sent.map((r) => r.body).join('\n')).not.toContain('bob');
  });

  it('moves memberships with PATCH on the groups, and leaves the product’s own members alone', async () => {
    const own = provider.addUser({ userName: 'svc-vault', active: true });
    await direct('PATCH', `/Groups/${groupId('Finance')}`, patchOp('add', 'members', [{ value: own.id }]));
    await importRows([
      userRow({
        name: 'Ann Lee-Park',
        username: 'ann',
        email: 'ann.park@example.com',
        phone: '+1 555 0199',
        roles: 'Auditor',
        groups: 'HR',
      }),
    ]);
    await settled();
    expect(members('Finance')).toEqual(['bob', 'svc-vault']);
    expect(members('HR')).toEqual(['ann']);
    expect(members('Administrator')).toEqual([]);
    expect(members('Auditor')).toEqual(['ann']);
  });

  it('deactivates with active: false and reactivates', async () => {
    await importRows([
      userRow({ name: 'Bob Stone', username: 'bob', email: 'bob@example.com', groups: 'Finance', active: 'No' }),
    ]);
    await settled();
    expect(remote('bob')?.active).toBe(false);
    await importRows([
      userRow({ name: 'Bob Stone', username: 'bob', email: 'bob@example.com', groups: 'Finance', active: 'Yes' }),
    ]);
    await settled();
    expect(remote('bob')?.active).toBe(true);
  });

  it('pushes a mirror feed’s leavers as deactivations, and nothing at all for a file a guard holds', async () => {
    const roster = (names: string[]) =>
      names.map((name) => userRow({ name: name.toUpperCase(), username: name, email: `${name}@example.com` }));
    expect(await importRows(roster(['kim', 'lee', 'max']), 'roster')).toBe('imported');
    await settled();
    expect(['kim', 'lee', 'max'].map((u) => remote(u)?.active)).toEqual([true, true, true]);
    const sent = provider.requests.length;
    expect(await importRows(roster(['kim']), 'roster')).toBe('held'); // two leavers: over the limit of 1
    await settled();
    expect(provider.requests.length).toBe(sent);
    expect(await importRows(roster(['kim', 'lee']), 'roster')).toBe('imported');
    await settled();
    expect(['kim', 'lee', 'max'].map((u) => remote(u)?.active)).toEqual([true, true, false]);
  });

  it('creates again, with all its groups, a user deleted at the target', async () => {
    const before = remote('ann')!.id;
    await direct('DELETE', `/Users/${before}`);
    await importRows([
      userRow({
        name: 'Ann Lee-Park',
        username: 'ann',
        email: 'ann.park@example.com',
        phone: '+1 555 0111',
        roles: 'Auditor',
        groups: 'HR',
      }),
    ]);
    await settled();
    expect(remote('ann')).toMatchObject({
      phoneNumbers: [expect.objectContaining({ value: '+1 555 0111' })],
      active: true,
    });
    expect(remote('ann')!.id).not.toBe(before);
    expect(members('HR')).toEqual(['ann']);
    expect(members('Auditor')).toEqual(['ann']);
  });

  it('parks only the member a group refuses, remembers what did arrive, and a later leaver is still disabled', async () => {
    const zoe = (active: string, groups?: string) =>
      userRow({ name: 'Zoe', username: 'zoe', email: 'zoe@example.com', active, ...(groups ? { groups } : {}) });
    await importRows([zoe('No')]);
    await settled();
    const zoeId = remote('zoe')!.id;
    provider.rejectWhen((req) =>
      req.method === 'PATCH' && req.path.includes('/Groups/') && JSON.stringify(req.body ?? '').includes(zoeId)
        ? 'zoe may not join IT'
        : undefined,
    );
    // Reactivated and put in IT in one file, with yan: the activation arrives, the group refuses zoe only.
    await importRows([
      zoe('Yes', 'IT'),
      userRow({ name: 'Yan', username: 'yan', email: 'yan@example.com', groups: 'IT' }),
    ]);
    await settled();
    expect(remote('zoe')?.active).toBe(true);
    expect(members('IT')).toEqual(['yan']);
    const parked = await targetUsers(knex(), 'pam', ['zoe', 'yan']);
    expect(parked.get('zoe')).toMatchObject({ status: 'parked' });
    expect(parked.get('zoe')?.error).toContain('zoe may not join IT');
    expect(parked.get('yan')).toMatchObject({ status: 'synced' });
    provider.clearRejects();
    // HR takes zoe out again: the target must hear it, though the last change to it was parked.
    await importRows([zoe('No', 'IT')]);
    await settled();
    expect(remote('zoe')?.active).toBe(false);
    expect(members('IT')).toEqual(['yan', 'zoe']);
    expect((await targetUsers(knex(), 'pam', ['zoe'])).get('zoe')).toMatchObject({ status: 'synced' });
  });

  it('links a user the target already has (409 on create) instead of making a second', async () => {
    const existing = provider.addUser({ userName: 'dan', name: { formatted: 'Daniel' }, active: false });
    await importRows([userRow({ name: 'Dan Brown', username: 'dan', email: 'dan@example.com' })]);
    await settled();
    const dans = provider.users().filter((u) => u.userName === 'dan');
    expect(dans).toHaveLength(1);
    expect(dans[0]).toMatchObject({ id: existing.id, name: { formatted: 'Dan Brown' }, active: true });
    expect((await targetUsers(knex(), 'pam', ['dan'])).get('dan')?.remoteId).toBe(existing.id);
  });

  it('delivers two quick changes to one user in order: the target ends with the last', async () => {
    await stopDispatcher();
    await importRows([userRow({ name: 'Eve', username: 'eve', email: 'eve.one@example.com' })]);
    await importRows([userRow({ name: 'Eve', username: 'eve', email: 'eve.two@example.com' })]);
    startDispatcher();
    await settled();
    expect(remote('eve')?.emails).toEqual([expect.objectContaining({ value: 'eve.two@example.com' })]);
    const carrying = provider.requests.filter((r) => r.body.includes('eve.'));
    expect(carrying.at(-1)?.body).toContain('eve.two@example.com');
    expect(carrying.some((r) => r.body.includes('eve.one@example.com'))).toBe(false);
  });

  it('waits as a 429’s Retry-After says, then delivers', async () => {
    provider.failNext(1, 429, 1);
    const from = provider.requests.length;
    await importRows([userRow({ name: 'Fay', username: 'fay', email: 'fay@example.com' })]);
    await settled();
    expect(remote('fay')).toBeDefined();
    const after = provider.requests.slice(from).filter((r) => !r.path.includes('/oauth/'));
    const limited = after.findIndex((r) => r.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    expect(after[limited + 1]!.at - after[limited]!.at).toBeGreaterThanOrEqual(950);
  });

  it('retries through a target that answers 503 for a while', async () => {
    provider.failNext(6, 503);
    await importRows([userRow({ name: 'Gus', username: 'gus', email: 'gus@example.com' })]);
    await settled();
    expect(remote('gus')).toMatchObject({ active: true });
    expect(provider.requests.filter((r) => r.status === 503)).toHaveLength(6);
  });

  it('parks what the target refuses with its reason, delivers the rest, and retries the parked once fixed', async () => {
    provider.rejectWhen((req) =>
      JSON.stringify(req.body ?? '').includes('hal@') ? 'hal’s e-mail domain is not allowed' : undefined,
    );
    await importRows([
      userRow({ name: 'Hal', username: 'hal', email: 'hal@example.com' }),
      userRow({ name: 'Ida', username: 'ida', email: 'ida@example.com' }),
    ]);
    await settled();
    expect(remote('ida')).toBeDefined();
    expect(remote('hal')).toBeUndefined();
    const hal = (await targetUsers(knex(), 'pam', ['hal'])).get('hal');
    expect(hal).toMatchObject({ status: 'parked' });
    expect(hal?.error).toContain('hal’s e-mail domain is not allowed');
    expect((await queueCounts(knex(), 'pam', (await peekTargetState(knex(), 'pam')).cursorSeq)).parked).toBe(1);
    provider.clearRejects();
    expect(await requeueParked(knex(), 'pam', new Date().toISOString())).toBe(1);
    await waitFor(() => remote('hal'), 20_000);
    await waitFor(async () => (await targetUsers(knex(), 'pam', ['hal'])).get('hal')?.status === 'synced');
  });

  it('asks for a new token when the target no longer takes the old one', async () => {
    const tokens = () => provider.requests.filter((r) => r.path.includes('/oauth/token')).length;
    const before = tokens();
    provider.expireTokens();
    await importRows([userRow({ name: 'Jo', username: 'jo', email: 'jo@example.com' })]);
    await settled();
    expect(remote('jo')).toBeDefined();
    expect(tokens()).toBe(before + 1);
  });

  it('after a crash, takes the dead process’s lease and delivers a full queue once, one request per user without Bulk', async () => {
    await stopDispatcher();
    const rows = Array.from({ length: 120 }, (_, i) =>
      userRow({
        name: `Load ${i}`,
        username: `load${String(i).padStart(3, '0')}`,
        email: `load${i}@example.com`,
        groups: 'Sales',
      }),
    );
    await importRows(rows);
    const state = await peekTargetState(knex(), 'pam');
    expect((await queueCounts(knex(), 'pam', state.cursorSeq)).queued).toBeGreaterThanOrEqual(120);
    // As a crash leaves it: the lease held for another hour by a process of this machine that is gone.
    const gone = spawnSync('true').pid;
    await knex()('target_state')
      .where({ target: 'pam' })
      .update({ lease_owner: `${hostname()}:${gone}`, lease_until: new Date(Date.now() + 3_600_000).toISOString() });
    const from = provider.requests.length;
    startDispatcher({ bulk: false });
    await settled();
    const loads = provider.users().filter((u) => u.userName.startsWith('load'));
    expect(loads).toHaveLength(120);
    expect(members('Sales')).toHaveLength(120);
    const creates = provider.requests.slice(from).filter((r) => r.method === 'POST' && r.path.endsWith('/Users'));
    expect(creates).toHaveLength(120);
    expect(provider.requests.slice(from).some((r) => r.path.includes('/Bulk'))).toBe(false);
  });

  it('keeps the client secret and every token out of the logs and the database', async () => {
    const tokens = new Set(
      provider.requests.flatMap((r) => {
        const header = r.headers.authorization;
        return typeof header === 'string' && header.startsWith('Bearer ') ? [header.slice(7)] : [];
      }),
    );
    expect(tokens.size).toBeGreaterThan(1); // the expired one and its successor at least
    const secrets = [CLIENT.clientSecret, ...tokens];
    const files = walkFiles(pipe.dir);
    expect(files.some((f) => f.includes('logs'))).toBe(true);
    for (const file of files) {
      const text = readFileSync(file, 'latin1');
      for (const secret of secrets) expect(text.includes(secret), file).toBe(false);
    }
    for (const [table, rows] of Object.entries(await dumpTables(knex(), database().kind)))
      for (const secret of secrets) expect(rows.includes(secret), table).toBe(false);
  });
});

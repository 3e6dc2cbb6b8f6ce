/**
 * The daemon provisions a real SCIM 2.0 service provider on 127.0.0.1 (SPEC §12) — bearer token,
 * SCIM Bulk offered — within seconds of an HR file, shows the queue in /healthz and /metrics, and
 * the `targets` commands report it, put parked changes back, and reconcile a target that drifted:
 * `sync --dry-run` sends nothing, a sync that would deactivate more than the guard allows is held
 * (exit 4), and `--allow deactivate` applies it. The token never appears in any output or log.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEMPLATE, fixtureDir, userRow, writeCsv } from '../fixtures/build.js';
import { runUsersync } from '../helpers/cli.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { walkFiles } from '../helpers/secrets.js';
import { startScimProvider, type ScimProvider } from '../helpers/scim-provider.js';

const TOKEN = 'Bearer-Token-Secret-5521';

describeEachDatabase('usersync targets against a SCIM provider', (database) => {
  let provider: ScimProvider;
  let daemon: DaemonHandle;
  let fixtures: string;
  let n = 0;

  beforeAll(async () => {
    fixtures = fixtureDir();
    provider = await startScimProvider({ auth: { type: 'bearer', token: TOKEN }, bulk: { maxOperations: 100 } });
    daemon = await startDaemon({
      databaseUrl: database().url,
      config: {
        targets: [
          {
            name: 'pam',
            type: 'scim',
            url: provider.url,
            auth: { type: 'bearer', token: TOKEN },
            retryInitialMs: 100,
            retryMaxMs: 1000,
          },
        ],
        safety: { limits: { deactivate: 1 } },
      },
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    await provider?.stop();
  });

  const cli = (...args: string[]) =>
    runUsersync(args, { cwd: daemon.cwd, env: { USERSYNC_DATABASE_URL: database().url } });
  const drop = (name: string, rows: ReturnType<typeof userRow>[]) => {
    const file = writeCsv(path.join(fixtures, `${name}-${++n}.csv`), [TEMPLATE, ...rows] as string[][]);
    copyFileSync(file, path.join(daemon.folder('inbox'), name));
  };
  const remote = (userName: string) => provider.users().find((u) => u.userName === userName);
  const status = async () => {
    const result = await cli('targets', 'status', '--json');
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as Array<Record<string, unknown>>)[0]!;
  };

  it('delivers an HR file’s users within seconds, and counts them in /metrics, /healthz and targets status', async () => {
    drop('hr.csv', [
      userRow({ name: 'Ann Lee', username: 'ann', email: 'ann@example.com', groups: 'Finance' }),
      userRow({ name: 'Bob Stone', username: 'bob', email: 'bob@example.com' }),
      userRow({ name: 'Cy Young', username: 'cy', email: 'cy@example.com' }),
    ]);
    const started = Date.now();
    await waitFor(() => remote('ann') && remote('bob') && remote('cy'), 20_000, daemon.output);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(provider.requests.some((r) => r.path.includes('/Bulk'))).toBe(true);
    await waitFor(async () => (await status()).queued === 0, 10_000);
    expect(await status()).toMatchObject({ name: 'pam', queued: 0, parked: 0 });
    expect(Number((await status()).delivered)).toBeGreaterThanOrEqual(3);
    const metrics = await daemon.metrics();
    expect(metrics).toMatch(/usersync_target_queue\{target="pam"\} 0/);
    expect(
      Number(/usersync_target_deliveries_total\{target="pam",result="delivered"\} (\d+)/.exec(metrics)?.[1]),
    ).toBeGreaterThanOrEqual(3);
    const health = await daemon.health();
    expect(health.status).toBe(200);
    expect(health.body.targets).toEqual([expect.objectContaining({ name: 'pam', queued: 0, parked: 0 })]);
  });

  it('shows a refused change with the target’s reason, and `targets retry` delivers it once fixed', async () => {
    provider.rejectWhen((req) =>
      JSON.stringify(req.body ?? '').includes('dee@') ? 'mailbox dee@ is blocked' : undefined,
    );
    drop('dee.csv', [userRow({ name: 'Dee', username: 'dee', email: 'dee@example.com' })]);
    await waitFor(async () => (await status()).parked === 1, 20_000, daemon.output);
    const text = await cli('targets', 'status');
    expect(text.stdout).toContain('parked      1 (usersync targets retry pam once fixed)');
    expect(text.stdout).toMatch(/dee .*mailbox dee@ is blocked/);
    const refusing = await daemon.health();
    expect(refusing.status).toBe(503);
    expect(String(refusing.body.degraded)).toContain('target pam: refused all 1 users of its last round');
    expect(String(refusing.body.degraded)).toContain('mailbox dee@ is blocked');
    provider.clearRejects();
    const retried = await cli('targets', 'retry', 'pam');
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toContain('Queued 1 parked change for pam again');
    await waitFor(() => remote('dee'), 20_000, daemon.output);
    await waitFor(async () => (await status()).parked === 0, 10_000);
    expect((await daemon.health()).status).toBe(200);
    const unknown = await cli('targets', 'retry', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No target is named "nope": the configured targets are pam');
  });

  it('reconciles drift: a dry run sends nothing, a mass deactivation is held, --allow applies it', async () => {
    // An account made by hand as "Kay" before HR's file named kay: linked, never taken for an extra.
    provider.addUser({ userName: 'Kay', active: true });
    drop('kay.csv', [userRow({ name: 'Kay', username: 'kay', email: 'kay@example.com' })]);
    await waitFor(
      async () => (await status()).queued === 0 && remote('Kay')?.emails !== undefined,
      20_000,
      daemon.output,
    );
    const patch = async (resource: string, op: Record<string, unknown>) => {
      const response = await fetch(`${provider.url}${resource}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [op] }),
      });
      expect(response.status).toBeLessThan(300);
    };
    const ann = remote('ann')!;
    await patch(`/Users/${ann.id}`, {
      op: 'replace',
      path: 'emails',
      value: [{ value: 'drift@example.com', type: 'work' }],
    });
    const finance = provider.groups().find((g) => g.displayName === 'Finance')!;
    await patch(`/Groups/${finance.id}`, { op: 'remove', path: `members[value eq "${ann.id}"]` });
    provider.addUser({ userName: 'ghost1', active: true });
    provider.addUser({ userName: 'ghost2', active: true });
    const requestsBefore = provider.requests.filter((r) => r.method !== 'GET').length;

    const dry = await cli('targets', 'sync', 'pam', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { counts: Record<string, number>; deactivate: string[] };
    expect(plan.counts).toMatchObject({ update: 1, memberships: 1, extra: 2, deactivate: 2, create: 0 });
    expect(plan.deactivate.sort()).toEqual(['ghost1', 'ghost2']);
    expect(provider.requests.filter((r) => r.method !== 'GET').length).toBe(requestsBefore);

    const held = await cli('targets', 'sync', 'pam');
    expect(held.code).toBe(4);
    expect(held.stdout).toContain('held: 2 accounts would be deactivated at pam (deactivate limit 1)');
    expect(held.stdout).toContain('usersync targets sync pam --allow deactivate');
    expect(remote('ghost1')?.active).toBe(true);

    const applied = await cli('targets', 'sync', 'pam', '--allow', 'deactivate');
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('done: 1 users corrected, 2 extra accounts deactivated');
    expect(remote('ghost1')?.active).toBe(false);
    expect(remote('ghost2')?.active).toBe(false);
    expect(remote('ann')?.emails).toEqual([expect.objectContaining({ value: 'ann@example.com' })]);
    expect(
      provider
        .groups()
        .find((g) => g.displayName === 'Finance')!
        .members.map((m) => m.value),
    ).toContain(ann.id);
    expect(remote('Kay')?.active).toBe(true);
    const audit = await cli('audit', '--json');
    const actions = (JSON.parse(audit.stdout) as Array<{ action: string; changes: Record<string, unknown> }>).filter(
      (e) => e.action.startsWith('target.'),
    );
    expect(actions.map((e) => e.action)).toEqual(['target.retried', 'target.synced']);
    expect(actions[1]!.changes).toMatchObject({
      target: 'pam',
      deactivatedExtra: 2,
      corrected: 1,
      allowed: 'deactivate',
    });
    expect((await cli('audit', 'verify')).code).toBe(0);
    const again = await cli('targets', 'sync', 'pam', '--dry-run', '--json');
    expect((JSON.parse(again.stdout) as { counts: Record<string, number> }).counts).toMatchObject({
      create: 0,
      update: 0,
      memberships: 0,
      deactivate: 0,
    });
  });

  it('never shows the token: not in output, logs, reports or the database’s files', async () => {
    const files = walkFiles(daemon.cwd).filter((f) => !f.endsWith(path.join('config', 'local.json')));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) expect(readFileSync(file).includes(TOKEN), file).toBe(false);
    expect(daemon.output()).not.toContain(TOKEN);
    expect(listFiles(daemon.folder('archive')).length).toBeGreaterThan(0);
  });
});

/**
 * SCIM provisioning (SPEC §12), two targets:
 * - delivery: a new ROWS-row import committed with a target configured, then `usersync start`
 *   delivers it to the SCIM provider (its own process on this machine, OAuth2 client credentials,
 *   Bulk of at most 100 operations); timed from the daemon's `targets.started` line until /metrics
 *   shows the queue empty and every user delivered. The provider must then hold exactly ROWS
 *   users, none parked, no request refused. Target: ≥ 500 users a second. One slower than a third
 *   of that is stopped there and reported with the users it had delivered (GIVE_UP_BELOW).
 * - outbox: the same import into a fresh store with a target configured against `targets: []`,
 *   alternating which goes first; no daemon runs, so the import sends nothing either way. Target:
 *   the ratio of the medians ≤ 1.05.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processCpuMs, type Measurement } from './measure.js';
import { formatSeries, series } from './series.js';
import { freePort, peakRssMb, sample, startDaemon, startProvider, until, type Running } from './scim-processes.js';

/** SPEC §12: users delivered a second, at least. */
export const SCIM_MIN_RATE = 500;
/** SPEC §12: the import with a target configured at most this many times the import without. */
export const OUTBOX_LIMIT = 1.05;
const TARGET = 'bench';
/**
 * A delivery slower than a third of the target rate is stopped there and reported as it stands:
 * waiting it out (an hour or more when the provider's costs grow with its data) tells nothing more.
 */
const GIVE_UP_BELOW = SCIM_MIN_RATE / 3;
const CLIENT = { id: 'usersync-bench', secret: 'bench-secret-not-real' };
type Outbox = 'targets' | 'none';

export interface ScimDeps {
  runs: number;
  /** Rows of the outbox imports; users of the delivery (deliveryFile's rows). */
  rows: number;
  deliveryRows: number;
  /** false: users only (targets[].groups false), to tell the users' Bulk phase from the memberships'. */
  groups: boolean;
  /** A directory of its own for this case's config files and the daemon's working dir. */
  dir: string;
  bin: string;
  seeded: (label: string) => Promise<string>;
  /** `usersync --config FILE import FILE`, checked to exit 0. */
  importFile: (url: string, configFile: string, file: string, what: string) => Promise<Measurement>;
  files: { outbox: string; delivery: string };
  /** `usersync --config FILE targets status --json`. */
  status: (url: string, configFile: string) => Promise<Array<Record<string, unknown>>>;
  /** The environment `usersync start` runs with against `url`. */
  daemonEnv: (url: string) => NodeJS.ProcessEnv;
  /** The local database server's pid, if any, whose CPU during delivery is counted too. */
  serverPid?: number;
  log: (line: string) => void;
}

/** A config file readable by its owner only (it holds a client secret). */
function writeConfig(dir: string, name: string, config: object): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${JSON.stringify(config)}\n`, { mode: 0o600 });
  return file;
}

const target = (url: string, tokenUrl: string) => ({
  name: TARGET,
  type: 'scim',
  url,
  auth: { type: 'oauth2', tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret },
});

export async function scimRuns(kind: string, deps: ScimDeps) {
  const dir = path.join(deps.dir, kind);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { outbox: await outboxRuns(kind, dir, deps), delivery: await delivery(kind, dir, deps) };
}

async function outboxRuns(kind: string, dir: string, deps: ScimDeps) {
  // The import never contacts a target, so this one need not exist.
  const configs: Record<Outbox, string> = {
    targets: writeConfig(dir, 'outbox-targets.json', {
      targets: [target('http://127.0.0.1:9/scim/v2', 'http://127.0.0.1:9/oauth/token')],
    }),
    none: writeConfig(dir, 'outbox-none.json', { targets: [] }),
  };
  const runs: Record<Outbox, Measurement[]> = { targets: [], none: [] };
  for (let run = 0; run < deps.runs; run++) {
    const order: Outbox[] = run % 2 === 0 ? ['targets', 'none'] : ['none', 'targets'];
    for (const mode of order) {
      const url = await deps.seeded(`${kind}_scim_${mode}`);
      runs[mode].push(await deps.importFile(url, configs[mode], deps.files.outbox, `import, targets ${mode}`));
    }
    const ms = (mode: Outbox) => Math.round((runs[mode].at(-1) as Measurement).ms);
    deps.log(`  outbox run ${run + 1}: with a target ${ms('targets')} ms / targets [] ${ms('none')} ms`);
  }
  const withTarget = series(runs.targets);
  const without = series(runs.none);
  const cpuRatio =
    withTarget.cpuMs !== null && without.cpuMs !== null ? +(withTarget.cpuMs / without.cpuMs).toFixed(3) : null;
  return { withTarget, without, ratio: +(withTarget.medianMs / without.medianMs).toFixed(3), cpuRatio };
}

async function delivery(kind: string, dir: string, deps: ScimDeps) {
  const provider = await startProvider(CLIENT, 100);
  let daemon: Running | undefined;
  try {
    const port = await freePort();
    const config = writeConfig(dir, 'delivery.json', {
      targets: [{ ...target(provider.url, provider.tokenUrl), groups: deps.groups }],
      health: { port },
      logs: { console: 'json', level: 'info' },
    });
    const url = await deps.seeded(`${kind}_scim_load`);
    const imported = await deps.importFile(url, config, deps.files.delivery, 'import to deliver');
    const cwd = path.join(dir, 'daemon');
    mkdirSync(path.join(cwd, 'inbox'), { recursive: true });
    const spawned = Date.now();
    const running = startDaemon(deps.bin, config, cwd, deps.daemonEnv(url));
    daemon = running;
    await until(
      () => {
        if (running.child.exitCode !== null) throw new Error(`the daemon exited:\n${running.output()}`);
        return running.output().includes('targets.started');
      },
      60_000,
      running.output,
    );
    const started = Date.now();
    const pids = { daemon: running.child.pid as number, provider: provider.child.pid as number };
    const cpuBefore = cpuOf(pids, deps.serverPid);
    const labels = { target: TARGET };
    const giveUpMs = Math.max(60_000, (deps.deliveryRows / GIVE_UP_BELOW) * 1000);
    let delivered = 0;
    let finished = false;
    await until(
      async () => {
        if (running.child.exitCode !== null) throw new Error(`the daemon exited:\n${running.output()}`);
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        delivered = sample(text, 'usersync_target_deliveries_total', { ...labels, result: 'delivered' }) ?? 0;
        finished = sample(text, 'usersync_target_queue', labels) === 0 && delivered >= deps.deliveryRows;
        return finished || Date.now() - started > giveUpMs;
      },
      giveUpMs + 60_000,
      running.output,
    );
    const ms = Date.now() - started;
    const cpuAfter = cpuOf(pids, deps.serverPid);
    const rss = { daemonMb: peakRssMb(pids.daemon), providerMb: peakRssMb(pids.provider) };
    await running.stop();
    daemon = undefined;
    const [view] = await deps.status(url, config);
    const atProvider = await provider.finish();
    const cpuMs = (k: keyof typeof cpuAfter) =>
      cpuAfter[k] !== null && cpuBefore[k] !== null ? Math.round(cpuAfter[k] - cpuBefore[k]) : null;
    const result = {
      rows: deps.deliveryRows,
      groups: deps.groups,
      importMs: Math.round(imported.ms),
      startMs: started - spawned,
      ms,
      /** false: given up below a third of the target rate, with `delivered` users there. */
      finished,
      delivered,
      usersPerSecond: Math.round(delivered / (ms / 1000)),
      cpuMs: { daemon: cpuMs('daemon'), provider: cpuMs('provider'), server: cpuMs('server') },
      peakRss: rss,
      atProvider,
      parked: Number(view?.parked),
      cursor: Number(view?.cursor),
      head: Number(view?.head),
    };
    deps.log(
      `  scim delivery: ${result.usersPerSecond} users/s (${ms} ms), provider holds ${atProvider.users}, parked ${result.parked}`,
    );
    return result;
  } finally {
    await daemon?.stop();
    if (provider.child.exitCode === null) await provider.stop();
  }
}

function cpuOf(pids: { daemon: number; provider: number }, serverPid: number | undefined) {
  return {
    daemon: processCpuMs(pids.daemon),
    provider: processCpuMs(pids.provider),
    server: serverPid === undefined ? null : processCpuMs(serverPid),
  };
}

export type ScimResult = Awaited<ReturnType<typeof scimRuns>>;

/** Every user there, none parked, nothing refused. */
const complete = (d: ScimResult['delivery']) =>
  d.finished && d.atProvider.users === d.rows && d.parked === 0 && d.atProvider.failed === 0;

export function scimTargets(database: string, r: ScimResult) {
  return [
    {
      database,
      target: `${r.delivery.rows}-user first load${r.delivery.groups ? '' : ' (users only, no groups)'} delivered to SCIM ≥ ${SCIM_MIN_RATE} users/s (all of them, none parked)`,
      value: r.delivery.usersPerSecond,
      pass: r.delivery.usersPerSecond >= SCIM_MIN_RATE && complete(r.delivery),
      cpu: null,
    },
    {
      database,
      target: `import with a SCIM target ≤ ${OUTBOX_LIMIT} × with targets []`,
      value: r.outbox.ratio,
      pass: r.outbox.ratio <= OUTBOX_LIMIT,
      cpu: null,
    },
  ];
}

export function scimLines(rows: number, r: ScimResult): string[] {
  const d = r.delivery;
  const cpu = d.cpuMs;
  return [
    `  ${`${rows} rows, a SCIM target`.padEnd(36)}${formatSeries(r.outbox.withTarget)}`,
    `  ${`${rows} rows, targets []`.padEnd(36)}${formatSeries(r.outbox.without)}`,
    `    with / without: ${r.outbox.ratio} × (CPU ${r.outbox.cpuRatio ?? '?'} ×)`,
    `  ${`SCIM delivery of ${d.rows} users`.padEnd(36)}${d.ms} ms = ${d.usersPerSecond} users/s (${d.finished ? '' : `GAVE UP below ${GIVE_UP_BELOW.toFixed(0)} users/s with ${d.delivered} delivered; `}${d.groups ? '' : 'users only, no groups; '}daemon up in ${d.startMs} ms; import ${d.importMs} ms)`,
    `    CPU meanwhile: daemon ${cpu.daemon} ms, provider ${cpu.provider} ms${cpu.server !== null ? `, database server ${cpu.server} ms` : ''}; peak RSS daemon ${d.peakRss.daemonMb} MB, provider ${d.peakRss.providerMb} MB`,
    `    provider holds ${d.atProvider.users} users after ${d.atProvider.requests} requests (${d.atProvider.failed} answered ≥ 400); parked ${d.parked}; cursor ${d.cursor} of ${d.head} events`,
  ];
}

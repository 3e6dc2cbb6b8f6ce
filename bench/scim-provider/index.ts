/**
 * A real SCIM 2.0 service provider on 127.0.0.1 for usersync's SCIM tests and benchmark:
 * SCIMMY (scimmy 1.3.5) parses, validates and formats; scimmy-routers 1.3.2 serves the endpoints
 * on express 5; users and groups live in memory (store.ts). On top: an OAuth 2.0 token endpoint,
 * a log of every request with its raw body, fault injection, and stop/start on the same port.
 *
 * One provider at a time per process: SCIMMY's resource declarations and its ServiceProviderConfig
 * are process-global, so start() of a provider makes SCIMMY serve that provider's data and options,
 * and refuses while another provider is listening. (vitest runs each test file in its own module
 * graph, so files do not share SCIMMY.) Lives under bench/ because tsconfig.bench.json compiles
 * only bench/ (rootDir "bench"); test/helpers/scim-provider.ts re-exports it.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import net from 'node:net';
import SCIMMY from 'scimmy';
import { buildApp, SCIM_BASE_PATH, TOKEN_PATH } from './app.js';
import { ScimAuth } from './auth.js';
import { ScimFaults } from './faults.js';
import { declareResources, plain } from './resources.js';
import { ScimStore, type UserData } from './store.js';
import type { ScimProvider, ScimProviderOptions, ScimRequestLog, ScimUserRecord } from './types.js';

export type * from './types.js';

/** Advertised as filter.maxResults; a larger count is cut to it. */
export const MAX_RESULTS = 1000;

/** The provider currently listening in this process, if any (SCIMMY serves only one). */
let listening: ScimProvider | undefined;

/** Starts a provider on 127.0.0.1 (a free port unless options.port) with empty storage. */
export async function startScimProvider(options: ScimProviderOptions = {}): Promise<ScimProvider> {
  const port = options.port ?? (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  const store = new ScimStore();
  const auth = new ScimAuth(options.auth);
  const faults = new ScimFaults();
  const requests: ScimRequestLog[] = [];
  const tally = { total: 0, failed: 0 };
  let server: Server | undefined;

  const provider: ScimProvider = {
    url: origin + SCIM_BASE_PATH,
    tokenUrl: origin + TOKEN_PATH,
    requests,
    requestCounts: () => ({ ...tally }),
    users: () => structuredClone(store.allUsers()),
    groups: () => structuredClone(store.allGroups()),
    failNext: (count, status, retryAfterSeconds) => faults.failNext(count, status, retryAfterSeconds),
    rejectWhen: (predicate) => faults.rejectWhen(predicate),
    clearRejects: () => faults.rejectWhen(undefined),
    expireTokens: () => auth.expireAll(),
    reset: () => {
      store.clear();
      faults.clear();
      requests.length = 0;
      Object.assign(tally, { total: 0, failed: 0 });
    },
    addUser: (resource) => addUser(store, resource),
    async start() {
      if (server) return;
      if (listening) throw new Error(`Another SCIM provider is listening (${listening.url}); stop it first`);
      declareResources(store, MAX_RESULTS);
      const app = buildApp({ origin, store, auth, faults, requests, tally, options, maxResults: MAX_RESULTS });
      const started = app.listen(port, '127.0.0.1');
      await Promise.race([once(started, 'listening'), once(started, 'error').then(([error]) => Promise.reject(error))]);
      server = started;
      listening = provider;
    },
    async stop() {
      const closing = server;
      if (!closing) return;
      server = undefined;
      if (listening === provider) listening = undefined;
      const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
      closing.closeAllConnections();
      await closed;
    },
  };
  await provider.start();
  return provider;
}

function addUser(store: ScimStore, resource: object): ScimUserRecord {
  const { id, ...fields } = resource as { id?: unknown };
  const data = plain(new SCIMMY.Schemas.User(fields, 'in')) as UserData;
  const record = store.createUser(data, typeof id === 'string' ? id : undefined);
  return structuredClone(record);
}

/** A port free on 127.0.0.1 now (as test/helpers/daemon.ts does; bench/ cannot import from test/). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

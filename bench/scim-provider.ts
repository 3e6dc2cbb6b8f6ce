/**
 * The SCIM test service provider (bench/scim-provider/) as its own process, for the benchmark, so
 * the provider's CPU is not usersync's:
 *
 *   node dist/bench/scim-provider.js [--port N] [--client-id ID --client-secret SECRET]
 *        [--token-ttl SECONDS] [--bearer-token TOKEN] [--bulk-max-operations N]
 *        [--bulk-max-payload BYTES] [--latency-ms N] [--no-request-log]
 *
 * Each flag can also come from the environment: SCIM_PORT, SCIM_CLIENT_ID, SCIM_CLIENT_SECRET,
 * SCIM_TOKEN_TTL, SCIM_BEARER_TOKEN, SCIM_BULK_MAX_OPERATIONS, SCIM_BULK_MAX_PAYLOAD,
 * SCIM_LATENCY_MS, SCIM_REQUEST_LOG=off (a secret in the environment stays out of `ps`).
 * `--no-request-log` keeps only counts of requests, not each one with its body: the log of a
 * 100,000-user load holds about 1 GB, which would be the provider's memory the benchmark measures.
 * With a client id and secret it requires OAuth client-credentials tokens; with a bearer token,
 * that token; with neither, no auth. Prints one JSON line `{"url":..., "tokenUrl":...}` once it
 * listens. Stops on SIGTERM, SIGINT, a `stop` line on stdin, or stdin closing (its parent died),
 * then prints `{"stopped":true,"users":N,"requests":N,"failed":N}` (failed: answered 400 or above).
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startScimProvider, type ScimProviderOptions } from './scim-provider/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'token-ttl': { type: 'string' },
    'bearer-token': { type: 'string' },
    'bulk-max-operations': { type: 'string' },
    'bulk-max-payload': { type: 'string' },
    'latency-ms': { type: 'string' },
    'no-request-log': { type: 'boolean' },
  },
});

/** The flag's value, else the environment variable's. */
function setting(flag: keyof typeof values, env: string): string | undefined {
  return (values[flag] as string | undefined) ?? process.env[env];
}

function numberSetting(flag: keyof typeof values, env: string): number | undefined {
  const text = setting(flag, env);
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${flag} must be a whole number, not '${text}'`);
  return value;
}

function optionsFromSettings(): ScimProviderOptions {
  const clientId = setting('client-id', 'SCIM_CLIENT_ID');
  const clientSecret = setting('client-secret', 'SCIM_CLIENT_SECRET');
  const bearer = setting('bearer-token', 'SCIM_BEARER_TOKEN');
  const maxOperations = numberSetting('bulk-max-operations', 'SCIM_BULK_MAX_OPERATIONS');
  const maxPayloadSize = numberSetting('bulk-max-payload', 'SCIM_BULK_MAX_PAYLOAD');
  const tokenTtlSeconds = numberSetting('token-ttl', 'SCIM_TOKEN_TTL');
  if ((clientId === undefined) !== (clientSecret === undefined))
    throw new Error('--client-id and --client-secret go together');
  return {
    port: numberSetting('port', 'SCIM_PORT'),
    latencyMs: numberSetting('latency-ms', 'SCIM_LATENCY_MS'),
    requestLog: !(values['no-request-log'] === true || process.env.SCIM_REQUEST_LOG === 'off'),
    auth:
      clientId !== undefined && clientSecret !== undefined
        ? { type: 'oauth2', clientId, clientSecret, ...(tokenTtlSeconds !== undefined ? { tokenTtlSeconds } : {}) }
        : bearer !== undefined
          ? { type: 'bearer', token: bearer }
          : undefined,
    bulk: maxOperations ? { maxOperations, ...(maxPayloadSize !== undefined ? { maxPayloadSize } : {}) } : false,
  };
}

const provider = await startScimProvider(optionsFromSettings());
process.stdout.write(JSON.stringify({ url: provider.url, tokenUrl: provider.tokenUrl }) + '\n');

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await provider.stop();
  const { total, failed } = provider.requestCounts();
  process.stdout.write(
    JSON.stringify({ stopped: true, users: provider.users().length, requests: total, failed }) + '\n',
  );
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line.trim() === 'stop') void stop();
});
commands.on('close', () => void stop());

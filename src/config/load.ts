/**
 * Loads the configuration in layers (SPEC §4), validates it against the one schema, resolves
 * relative paths against the working directory and freezes the result.
 *
 *   config/default.json (shipped) ← config/local.json (optional, git-ignored) ← --config FILE ← USERSYNC_* env
 *
 * A bad value throws CONFIG_INVALID naming the key path, the value (never a secret) and the layer
 * it came from, e.g. `watch.stableMs: expected a number, got "soon" (from config/local.json)` or
 * `health.port: … (from environment variable USERSYNC_HEALTH_PORT)`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { buildHeaderLookup } from '../domain/headers.js';
import { fail } from '../errors.js';
import { isTargetSecret, redactDatabaseUrl } from './redact.js';
import { ENVIRONMENT, configSchema, type Config } from './schema.js';

export type { Config } from './schema.js';

type Json = Record<string, unknown>;

/** Where the shipped `config/default.json` lives: the package root, whatever the working directory. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface LoadOptions {
  /** The `--config FILE` argument. */
  configFile?: string | undefined;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to `process.cwd()`; relative paths (config files, folders, sqlite:) resolve against it. */
  cwd?: string;
  /** Applied last, e.g. the global `--log-level` flag. */
  overrides?: Json;
}

interface Layer {
  source: string;
  values: Json;
}

/** A configuration file of the layers, in layer order. */
export interface ConfigFile {
  /** How messages name the layer: `config/local.json`, or the --config argument as given. */
  source: string;
  file: string;
  /** False for --config: a file named on the command line must exist. */
  optional: boolean;
}

/** The configuration files `loadConfig` reads with these options, in layer order (absent optional ones left out). */
export function configFiles(options: LoadOptions = {}): ConfigFile[] {
  const cwd = options.cwd ?? process.cwd();
  const files: ConfigFile[] = [
    { source: 'config/default.json', file: path.join(PACKAGE_ROOT, 'config', 'default.json'), optional: true },
  ];
  const localFile = path.join(cwd, 'config', 'local.json');
  if (existsSync(localFile)) files.push({ source: 'config/local.json', file: localFile, optional: true });
  if (options.configFile)
    files.push({ source: options.configFile, file: path.resolve(cwd, options.configFile), optional: false });
  return files;
}

export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const layers: Layer[] = configFiles(options).map(({ source, file, optional }) => ({
    source,
    values: readJsonFile(file, optional),
  }));
  layers.push(...environmentLayers(env));
  if (options.overrides) layers.push({ source: 'command line', values: options.overrides });

  const merged: Json = {};
  const origin = new Map<string, string>();
  for (const layer of layers) mergeInto(merged, layer.values, layer.source, origin, []);

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw configError(parsed.error, merged, origin);
  buildHeaderLookup(parsed.data.import.headerAliases); // a bad alias target stops the start, not the first import
  return deepFreeze(resolvePaths(parsed.data, cwd));
}

export function readJsonFile(file: string, optional: boolean): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    if (optional && (cause as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw fail('CONFIG_FILE_UNREADABLE', {
      message: `Cannot read the configuration file ${file}: ${(cause as Error).message}`,
      cause,
    });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error('the top level must be a JSON object');
    }
    return value as Json;
  } catch (cause) {
    throw fail('CONFIG_FILE_UNREADABLE', {
      message: `The configuration file ${file} is not valid JSON: ${(cause as Error).message}`,
      cause,
    });
  }
}

/** One layer per variable that is set, so a bad value names its variable (`from environment variable USERSYNC_…`). */
function environmentLayers(env: NodeJS.ProcessEnv): Layer[] {
  const layers: Layer[] = [];
  for (const variable of ENVIRONMENT) {
    const raw = env[variable.name];
    if (raw === undefined || raw === '') continue;
    const value = variable.type === 'number' && /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
    const values: Json = {};
    setPath(values, variable.path, value);
    layers.push({ source: `environment variable ${variable.name}`, values });
  }
  return layers;
}

/** Deep-merges plain objects; arrays and scalars replace. Records which layer set each leaf. */
function mergeInto(target: Json, source: Json, layer: string, origin: Map<string, string>, at: string[]): void {
  for (const [key, value] of Object.entries(source)) {
    const keyPath = [...at, key];
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) {
      mergeInto(existing, value, layer, origin, keyPath);
    } else {
      target[key] = isPlainObject(value) ? structuredClone(value) : value;
      origin.set(keyPath.join('.'), layer);
    }
  }
}

function isPlainObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function setPath(target: Json, keyPath: readonly string[], value: unknown): void {
  let node = target;
  keyPath.slice(0, -1).forEach((key) => {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Json;
  });
  node[keyPath[keyPath.length - 1] as string] = value;
}

function getPath(source: unknown, keyPath: readonly PropertyKey[]): unknown {
  let node: unknown = source;
  for (const key of keyPath) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function configError(error: z.ZodError, merged: Json, origin: Map<string, string>) {
  const lines = error.issues.map((issue) => {
    const keyPath = issue.path.map(String);
    let name = keyPath.join('.') || '(top level)';
    let detail: string;
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((key) => [...keyPath, key].join('.'));
      name = keys.join(', ');
      detail = `unknown key${keys.length > 1 ? 's' : ''} (check the spelling against docs/configuration.md)`;
      return `${name}: ${detail}${sourceOf(origin, keys[0] ?? '')}`;
    }
    const value = getPath(merged, issue.path);
    if (issue.code === 'invalid_type') {
      detail = `expected ${article(issue.expected)}, got ${showValue(keyPath, value)}`;
    } else {
      detail = `${issue.message.replace(/^Invalid input: /, '')} (got ${showValue(keyPath, value)})`;
    }
    return `${name}: ${detail}${sourceOf(origin, keyPath.join('.'))}`;
  });
  return fail('CONFIG_INVALID', {
    message: `Invalid configuration:\n  ${lines.join('\n  ')}`,
    details: { issues: lines },
  });
}

function sourceOf(origin: Map<string, string>, keyPath: string): string {
  // A leaf, or the nearest parent object, says which layer set it.
  for (let p = keyPath; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const layer = origin.get(p);
    if (layer) return ` (from ${layer})`;
  }
  return '';
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** Shows a bad value without ever printing a secret: database URLs lose their password. */
function showValue(keyPath: string[], value: unknown): string {
  if (value === undefined) return 'nothing';
  if (isTargetSecret(keyPath)) return '(hidden: a secret)';
  if (['database.url', 'notify.smtp.url'].includes(keyPath.join('.')) && typeof value === 'string')
    return JSON.stringify(redactDatabaseUrl(value));
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function resolvePaths(config: Config, cwd: string): Config {
  const resolve = (p: string) => path.resolve(cwd, p);
  const url = config.database.url;
  return {
    ...config,
    folders: {
      inbox: resolve(config.folders.inbox),
      processing: resolve(config.folders.processing),
      archive: resolve(config.folders.archive),
      error: resolve(config.folders.error),
      held: resolve(config.folders.held),
    },
    database: {
      ...config.database,
      url:
        url.startsWith('sqlite:') && url !== 'sqlite::memory:' ? `sqlite:${resolve(url.slice('sqlite:'.length))}` : url,
    },
    schedule: { ...config.schedule, sources: config.schedule.sources.map((s) => ({ ...s, path: resolve(s.path) })) },
    logs: { ...config.logs, dir: resolve(config.logs.dir) },
  };
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

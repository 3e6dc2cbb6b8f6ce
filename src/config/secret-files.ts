/**
 * Configuration files that hold a secret and that other local accounts can read: reported at every
 * start (the caller logs a warning), never changed (the operator owns their modes).
 */
import { readableByOthers } from '../io/private-files.js';
import { configFiles, readJsonFile, type LoadOptions } from './load.js';

/**
 * The keys whose value can be a secret, and when it is one. Invariant: every configuration key
 * that can carry a credential has an entry here.
 */
const SECRET_KEYS: ReadonlyArray<{ path: readonly string[]; isSecret(value: unknown): boolean }> = [
  { path: ['database', 'url'], isSecret: (value) => typeof value === 'string' && urlHasPassword(value) },
  { path: ['notify', 'smtp', 'url'], isSecret: (value) => typeof value === 'string' && urlHasPassword(value) },
];

function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return /\/\/[^:/@]*:[^@]+@/.test(url);
  }
}

function valueAt(values: unknown, keyPath: readonly string[]): unknown {
  let node = values;
  for (const key of keyPath) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export interface ExposedSecretFile {
  file: string;
  /** Its permission bits, e.g. `0644`. */
  mode: string;
  /** The secret keys it sets, e.g. `database.url`. */
  keys: string[];
}

/** The configuration files of `options` that set a secret and are readable by other accounts. */
export function exposedSecretFiles(options: LoadOptions = {}): ExposedSecretFile[] {
  const exposed: ExposedSecretFile[] = [];
  for (const { file, optional } of configFiles(options)) {
    const mode = readableByOthers(file);
    if (mode === undefined) continue;
    const values = readJsonFile(file, optional);
    const keys = SECRET_KEYS.filter((secret) => secret.isSecret(valueAt(values, secret.path))).map((secret) =>
      secret.path.join('.'),
    );
    keys.push(...targetSecrets(values));
    if (keys.length > 0) exposed.push({ file, mode, keys });
  }
  return exposed;
}

/** The SCIM targets' credentials a configuration file sets (SPEC §12), e.g. `targets[0].auth.clientSecret`. */
function targetSecrets(values: unknown): string[] {
  const targets = valueAt(values, ['targets']);
  if (!Array.isArray(targets)) return [];
  return targets.flatMap((target, i) =>
    ['clientSecret', 'token']
      .filter((key) => typeof valueAt(target, ['auth', key]) === 'string')
      .map((key) => `targets[${i}].auth.${key}`),
  );
}

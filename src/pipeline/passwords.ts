/**
 * Password hashing (SPEC §1, PITFALLS §11): argon2id via @node-rs/argon2, stored as a PHC string.
 * The async API runs off the main thread; concurrency is capped to the CPU count because hashes
 * share libuv's pool with file I/O.
 */
import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import pLimit from 'p-limit';
import type { Config } from '../config/schema.js';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** True when `password` is the one `phc` was made from. A malformed stored hash is "no". */
  verify(phc: string, password: string): Promise<boolean>;
  /** How many hashes run at once. */
  readonly concurrency: number;
}

const ARGON2ID = 2; // Algorithm.Argon2id: a const enum, which isolatedModules cannot import

export function createPasswordHasher(settings: Config['import']): PasswordHasher {
  const concurrency = settings.hashConcurrency > 0 ? settings.hashConcurrency : availableParallelism();
  const limit = pLimit(concurrency);
  const options = {
    algorithm: ARGON2ID,
    memoryCost: settings.argon2.memoryCost,
    timeCost: settings.argon2.timeCost,
    parallelism: settings.argon2.parallelism,
  };
  return {
    concurrency,
    hash: (password) => limit(() => hash(password, options)),
    verify: (phc, password) => limit(() => verify(phc, password).catch(() => false)),
  };
}

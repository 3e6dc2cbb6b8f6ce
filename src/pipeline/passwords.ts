/**
 * Password hashing (SPEC §1, PITFALLS §11): argon2id via @node-rs/argon2, stored as a PHC string.
 * The async API runs on libuv's pool, off the main thread. One hash more than there are cores is
 * in flight: the extra one waits in the pool's queue and starts the moment another finishes.
 * With only as many as cores, each next hash started once the import's thread had heard of the
 * last one, and that thread is busy in stretches (checking and writing batches): the pool's
 * threads used ~1.76 of the 2 cores, and 2,000 passwords into MariaDB took 13.2 s against
 * 12.4 s with one queued (medians of seven alternating runs; the bare rate does not depend on
 * it). More would only take pool threads from file I/O, which shares the pool. bin/usersync.js
 * sizes the pool at cores + 3 before it starts, so the default number of hashes never fills it
 * (a larger import.hashConcurrency can, unless UV_THREADPOOL_SIZE is raised with it): with libuv's
 * default of 4, hashing used at most 4 cores and file I/O queued behind hashes from 4 cores up.
 */
import { availableParallelism } from 'node:os';
import { requirePackage } from '../require-package.js';
import pLimit from 'p-limit';
import type { Config } from '../config/schema.js';

const { hash, verify }: typeof import('@node-rs/argon2') = requirePackage('@node-rs/argon2');

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** True when `password` is the one `phc` was made from. A malformed stored hash is "no". */
  verify(phc: string, password: string): Promise<boolean>;
  /** How many hashes run at once. */
  readonly concurrency: number;
}

const ARGON2ID = 2; // Algorithm.Argon2id: a const enum, which isolatedModules cannot import

export function createPasswordHasher(settings: Config['import']): PasswordHasher {
  const concurrency = settings.hashConcurrency > 0 ? settings.hashConcurrency : availableParallelism() + 1;
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

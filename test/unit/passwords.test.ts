import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { createPasswordHasher } from '../../src/pipeline/passwords.js';

// Cheap argon2id parameters: what is tested is the hasher, not the hash's strength.
const settings = (hashConcurrency: number) => {
  const defaults = configSchema.parse({}).import;
  return { ...defaults, hashConcurrency, argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
};

describe('createPasswordHasher', () => {
  it('keeps one hash more than the cores in flight by default (one waits in the pool, ready to start), or what the config says', () => {
    expect(createPasswordHasher(settings(0)).concurrency).toBe(availableParallelism() + 1);
    expect(createPasswordHasher(settings(1)).concurrency).toBe(1);
  });

  it('hashes each password with its own salt, and verifies against those hashes (a malformed one is no)', async () => {
    const hasher = createPasswordHasher(settings(2));
    const hashes = await Promise.all(Array.from({ length: 7 }, (_, i) => hasher.hash(`password-${i}`)));
    expect(new Set(hashes).size).toBe(7);
    for (const phc of hashes) expect(phc).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await hasher.verify(hashes[3] as string, 'password-3')).toBe(true);
    expect(await hasher.verify(hashes[3] as string, 'password-4')).toBe(false);
    expect(await hasher.verify('not a PHC string', 'password-3')).toBe(false);
  });
});

/**
 * The machine's bare argon2id rate: hashes per second with @node-rs/argon2, the best of `cores`
 * and `cores + 1` hashes in flight (or of the one count given). With only as many as cores, each
 * next hash waits for this thread to hear of the last, and the rate comes out below what usersync
 * (which keeps cores + 1 in flight) reaches: usersync would seem faster than "bare".
 */
import { availableParallelism } from 'node:os';
import { hash } from '@node-rs/argon2';

const seconds = Number(process.argv[2] ?? 4);
const counts = process.argv[3] ? [Number(process.argv[3])] : [availableParallelism(), availableParallelism() + 1];
const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

async function rate(concurrency: number): Promise<number> {
  await Promise.all(Array.from({ length: concurrency }, () => hash('warm-up-password', options)));
  let hashes = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (Date.now() - started < seconds * 1000) {
        await hash(`password-${lane}-${hashes}`, options);
        hashes++;
      }
    }),
  );
  return hashes / ((Date.now() - started) / 1000);
}

let best = 0;
for (const concurrency of counts) best = Math.max(best, await rate(concurrency));
process.stdout.write(`${best.toFixed(1)}\n`);

/** The machine's bare argon2id rate: hashes per second with @node-rs/argon2 at `concurrency` in flight. */
import { availableParallelism } from 'node:os';
import { hash } from '@node-rs/argon2';

const seconds = Number(process.argv[2] ?? 4);
const concurrency = Number(process.argv[3] ?? availableParallelism());
const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
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
process.stdout.write(`${(hashes / ((Date.now() - started) / 1000)).toFixed(1)}\n`);

/**
 * Preloaded (`node --require`) into every process the bench measures: when the process exits it
 * writes its CPU time — user and system, every thread of it (getrusage) — to the file named by
 * USERSYNC_BENCH_CPU_FILE. A parent cannot read that from /proc once Node has reaped the child,
 * and sampling it before the end misses the last tens of milliseconds.
 *
 * CommonJS, preloaded with --require, not an ES module with --import: an ES module preload is read
 * through libuv's thread pool, which starts the pool before bin/usersync.js can size it, so every
 * measured import would run with libuv's default 4 threads instead of the pool users get.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.USERSYNC_BENCH_CPU_FILE;
if (file) {
  process.once('exit', () => {
    const { user, system } = process.cpuUsage();
    writeFileSync(file, JSON.stringify({ cpuMs: (user + system) / 1000 }));
  });
}

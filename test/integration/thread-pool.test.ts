import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeWorkdir } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';

// bin/usersync.js sizes libuv's thread pool before it exists: cores + 3 (one hash more than cores,
// two threads left for file I/O), at least libuv's own 4, unless UV_THREADPOOL_SIZE is set.
// Node has no API for the pool's size, so the daemon's threads are counted, against a daemon
// with the pool pinned at 4: everything else about the two processes is the same.
describe("the launcher sizes libuv's thread pool", () => {
  const daemons: DaemonHandle[] = [];
  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((daemon) => daemon.stop()));
  });

  /** The daemon's thread count, once it has held still for a second. */
  async function threadsOfDaemon(poolSize: string): Promise<number> {
    const cwd = makeWorkdir('usersync-pool-');
    const daemon = await startDaemon({
      cwd,
      databaseUrl: `sqlite:${path.join(cwd, 'users.sqlite')}`,
      env: { UV_THREADPOOL_SIZE: poolSize },
    });
    daemons.push(daemon);
    const count = () => readdirSync(`/proc/${daemon.child.pid}/task`).length;
    let last = -1;
    const settled = await waitFor(async () => {
      const before = count();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const now = count();
      const still = now === before && now === last;
      last = now;
      return still ? now : 0;
    });
    return settled;
  }

  it('gives the pool cores + 3 threads unless the operator chose, and keeps the operator’s choice', async () => {
    const pinned = await threadsOfDaemon('4');
    // An empty value counts as not set (libuv itself would run one thread).
    expect(pinned).toBeGreaterThan(4);
    expect((await threadsOfDaemon('')) - pinned).toBe(Math.max(4, availableParallelism() + 3) - 4);
    expect((await threadsOfDaemon('9')) - pinned).toBe(5);
  }, 60_000);
});

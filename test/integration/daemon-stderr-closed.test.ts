/**
 * A daemon whose stderr reader went away (a closed pipe, a supervisor that restarted) keeps
 * running on its log file and stops cleanly on SIGTERM. Unhandled, the EPIPE was an uncaught
 * exception whose own log line failed again, hundreds of thousands of times, and the daemon never
 * finished stopping.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { startDaemon } from '../helpers/daemon.js';

describeEachDatabase(
  'a daemon whose stderr is gone',
  (database) => {
    it('logs on to its file and stops cleanly', async () => {
      const daemon = await startDaemon({ databaseUrl: database().url });
      daemon.child.stdout?.destroy();
      daemon.child.stderr?.destroy();
      const health = await daemon.health(); // still serving; its request is logged
      expect(health.status).toBe(200);
      daemon.child.kill('SIGTERM');
      const code = await Promise.race([
        daemon.exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 20_000)),
      ]);
      if (code === 'still running') daemon.child.kill('SIGKILL');
      expect(code).toBe(0);
      const log = readFileSync(path.join(daemon.cwd, 'logs', 'usersync.log'), 'utf8');
      expect(log).toContain('daemon.stopped');
      expect(log.split('\n').filter((line) => line.includes('daemon.uncaught'))).toEqual([]);
    });
  },
  ['sqlite'],
);

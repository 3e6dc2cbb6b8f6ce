import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/daemon.js';

// There is no Docker engine here, so the image is checked by running what it runs: the pruned
// production install, the Dockerfile's CMD and its HEALTHCHECK command (scripts/check-production-install.sh).
describe('the Docker image’s production install', () => {
  it('starts from a pruned install, passes the HEALTHCHECK, imports a file and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const result = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'check-production-install.sh'), String(port)], {
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(result.stderr + result.stdout).toContain('production install OK');
    expect(result.status).toBe(0);
  }, 300_000);
});

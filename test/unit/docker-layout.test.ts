/**
 * The image's folder layout (no Docker engine is needed to check it): the HR share volume holds
 * the four daemon folders and nothing else of usersync's — the database and the logs live in the
 * private volume — the user has a fixed uid:gid the README tells operators to chown to, and the
 * README's examples mount what the Dockerfile declares (the MariaDB one on a shared network).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
// The shipped stage: everything after the last FROM, continuation lines joined.
const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')).replace(/\\\n\s*/g, ' ');
const env = Object.fromEntries([...finalStage.matchAll(/\b(USERSYNC_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
const volumes = JSON.parse(/^VOLUME (\[.*\])$/m.exec(finalStage)?.[1] ?? '[]') as string[];
const volumeOf = (p: string) => volumes.find((v) => p === v || p.startsWith(`${v}/`));
const dockerSection = readme.slice(readme.indexOf('**Docker:**'), readme.indexOf('**MySQL / MariaDB setup:**'));

describe('the Docker image layout', () => {
  it('keeps the database and the logs out of the HR share volume, and the four folders in it', () => {
    const share = volumeOf(env.USERSYNC_INBOX!);
    expect(share).toBe('/srv/usersync');
    // processing/ on the inbox's filesystem: the claim is then a rename, which a writer's descriptor follows.
    for (const key of ['USERSYNC_PROCESSING', 'USERSYNC_ARCHIVE', 'USERSYNC_ERROR'])
      expect(volumeOf(env[key]!), key).toBe(share);
    const database = env.USERSYNC_DATABASE_URL!.replace(/^sqlite:/, '');
    for (const [what, p] of [
      ['database', database],
      ['logs', env.USERSYNC_LOG_DIR!],
    ] as const) {
      expect(volumeOf(p), what).toBeDefined();
      expect(volumeOf(p), what).not.toBe(share);
    }
  });

  it('prepares every folder for a fixed uid:gid, which the README tells operators to chown a bind mount to', () => {
    const uid = /useradd\b[^&]*--uid (\d+)/.exec(finalStage)?.[1];
    const gid = /groupadd\b[^&]*--gid (\d+)/.exec(finalStage)?.[1];
    expect(uid).toBeDefined();
    expect(gid).toBe(uid);
    const mkdir = /mkdir -p ([^&]+)/.exec(finalStage)?.[1]?.split(/\s+/) ?? [];
    for (const key of [
      'USERSYNC_INBOX',
      'USERSYNC_PROCESSING',
      'USERSYNC_ARCHIVE',
      'USERSYNC_ERROR',
      'USERSYNC_LOG_DIR',
    ])
      expect(mkdir, key).toContain(env[key]);
    expect(dockerSection).toContain(`chown -R ${uid}:${gid} `);
    expect(dockerSection).toContain('--user ');
  });

  it('documents runs that mount the share and the private volume where the image expects them, the MariaDB one on a shared network', () => {
    const runs = dockerSection
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .filter((line) => line.startsWith('docker run') && line.includes(' usersync') && !line.includes('mariadb:'));
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const run of runs) {
      expect(run).toMatch(/-v \S+:\/srv\/usersync /);
      expect(run).toMatch(/-v \S+:\/data /);
    }
    const network = /docker network create (\S+)/.exec(dockerSection)?.[1];
    const database = dockerSection
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .find((line) => line.includes('mariadb:'));
    const dbName = /--name (\S+)/.exec(database ?? '')?.[1];
    expect(database).toContain(`--network ${network}`);
    expect(runs.some((run) => run.includes(`--network ${network}`))).toBe(true);
    expect(dockerSection).toContain(`@${dbName}:3306/`);
  });
});

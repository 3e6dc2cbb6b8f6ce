import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

// The Node.js releases CI installs (.ci/run), the Docker image's base and the README name the same
// versions. That `engines` admits them is proven by CI itself: `npm ci` under `.npmrc`'s
// engine-strict refuses a Node.js the project's `engines` leaves out.
const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const ci = read('.ci/run');
const pinned = (name: string) => {
  const version = new RegExp(`^${name}=(\\d+\\.\\d+\\.\\d+)$`, 'm').exec(ci)?.[1];
  if (version === undefined) throw new Error(`.ci/run pins ${name} to an exact version`);
  return version;
};

describe('the tested Node.js versions', () => {
  it('pins each line CI installs to an exact release of its major', () => {
    expect(pinned('NODE_24')).toMatch(/^24\./);
    expect(pinned('NODE_22')).toMatch(/^22\./);
  });

  it('builds and runs the Docker image on the Node.js 24 release CI runs the whole suite on', () => {
    const bases = [...read('Dockerfile').matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(base).toBe(`node:${pinned('NODE_24')}-bookworm-slim`);
  });

  it('names in the README the releases CI tests', () => {
    const requirements = read('README.md').split('\n## ')[0] ?? '';
    expect(requirements).toContain(`${pinned('NODE_24')}`);
    expect(requirements).toContain(`${pinned('NODE_22')}`);
  });
});

/**
 * The patches in src/xlsx/patches/ reach into private code of exceljs and its dependencies: an
 * upgrade of any of them must not go unnoticed. Each installed version (as the patches resolve it)
 * must be the one pinned in src/xlsx/patches/pinned.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PINNED_PACKAGES } from '../../src/xlsx/patches/pinned.js';

/** The version in node_modules/<name>/package.json of the copy found through `via`. */
function installedVersion(name: string, via: readonly string[]): string {
  let require = createRequire(import.meta.url);
  for (const hop of via) require = createRequire(require.resolve(`${hop}/package.json`));
  const manifest = require.resolve(`${name}/package.json`);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

describe('versions the xlsx patches were written against', () => {
  it.each(PINNED_PACKAGES.map((pin) => [pin.name, pin] as const))('%s is the pinned version', (name, pin) => {
    const installed = installedVersion(name, pin.via);
    expect(
      installed,
      `${name} ${installed} is installed, but the patches that use it (src/xlsx/patches/: ` +
        `${pin.patches.join(', ')}) were written against ${pin.version}: re-check each patch ` +
        `against the new version's code, then update src/xlsx/patches/pinned.ts.`,
    ).toBe(pin.version);
  });

  it('names only patch files that exist', () => {
    const patches = new URL('../../src/xlsx/patches/', import.meta.url);
    for (const file of PINNED_PACKAGES.flatMap((pin) => pin.patches)) {
      expect(existsSync(fileURLToPath(new URL(file, patches))), file).toBe(true);
    }
  });
});

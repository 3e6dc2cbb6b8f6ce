/**
 * The exact versions of the packages whose internals the patches in this folder reach into.
 * Each patch was written against, and tested with, these versions only: private functions,
 * prototypes and file paths are not covered by semver. package.json pins the direct dependency
 * (exceljs); the others come with it through package-lock.json.
 *
 * test/unit/xlsx-patches-pinned.test.ts fails when an installed version differs. After an
 * upgrade, re-check every patch listed for the package against the new code (is the bug still
 * there? are the patched names and paths the same?), run the tests that exercise it, then update
 * the version here.
 */

export interface PinnedPackage {
  /** The package's name on npm. */
  readonly name: string;
  /** The version every listed patch was written against. */
  readonly version: string;
  /**
   * How the patches resolve it: the packages to resolve through, in order, from usersync's own
   * node_modules (the copy exceljs loads, which is the one the patches must reach).
   */
  readonly via: readonly string[];
  /** Files of src/xlsx/patches/ that depend on this package's internals. */
  readonly patches: readonly string[];
}

export const PINNED_PACKAGES: readonly PinnedPackage[] = [
  {
    name: 'exceljs',
    version: '4.4.0',
    via: [],
    patches: ['exceljs-sax-fix.ts', 'exceljs-style-cache.ts', 'exceljs-writer-fix.ts', 'zip-backpressure.ts'],
  },
  { name: 'saxes', version: '5.0.1', via: ['exceljs'], patches: ['exceljs-sax-fix.ts'] },
  { name: 'unzipper', version: '0.10.14', via: ['exceljs'], patches: ['unzipper-end-fix.ts', 'unzipper-slim.ts'] },
  { name: 'binary', version: '0.3.0', via: ['exceljs', 'unzipper'], patches: ['unzipper-slim.ts'] },
  { name: 'jszip', version: '3.10.2', via: ['exceljs'], patches: ['exceljs-writer-fix.ts'] },
  { name: 'archiver', version: '5.3.2', via: ['exceljs'], patches: ['zip-backpressure.ts', 'zip-crc32.ts'] },
  {
    name: 'crc32-stream',
    version: '4.0.3',
    via: ['exceljs', 'archiver', 'zip-stream', 'compress-commons'],
    patches: ['zip-crc32.ts'],
  },
  {
    name: 'crc-32',
    version: '1.2.2',
    via: ['exceljs', 'archiver', 'zip-stream', 'compress-commons', 'crc32-stream'],
    patches: ['zip-crc32.ts'],
  },
];

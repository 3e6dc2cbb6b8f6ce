/**
 * `require` as exceljs itself resolves modules: our patches of exceljs' internals (its sax parser,
 * unzipper, zip writer and styles) must reach the very copies exceljs loads, not another install.
 * Resolving the path does not load exceljs, so patches that must run before it can use this.
 */
import { createRequire } from 'node:module';

export const requireFromExceljs = createRequire(createRequire(import.meta.url).resolve('exceljs'));

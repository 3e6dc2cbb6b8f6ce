/**
 * `require` for the CommonJS packages the entry points load (knex, winston, yauzl, argon2,
 * cli-progress, validator): a value `import` of a CommonJS package makes Node lex the package's
 * source for its export names (cjs-module-lexer), and lexing them ran long enough for V8 to
 * compile the lexer with TurboFan — five times across the import's threads, ~0.2 s of CPU on
 * every start (`--trace-opt`). Through `require` they load as they would from CommonJS; their
 * types still come from `import type`. A 100k-row SQLite first load: process CPU −0.13 s and wall
 * −0.05 s (means of 20 alternating pairs, 14 and 13 of them better).
 */
import { createRequire } from 'node:module';

export const requirePackage = createRequire(import.meta.url);

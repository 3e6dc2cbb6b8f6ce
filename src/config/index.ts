/** The configuration: one schema (schema.ts), one loader (load.ts). */
export { loadConfig, PACKAGE_ROOT, type LoadOptions } from './load.js';
export { configSchema, ENVIRONMENT, type Config } from './schema.js';
export { redactDatabaseUrl } from './redact.js';

/**
 * The configuration schema: the ONLY place configuration keys are spelled.
 *
 * Every key has its default and a one-line description (`.describe`), from which the
 * configuration reference in docs/configuration.md is generated (scripts/docs.ts).
 * Objects are strict so that a misspelt key is an error rather than a silently ignored setting.
 */
import { z } from 'zod';
import { feeds, safety } from './safety-schema.js';
import { notify } from './notify-schema.js';
import { targets } from './targets-schema.js';

export { BUILT_IN_FEED } from './safety-schema.js';

const MiB = 1024 * 1024;

const folders = z
  .strictObject({
    inbox: z
      .string()
      .min(1)
      .default('./inbox')
      .describe('Folder the daemon watches for new user lists (top level only).'),
    processing: z
      .string()
      .min(1)
      .default('./processing')
      .describe('Folder a file is moved into while it is being imported.'),
    archive: z
      .string()
      .min(1)
      .default('./archive')
      .describe('Where fully applied files and their reports go, under YYYY-MM-DD/.'),
    error: z
      .string()
      .min(1)
      .default('./error')
      .describe('Where rejected files, or files with failed rows, go with their reports, under YYYY-MM-DD/.'),
    held: z
      .string()
      .min(1)
      .default('./held')
      .describe('Where files held for approval wait with their reports (SPEC §9); created mode 0700, files 0600.'),
  })
  .prefault({})
  .describe('The folders of the daemon; relative paths resolve against the working directory.');

const database = z
  .strictObject({
    url: z
      .string()
      .min(1)
      .default('sqlite:./data/usersync.sqlite')
      .describe('sqlite:PATH (embedded) or mysql://user:pass@host:3306/db (MySQL 8 / MariaDB 10.6+).'),
    poolMax: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe('Most connections kept open to MySQL/MariaDB (SQLite always uses one).'),
    acquireTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('How long to wait for a free connection before failing.'),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(5_000)
      .describe('How long to wait for MySQL/MariaDB to accept a connection.'),
    busyTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('SQLite busy_timeout: how long a writer waits for another writer’s lock.'),
  })
  .prefault({})
  .describe('The user store.');

const watch = z
  .strictObject({
    stableMs: z
      .number()
      .int()
      .min(0)
      .default(2000)
      .describe('A file is taken only after its size and mtime were unchanged this long.'),
    usePolling: z
      .boolean()
      .default(false)
      .describe('Poll instead of inotify: needed for network shares (SMB/NFS) and some Docker mounts.'),
    pollIntervalMs: z
      .number()
      .int()
      .min(50)
      .default(1000)
      .describe('Polling interval for non-spreadsheet paths when usePolling is on.'),
    binaryIntervalMs: z
      .number()
      .int()
      .min(50)
      .default(1000)
      .describe('Polling interval for .xlsx/.xlsm files when usePolling is on (chokidar treats them as binary).'),
    incompleteTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(600_000)
      .describe('How long an .xlsx whose zip is still incomplete is waited for before it is rejected as truncated.'),
  })
  .prefault({})
  .describe('How the inbox is watched.');

const scheduledSource = z.strictObject({
  name: z
    .string()
    .min(1)
    .regex(/^[\w.-]+$/, 'letters, digits, . _ - only')
    .describe('A short name, used for the copy’s file name and in logs.'),
  path: z
    .string()
    .min(1)
    .describe('The source file HR overwrites in place (.xlsx, .xlsm or .csv); never moved or changed.'),
  cron: z.string().min(1).describe('When to copy it into the inbox (node-cron expression, 5 or 6 fields).'),
});

const schedule = z
  .strictObject({
    rescan: z
      .string()
      .default('*/5 * * * *')
      .describe('Cron expression for the inbox sweep that catches files the watcher missed; empty string disables.'),
    timezone: z.string().min(1).default('UTC').describe('Time zone the cron expressions are read in (IANA name).'),
    sources: z
      .array(scheduledSource)
      .default([])
      .describe('Files copied into the inbox on a schedule: [{name, path, cron}].'),
  })
  .prefault({})
  .describe('Scheduled work.');

const argon2 = z
  .strictObject({
    memoryCost: z.number().int().min(1024).default(19_456).describe('argon2id memory in KiB (OWASP: 19456).'),
    timeCost: z.number().int().min(1).default(2).describe('argon2id iterations (OWASP: 2).'),
    parallelism: z.number().int().min(1).default(1).describe('argon2id lanes (OWASP: 1).'),
  })
  .prefault({})
  .describe('Password hashing parameters; existing hashes keep verifying when these change.');

const importSettings = z
  .strictObject({
    maxFileBytes: z
      .number()
      .int()
      .min(1)
      .default(100 * MiB)
      .describe('Largest file accepted, in bytes.'),
    maxRows: z.number().int().min(1).default(1_000_000).describe('Most data rows accepted in one file.'),
    maxUncompressedBytes: z
      .number()
      .int()
      .min(1)
      .default(2048 * MiB)
      .describe('Most uncompressed bytes an .xlsx may declare (zip-bomb guard).'),
    maxCompressionRatio: z
      .number()
      .min(1)
      .default(200)
      .describe('Highest compression ratio allowed for a large zip entry (zip-bomb guard).'),
    maxCellChars: z
      .number()
      .int()
      .min(1)
      .default(32_767)
      .describe('Longest cell value read, in characters (Excel’s own limit is 32767).'),
    maxEmptyRows: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe('Reading stops after this many consecutive blank rows.'),
    maxListItems: z.number().int().min(1).default(100).describe('Most roles or groups one cell may list.'),
    usernamePattern: z
      .string()
      .default('^[\\p{L}\\p{N}._@][\\p{L}\\p{N}._@-]{0,63}$')
      .describe(
        'Regular expression (Unicode) a normalised username must match; by default 1–64 letters, digits and . _ @ -, not starting with -.',
      ),
    passwordMinLength: z.number().int().min(1).default(8).describe('Shortest password accepted.'),
    passwords: z
      .enum(['always', 'create-only'])
      .default('always')
      .describe('"always" sets a given password; "create-only" never changes an existing user’s password.'),
    atomic: z.boolean().default(false).describe('When true, any failed row means nothing in the file is applied.'),
    createMissingGroups: z.boolean().default(false).describe('Create unknown user groups instead of failing the row.'),
    clearMarker: z
      .string()
      .default('(clear)')
      .describe(
        'Cell text that empties E-mail, Phone, Department, Roles or User group (a blank cell keeps them); matched ignoring case and surrounding spaces; empty string disables.',
      ),
    headerAliases: z
      .record(z.string(), z.string())
      .default({})
      .describe('Extra header names, e.g. {"Login": "Username"}; values are template column names.'),
    parseTimeoutMs: z.number().int().min(1000).default(600_000).describe('Wall-clock limit for reading one file.'),
    workerMemoryMb: z
      .number()
      .int()
      .min(64)
      .default(512)
      .describe('Heap limit of the worker thread that reads a workbook.'),
    hashConcurrency: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "Passwords hashed at once; 0 means one more than the CPU cores (one waits, ready to start). They run on libuv's thread pool (cores + 3 threads unless UV_THREADPOOL_SIZE is set): more than that wait.",
      ),
    argon2,
  })
  .prefault({})
  .describe('How files are read and applied.');

const archive = z
  .strictObject({
    redactPasswords: z
      .boolean()
      .default(true)
      .describe('Archive files that carried passwords as a copy with the Password column emptied.'),
  })
  .prefault({})
  .describe('What is kept of processed files.');

const catalog = z
  .strictObject({
    roles: z
      .array(z.string().min(1))
      .default(() => ['Administrator', 'Auditor', 'Operator', 'Viewer'])
      .describe(
        'Roles ensured to exist (never deleted, audited when created) by the daemon at start and by every command that changes the directory; [] for none.',
      ),
    groups: z
      .array(z.string().min(1))
      .default(() => ['Finance', 'HR', 'IT', 'Sales'])
      .describe('User groups ensured to exist, as catalog.roles.'),
  })
  .prefault({})
  .describe('The catalogue of roles and groups.');

const health = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1').describe('Address the health server binds to (loopback by default).'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65_535)
      .default(9464)
      .describe('Port of /healthz and /metrics; 0 disables the server.'),
  })
  .prefault({})
  .describe('The health and metrics HTTP server.');

const logs = z
  .strictObject({
    dir: z.string().min(1).default('./logs').describe('Folder of usersync.log (JSON lines) and audit.log.'),
    level: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('Least severe level written.'),
    console: z
      .enum(['auto', 'pretty', 'json', 'off'])
      .default('auto')
      .describe('Terminal output: auto = readable on a TTY, JSON otherwise.'),
  })
  .prefault({})
  .describe('Logging.');

const daemon = z
  .strictObject({
    shutdownTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(30_000)
      .describe('Longest a graceful stop may take before the process exits anyway.'),
    retryInitialMs: z
      .number()
      .int()
      .min(10)
      .default(1000)
      .describe('First wait before retrying a file after a transient fault.'),
    retryMaxMs: z
      .number()
      .int()
      .min(10)
      .default(300_000)
      .describe('Longest wait between retries (capped exponential backoff with jitter).'),
  })
  .prefault({})
  .describe('Daemon lifecycle.');

export const configSchema = z.strictObject({
  folders,
  database,
  watch,
  schedule,
  import: importSettings,
  archive,
  catalog,
  health,
  logs,
  daemon,
  safety,
  feeds,
  notify,
  targets,
});

/** The validated, frozen configuration passed to every factory. */
export type Config = z.infer<typeof configSchema>;

/**
 * Environment variables (SPEC §4) and the key each one sets.
 * `number` variables are converted only when they look like a number, so that
 * `USERSYNC_HEALTH_PORT=soon` is reported as `health.port: expected a number, got "soon"`.
 */
export const ENVIRONMENT: ReadonlyArray<{ name: string; path: readonly string[]; type: 'string' | 'number' }> = [
  { name: 'USERSYNC_DATABASE_URL', path: ['database', 'url'], type: 'string' },
  { name: 'USERSYNC_INBOX', path: ['folders', 'inbox'], type: 'string' },
  { name: 'USERSYNC_PROCESSING', path: ['folders', 'processing'], type: 'string' },
  { name: 'USERSYNC_ARCHIVE', path: ['folders', 'archive'], type: 'string' },
  { name: 'USERSYNC_ERROR', path: ['folders', 'error'], type: 'string' },
  { name: 'USERSYNC_HELD', path: ['folders', 'held'], type: 'string' },
  { name: 'USERSYNC_LOG_DIR', path: ['logs', 'dir'], type: 'string' },
  { name: 'USERSYNC_LOG_LEVEL', path: ['logs', 'level'], type: 'string' },
  { name: 'USERSYNC_HEALTH_PORT', path: ['health', 'port'], type: 'number' },
  { name: 'USERSYNC_SMTP_URL', path: ['notify', 'smtp', 'url'], type: 'string' },
];

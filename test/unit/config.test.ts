import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema, loadConfig, PACKAGE_ROOT } from '../../src/config/index.js';
import { UsersyncError } from '../../src/errors.js';

function workdir(local?: object): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'usersync-config-'));
  if (local) {
    mkdirSync(path.join(dir, 'config'));
    writeFileSync(path.join(dir, 'config', 'local.json'), JSON.stringify(local));
  }
  return dir;
}

function configErrorOf(run: () => unknown): UsersyncError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsersyncError);
    return error as UsersyncError;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('loadConfig', () => {
  it('uses config/default.json when nothing else is given, with paths resolved against the working directory', () => {
    const cwd = workdir();
    const config = loadConfig({ cwd, env: {} });
    expect(config.folders.inbox).toBe(path.join(cwd, 'inbox'));
    expect(config.logs.dir).toBe(path.join(cwd, 'logs'));
    expect(config.database.url).toBe(`sqlite:${path.join(cwd, 'data', 'usersync.sqlite')}`);
    expect(config.watch.stableMs).toBe(2000);
    expect(config.health).toEqual({ host: '127.0.0.1', port: 9464 });
  });

  it('keeps config/default.json equal to the schema defaults, the starter catalogue included', () => {
    const shipped = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'config', 'default.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const defaults = configSchema.parse({});
    expect(shipped).toEqual(defaults);
    expect(defaults.catalog).toEqual({
      roles: ['Administrator', 'Auditor', 'Operator', 'Viewer'],
      groups: ['Finance', 'HR', 'IT', 'Sales'],
    });
  });

  it('layers default ← local ← --config ← environment, later layers winning key by key', () => {
    const cwd = workdir({ watch: { stableMs: 100, usePolling: true }, logs: { level: 'debug' } });
    writeFileSync(path.join(cwd, 'extra.json'), JSON.stringify({ watch: { stableMs: 200 }, health: { port: 9999 } }));
    const config = loadConfig({
      cwd,
      configFile: 'extra.json',
      env: { USERSYNC_HEALTH_PORT: '1234', USERSYNC_INBOX: '/srv/hr/inbox' },
    });
    expect(config.watch.stableMs).toBe(200); // --config over local
    expect(config.watch.usePolling).toBe(true); // local kept where --config is silent
    expect(config.logs.level).toBe('debug');
    expect(config.health.port).toBe(1234); // environment over --config
    expect(config.folders.inbox).toBe('/srv/hr/inbox');
    expect(config.folders.archive).toBe(path.join(cwd, 'archive'));
  });

  it('maps every SPEC environment variable', () => {
    const cwd = workdir();
    const config = loadConfig({
      cwd,
      env: {
        USERSYNC_DATABASE_URL: 'mysql://u:p@db:3306/x',
        USERSYNC_INBOX: 'i',
        USERSYNC_PROCESSING: 'p',
        USERSYNC_ARCHIVE: 'a',
        USERSYNC_ERROR: 'e',
        USERSYNC_HELD: 'h',
        USERSYNC_LOG_DIR: 'l',
        USERSYNC_LOG_LEVEL: 'warn',
        USERSYNC_HEALTH_PORT: '0',
      },
    });
    expect(config.database.url).toBe('mysql://u:p@db:3306/x');
    expect(config.folders).toEqual({
      inbox: path.join(cwd, 'i'),
      processing: path.join(cwd, 'p'),
      archive: path.join(cwd, 'a'),
      error: path.join(cwd, 'e'),
      held: path.join(cwd, 'h'),
    });
    expect(config.logs.dir).toBe(path.join(cwd, 'l'));
    expect(config.logs.level).toBe('warn');
    expect(config.health.port).toBe(0);
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ cwd: workdir(), env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.watch)).toBe(true);
    expect(Object.isFrozen(config.catalog.roles)).toBe(true);
  });

  it('names the key path, the value and its layer when a value has the wrong type', () => {
    const error = configErrorOf(() => loadConfig({ cwd: workdir({ watch: { stableMs: 'soon' } }), env: {} }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('watch.stableMs: expected a number, got "soon" (from config/local.json)');
  });

  it('names the environment variable that holds a bad value', () => {
    const error = configErrorOf(() =>
      loadConfig({
        cwd: workdir(),
        env: { USERSYNC_HEALTH_PORT: 'soon', USERSYNC_LOG_LEVEL: 'loud', USERSYNC_INBOX: './in' },
      }),
    );
    expect(error.message).toContain(
      'health.port: expected a number, got "soon" (from environment variable USERSYNC_HEALTH_PORT)',
    );
    expect(error.message).toMatch(/logs\.level: .*"loud"\) \(from environment variable USERSYNC_LOG_LEVEL\)/);
    expect(error.message).not.toContain('USERSYNC_INBOX');
  });

  it('rejects values outside their range and enums', () => {
    const error = configErrorOf(() =>
      loadConfig({ cwd: workdir({ health: { port: 70000 }, import: { passwords: 'sometimes' } }), env: {} }),
    );
    expect(error.message).toMatch(/health\.port: .*70000/);
    expect(error.message).toMatch(/import\.passwords: .*"sometimes"/);
  });

  it('rejects a misspelt key instead of ignoring it', () => {
    const error = configErrorOf(() => loadConfig({ cwd: workdir({ watch: { stableMS: 10 } }), env: {} }));
    expect(error.message).toContain('watch.stableMS: unknown key');
  });

  it('reports a --config file that is missing or not JSON', () => {
    const cwd = workdir();
    expect(configErrorOf(() => loadConfig({ cwd, configFile: 'nope.json', env: {} })).code).toBe(
      'CONFIG_FILE_UNREADABLE',
    );
    writeFileSync(path.join(cwd, 'broken.json'), '{ "watch": ');
    const error = configErrorOf(() => loadConfig({ cwd, configFile: 'broken.json', env: {} }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toContain('broken.json');
  });

  it('never prints the database password when database.url is rejected', () => {
    const error = configErrorOf(() => loadConfig({ cwd: workdir({ database: { url: 42 } }), env: {} }));
    expect(error.message).toContain('database.url: expected a string, got 42');
    const secret = configErrorOf(() =>
      loadConfig({ cwd: workdir({ database: { url: 'mysql://app:hunter2secret@db/x', poolMax: 0 } }), env: {} }),
    );
    expect(secret.message).not.toContain('hunter2secret');
  });
});

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAuditLog } from '../../src/logging/audit-log.js';
import { closeLogger, createLogger } from '../../src/logging/logger.js';
import { fixtureDir } from '../fixtures/build.js';

describe('logging', () => {
  it('writes every line of a burst to the operational log before closeLogger resolves, without "write after end"', async () => {
    const dir = fixtureDir();
    const logger = createLogger({ dir, level: 'info', console: 'off' });
    const errors: unknown[] = [];
    logger.on('error', (error) => errors.push(error));
    for (let i = 0; i < 30_000; i++) logger.info('burst', { row: i });
    await closeLogger(logger);
    const lines = readFileSync(path.join(dir, 'usersync.log'), 'utf8').trim().split('\n');
    expect(errors).toEqual([]);
    expect(lines).toHaveLength(30_000);
    expect(JSON.parse(lines[29_999] ?? '{}')).toMatchObject({ message: 'burst', row: 29_999 });
  });

  it('appends audit events as JSON lines, in order, all on disk once closed', async () => {
    const dir = fixtureDir();
    const audit = openAuditLog({ dir });
    for (let i = 0; i < 30_000; i += 500)
      audit.appendLines(
        Array.from({ length: 500 }, (_, j) =>
          JSON.stringify({ action: 'user.created', row: i + j, changes: { name: { old: null, new: `N${i + j}` } } }),
        ),
      );
    await audit.close();
    const lines = readFileSync(path.join(dir, 'audit.log'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(30_000);
    expect(statSync(path.join(dir, 'audit.log')).mode & 0o077).toBe(0);
    expect(JSON.parse(lines[29_999] ?? '{}')).toMatchObject({ action: 'user.created', row: 29_999 });
  });

  it('keeps the stack of a logged error and creates owner-only files', async () => {
    const dir = fixtureDir();
    const logger = createLogger({ dir, level: 'info', console: 'off' });
    logger.error(new Error('boom'));
    await closeLogger(logger);
    const line = JSON.parse(readFileSync(path.join(dir, 'usersync.log'), 'utf8').trim()) as {
      message: string;
      stack: string;
    };
    expect(line.message).toBe('boom');
    expect(line.stack).toContain('logger.test.ts');
    expect(statSync(path.join(dir, 'usersync.log')).mode & 0o077).toBe(0);
  });
});

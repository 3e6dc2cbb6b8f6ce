import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closeLogger, createAuditLog, createLogger } from '../../src/logging/logger.js';
import { fixtureDir } from '../fixtures/build.js';

describe('logging', () => {
  it('writes every line of a burst before closeLogger resolves, without "write after end"', async () => {
    const dir = fixtureDir();
    const audit = createAuditLog({ dir, level: 'info', console: 'off' });
    const errors: unknown[] = [];
    audit.on('error', (error) => errors.push(error));
    for (let i = 0; i < 30_000; i++) audit.info('user.created', { at: 'now', importId: 1, row: i, username: `u${i}`, changes: { name: { old: null, new: `Name ${i}` } } });
    await closeLogger(audit);
    const lines = readFileSync(path.join(dir, 'audit.log'), 'utf8').trim().split('\n');
    expect(errors).toEqual([]);
    expect(lines).toHaveLength(30_000);
    expect(JSON.parse(lines[29_999] ?? '{}')).toMatchObject({ action: 'user.created', row: 29_999 });
  });

  it('keeps the stack of a logged error and creates owner-only files', async () => {
    const dir = fixtureDir();
    const logger = createLogger({ dir, level: 'info', console: 'off' });
    logger.error(new Error('boom'));
    await closeLogger(logger);
    const line = JSON.parse(readFileSync(path.join(dir, 'usersync.log'), 'utf8').trim()) as { message: string; stack: string };
    expect(line.message).toBe('boom');
    expect(line.stack).toContain('logger.test.ts');
    expect(statSync(path.join(dir, 'usersync.log')).mode & 0o077).toBe(0);
  });
});

/**
 * The audit log file when the disk refuses its writes (/dev/full answers every write with ENOSPC):
 * the failure is reported once, the log resumes in a fresh file once writes succeed again, and
 * close() rejects so that the command does not exit 0.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { openAuditLog } from '../../src/logging/audit-log.js';
import type { UsersyncError } from '../../src/errors.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

it.runIf(existsSync('/dev/full'))(
  'reports lost lines once, resumes when the disk takes writes again, and fails its close',
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'usersync-audit-full-'));
    const file = path.join(dir, 'audit.log');
    symlinkSync('/dev/full', file);
    const failures: UsersyncError[] = [];
    const log = openAuditLog({ dir }, (error) => failures.push(error));
    log.appendLines(['{"lost":1}']);
    await settle();
    log.appendLines(['{"lost":2}']); // finds the first failure: reported, then a fresh file (still /dev/full)
    await settle();
    log.appendLines(['{"lost":3}']); // the disk still refuses everything: not reported again
    await settle();
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ code: 'FS_IO_FAILED' });
    expect(failures[0]!.message).toContain(`Lines of the audit log ${file} could not be written (ENOSPC)`);
    rmSync(file); // the disk has room again
    log.appendLines(['{"kept":4}']);
    await expect(log.close()).rejects.toMatchObject({ code: 'FS_IO_FAILED' });
    expect(readFileSync(file, 'utf8')).toBe('{"kept":4}\n');
    rmSync(dir, { recursive: true, force: true });
  },
);

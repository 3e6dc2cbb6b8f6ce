/**
 * Our two speed-ups of exceljs' streaming writer: the empty-style cache (exceljs-style-cache.ts)
 * must give every cell the style it would have had, and the zip back-pressure wait must not hold
 * the event loop once the zip has drained (zip-backpressure.ts).
 */
import { EventEmitter, once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheEmptyStyleIds } from '../../src/xlsx/patches/exceljs-style-cache.js';
import { waitForZip } from '../../src/xlsx/patches/zip-backpressure.js';

cacheEmptyStyleIds();

describe('exceljs empty-style cache', () => {
  let dir = '';
  beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), 'usersync-styles-test-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps each cell type’s number format and every explicit style', async () => {
    const path = join(dir, 'styles.xlsx');
    const stream = createWriteStream(path);
    const closed = once(stream, 'close');
    const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream, useStyles: true, useSharedStrings: false });
    const sheet = workbook.addWorksheet('S');
    sheet.columns = [{ width: 10 }, { width: 10 }, { width: 10, style: { numFmt: '@' } }];
    const when = new Date(Date.UTC(2026, 10, 24));
    // Empty-style cells of each type, several times over, then styled ones after the cache is warm.
    for (let i = 0; i < 3; i++) sheet.addRow([i, when, `t${i}`]).commit();
    const bold = sheet.addRow(['bold', 1.5, 'x']);
    bold.getCell(1).font = { bold: true };
    bold.getCell(2).numFmt = '0.00';
    bold.commit();
    sheet.addRow([7, when, 'y']).commit();
    sheet.commit();
    await workbook.commit();
    await closed;

    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(path);
    const read = book.getWorksheet('S')!;
    for (const r of [1, 2, 3, 5]) {
      expect(read.getRow(r).getCell(1).numFmt).toBeUndefined(); // General
      expect(read.getRow(r).getCell(2).value).toBeInstanceOf(Date);
      expect(read.getRow(r).getCell(2).numFmt).toBe('mm-dd-yy');
      expect(read.getRow(r).getCell(3).numFmt).toBe('@');
    }
    expect(read.getRow(4).getCell(1).font?.bold).toBe(true);
    expect(read.getRow(4).getCell(2).numFmt).toBe('0.00');
    expect(read.getRow(5).getCell(1).font?.bold).toBeFalsy();
  });
});

describe('waitForZip', () => {
  it('returns on drain without leaving a timer that keeps the process alive', async () => {
    const target = Object.assign(new EventEmitter(), { _writableState: { length: 8 * 1024 * 1024 } });
    const worksheet = { _stream: { pipes: [target] } };
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const waiting = waitForZip(worksheet);
    await new Promise((resolve) => setImmediate(resolve));
    target._writableState.length = 0;
    target.emit('drain');
    await waiting;
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

import { describe, expect, it } from 'vitest';
import type { RawRow } from '../../src/domain/columns.js';
import { emptyCells } from '../../src/pipeline/read/row-sink.js';
import { decodeRows, encodeRows } from '../../src/xlsx/reader/worker-protocol.js';

describe('worker protocol: a batch as JSON text', () => {
  it('gives back the rows exactly: absent cells undefined (not null), errors, any text', () => {
    const sparse = emptyCells(); // holes, as the reader makes them
    sparse[1] = 'ann';
    const rows: RawRow[] = [
      { row: 2, cells: sparse },
      {
        row: 3,
        cells: [
          'Ann "Lee"\n',
          '',
          undefined,
          { error: '#N/A' },
          'José 東京 😀',
          '\u0000\u001f\\',
          'lone \ud800 surrogate',
        ],
      },
    ];
    const decoded = decodeRows(encodeRows(rows));
    expect(decoded).toStrictEqual([
      { row: 2, cells: Array.from(sparse) }, // holes read back as undefined, never null
      rows[1],
    ]);
    expect(decoded[0]?.cells.includes(null as never)).toBe(false);
  });
});

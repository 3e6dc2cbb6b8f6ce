/**
 * Finds the header row among a sheet's first rows (SPEC §1) and turns it into the column map the
 * data rows are read with. Shared by the xlsx worker and the CSV reader.
 */
import { fail } from '../../errors.js';
import { COLUMN_INDEX, TEMPLATE_HEADERS, type ColumnKey } from '../../domain/columns.js';
import {
  assertUsableHeader,
  isHeaderRow,
  matchHeaderRow,
  normaliseHeader,
  unknownColumnWarning,
  type HeaderLookup,
  type HeaderMatch,
} from '../../domain/headers.js';

/** The header row is searched for in spreadsheet rows 1 to 10. */
export const HEADER_SEARCH_ROWS = 10;

/** A found header row, ready for reading data rows. */
export interface FoundHeader {
  readonly headerRow: number;
  /** Template columns in file order. */
  readonly columns: ColumnKey[];
  /** Header texts in file order ('' for blank cells), up to the last non-blank one. */
  readonly headers: string[];
  /** Unknown-column warnings (none for the expected extra columns). */
  readonly warnings: string[];
  /** Pairs of (0-based file column, index in RawRow.cells), in file order. */
  readonly sourceColumns: Int32Array;
  readonly targetColumns: Int32Array;
}

/** A row that had template columns but no Username: remembered to explain a missing header. */
interface NearMiss {
  readonly where: string;
  readonly match: HeaderMatch;
}

/** Offers rows one by one; says when the header row is found. One instance per sheet or file. */
export class HeaderScan {
  private nearMiss: NearMiss | undefined;
  private readonly expected: ReadonlySet<string>;

  /**
   * `expected`: header texts of extra columns the file is known to carry (a report's Error
   * column), ignored without a warning; matched as loosely as template columns.
   */
  constructor(
    private readonly lookup: HeaderLookup,
    expected: readonly string[] = [],
  ) {
    this.expected = new Set(expected.map(normaliseHeader));
  }

  /**
   * Checks one row (texts by 0-based column). Returns the header when this row has a Username
   * column; throws FILE_DUPLICATE_COLUMN / FILE_NO_NAME_COLUMN when that header is unusable.
   */
  offer(rowNumber: number, texts: ReadonlyArray<string | undefined>, where: string): FoundHeader | undefined {
    const match = matchHeaderRow(texts, this.lookup);
    if (!isHeaderRow(match)) {
      if (
        match.columns.size >= 2 &&
        (this.nearMiss === undefined || match.columns.size > this.nearMiss.match.columns.size)
      ) {
        this.nearMiss = { where, match };
      }
      return undefined;
    }
    assertUsableHeader(match, where);
    return toFoundHeader(rowNumber, texts, match, this.expected);
  }

  /** The error for a file in which no header row was found. */
  noHeaderError(scope: string) {
    if (this.nearMiss !== undefined) {
      const names = [...this.nearMiss.match.columns.values()].map((k) => TEMPLATE_HEADERS[k]).join(', ');
      return fail('FILE_NO_USERNAME_COLUMN', {
        message: `The header (${this.nearMiss.where}) has ${names} but no Username column (Username or Usuário).`,
      });
    }
    return fail('FILE_NO_HEADER', {
      message: `No row among the first ${HEADER_SEARCH_ROWS} of ${scope} has a Username column, so no header row was found.`,
    });
  }
}

function toFoundHeader(
  headerRow: number,
  texts: ReadonlyArray<string | undefined>,
  match: HeaderMatch,
  expected: ReadonlySet<string>,
): FoundHeader {
  const entries = [...match.columns.entries()].sort((a, b) => a[0] - b[0]);
  let last = texts.length - 1;
  while (last >= 0 && (texts[last] ?? '') === '') last--;
  const headers: string[] = [];
  for (let i = 0; i <= last; i++) headers.push(texts[i] ?? '');
  return {
    headerRow,
    columns: entries.map(([, key]) => key),
    headers,
    warnings: match.unknown.filter((cell) => !expected.has(normaliseHeader(cell.text))).map(unknownColumnWarning),
    sourceColumns: Int32Array.from(entries.map(([index]) => index)),
    targetColumns: Int32Array.from(entries.map(([, key]) => COLUMN_INDEX[key])),
  };
}

/**
 * The ONE place a spreadsheet cell becomes text (SPEC §1 "Cell values as Excel users make them").
 * Pure: used by the xlsx worker (exceljs cells) and, through {@link cleanText}, by the CSV reader.
 */
import type { CellValue } from '../../domain/columns.js';
import { stripInvisible } from '../../domain/text-rules.js';

/** What {@link cellToText} needs of an exceljs cell: its value, and for formulas its result. */
export interface CellLike {
  readonly value: unknown;
  /**
   * exceljs' `cell.result`. Needed because `cell.value` drops a falsy cached result
   * (`_copyModel` skips 0, '' and false: PITFALLS §3.1).
   */
  readonly result?: unknown;
}

/** Error texts this module produces itself (spreadsheet errors keep their own, e.g. `#N/A`). */
export const CELL_ERRORS = {
  noResult: 'a formula without a saved result',
  errorResult: 'a formula whose result is an error',
  sharedString: 'a reference to a shared string the workbook does not contain',
  badNumber: 'a number that is not finite',
  badDate: 'an invalid date',
} as const;

const NO_BREAK_SPACE = /[\u00A0\u202F\u2007]/g;
const NOT_PLAIN_ASCII = /[^\x20-\x7E]/;
/** OOXML escapes characters XML cannot hold as `_xHHHH_` (ECMA-376 ST_Xstring), e.g. `_x000D_`. */
const OOXML_ESCAPE = /_x([0-9A-Fa-f]{4})_/g;

/**
 * Cleans a text the way every cell is cleaned: zero-width characters removed, non-breaking
 * spaces turned into spaces, trimmed, NFC-normalised. Plain printable ASCII takes a fast path.
 */
export function cleanText(text: string): string {
  if (!NOT_PLAIN_ASCII.test(text)) return text.trim();
  return stripInvisible(text).replace(NO_BREAK_SPACE, ' ').trim().normalize('NFC');
}

/**
 * Converts an exceljs cell (streaming reader, `styles: 'cache'`) to its text, or to
 * `{error}` when the cell can only fail its row (`#N/A`, a formula with no saved result).
 * Blank cells give ''.
 */
export function cellToText(cell: CellLike): CellValue {
  const value = cell.value;
  if (isFormula(value)) return formulaToText(value, cell.result);
  return valueToText(value);
}

function valueToText(value: unknown): CellValue {
  switch (typeof value) {
    case 'string':
      return cleanText(value.includes('_x') ? value.replace(OOXML_ESCAPE, unescapeOoxml) : value);
    case 'number':
      return numberToText(value);
    case 'boolean':
      return value ? 'TRUE' : 'FALSE';
    case 'bigint':
      return value.toString();
    case 'undefined':
      return '';
    case 'object':
      return objectToText(value);
    default:
      return '';
  }
}

function objectToText(value: object | null): CellValue {
  if (value === null) return '';
  if (value instanceof Date) return dateToText(value);
  const v = value as Record<string, unknown>;
  if (Array.isArray(v.richText)) {
    // Concatenate every run (a run's text may be missing in odd files).
    let text = '';
    for (const run of v.richText as Array<{ text?: unknown }>) if (typeof run?.text === 'string') text += run.text;
    return valueToText(text);
  }
  if (typeof v.error === 'string') return { error: v.error };
  if ('sharedString' in v) return { error: CELL_ERRORS.sharedString };
  if ('text' in v) {
    // {text, hyperlink}: the display text. The text may itself be rich text; a bare address may carry mailto:.
    const text = valueToText(v.text);
    return typeof text === 'string' ? stripMailto(text) : text;
  }
  return '';
}

function isFormula(value: unknown): value is Record<string, unknown> {
  // Shared-formula children arrive as {formula: '', result} (a "JSON" value in exceljs).
  return typeof value === 'object' && value !== null && ('formula' in value || 'sharedFormula' in value);
}

function formulaToText(value: Record<string, unknown>, cellResult: unknown): CellValue {
  const result = cellResult !== undefined ? cellResult : value.result;
  const formula = typeof value.formula === 'string' ? value.formula.trim().toUpperCase() : '';
  // LibreOffice saves booleans as TRUE()/FALSE(): TRUE() with result 1, FALSE() with no result (PITFALLS §3.1).
  if (formula === 'TRUE()') return 'TRUE';
  if (formula === 'FALSE()' && (result === undefined || result === 0 || result === false)) return 'FALSE';
  if (result === undefined || result === null) return { error: CELL_ERRORS.noResult };
  // The streaming reader parses an error result (t="e") with parseFloat, which gives NaN.
  if (typeof result === 'number' && Number.isNaN(result)) return { error: CELL_ERRORS.errorResult };
  if (typeof result === 'object' && 'error' in result) {
    const error = (result as { error: unknown }).error;
    return { error: typeof error === 'string' ? error : CELL_ERRORS.errorResult };
  }
  return valueToText(result);
}

/**
 * Numbers as the digits a person typed: integers never in exponent form and never with `.0`
 * (a phone 5511987654321 stays that); other numbers rounded to Excel's 15 significant digits so
 * binary noise (`0.30000000000000004`) disappears.
 */
export function numberToText(n: number): CellValue {
  if (!Number.isFinite(n)) return { error: CELL_ERRORS.badNumber };
  if (Number.isInteger(n)) {
    if (Object.is(n, -0)) return '0';
    // String() switches to exponent form at 1e21; BigInt keeps every (already rounded) digit.
    return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  }
  const rounded = Number(n.toPrecision(15));
  const text = String(rounded);
  if (!text.includes('e')) return text;
  // Very small or large non-integers: write them out without an exponent.
  return rounded
    .toFixed(Math.min(100, Math.max(0, 15 - Math.floor(Math.log10(Math.abs(rounded))))))
    .replace(/\.?0+$/, '');
}

/** A date as ISO 8601: `yyyy-mm-dd` at midnight UTC (exceljs gives dates in UTC), otherwise the full instant. */
export function dateToText(date: Date): CellValue {
  const time = date.getTime();
  if (Number.isNaN(time)) return { error: CELL_ERRORS.badDate };
  const iso = date.toISOString();
  if (time % 86_400_000 === 0) return iso.slice(0, 10);
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

function stripMailto(text: string): string {
  return /^mailto:/i.test(text) ? text.slice(7).trim() : text;
}

function unescapeOoxml(_match: string, hex: string): string {
  return String.fromCharCode(Number.parseInt(hex, 16));
}

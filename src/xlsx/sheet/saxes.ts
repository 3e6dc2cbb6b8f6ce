/**
 * saxes, the XML parser exceljs reads every part with, as exceljs itself resolves it: the sax fix
 * (exceljs-sax-fix.ts) and the shared-strings scanner's fallback (shared-strings.ts) parse with
 * the very same copy and see the same events and errors.
 */
import { requireFromExceljs } from '../exceljs-require.js';

/** The part of saxes' parser usersync uses. */
export interface SaxesParser {
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'opentag' | 'closetag', listener: (tag: { name: string }) => void): void;
  on(event: 'text' | 'cdata', listener: (text: string) => void): void;
  write(text: string): void;
  close(): void;
  /** Where the parser is (1-based line; column in UTF-16 code units since the line began). */
  readonly line: number;
  readonly column: number;
}

export const { SaxesParser } = requireFromExceljs('saxes') as { SaxesParser: new () => SaxesParser };

/**
 * Formula-injection guard for text that ends up in a spreadsheet cell.
 *
 * exceljs stores a string cell as text, so it never becomes a formula in the .xlsx itself
 * (PITFALLS §3.14); the risk is the next hop: a person copies the cell, edits it and presses
 * Enter, or saves the sheet as CSV. OWASP's CSV-injection advice is to prefix such text with a
 * single quote, which Excel and LibreOffice display as "this is text".
 */

/** Characters that make Excel, LibreOffice or Sheets treat a typed or CSV cell as a formula. */
const FORMULA_TRIGGER = /^[=+\-@\t\r]/;

/**
 * Returns `text` with a leading `'` when it starts with `=`, `+`, `-`, `@`, TAB or CR, and
 * unchanged otherwise. Apply to every string written to a report or template cell; numbers the
 * report writes itself (counts, row numbers) stay numbers and need no escaping.
 */
export function escapeCell(text: string): string {
  return FORMULA_TRIGGER.test(text) ? `'${text}` : text;
}

/**
 * The inverse of `escapeCell`, for the reader: a report's "Failed rows" sheet is meant to be
 * fixed and dropped back into the inbox, and a phone written as `'+55 11 …` must come back as
 * `+55 11 …`. Only a quote followed by a trigger character is removed.
 */
export function unescapeCell(text: string): string {
  return text.startsWith("'") && FORMULA_TRIGGER.test(text.slice(1)) ? text.slice(1) : text;
}

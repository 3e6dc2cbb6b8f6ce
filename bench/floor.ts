/**
 * The floor: exceljs' streaming reader alone reading every row of the file, nothing else —
 * what any importer built on exceljs must at least pay. Run as its own process, like an import.
 */
import ExcelJS from 'exceljs';

const file = process.argv[2];
if (!file) throw new Error('usage: floor.js FILE');
let rows = 0;
const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, {
  sharedStrings: 'cache',
  hyperlinks: 'ignore',
  styles: 'cache',
  worksheets: 'emit',
});
for await (const sheet of reader) {
  for await (const row of sheet) {
    rows += row.cellCount > 0 ? 1 : 0;
  }
}
process.stdout.write(`${rows}\n`);

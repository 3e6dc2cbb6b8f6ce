/**
 * exceljs 4.4.0's writers give every cell a fresh, usually empty, style object and look its style
 * id up by rendering the style to XML and hashing the text — for every cell. Writing a 100,000-row
 * report spent ~0.4 s of its ~1.6 s there (addStyleModel, _addStyle, the xf render; --cpu-prof).
 * An empty style's id depends only on the cell type (it picks the number format), so it is
 * remembered per styles collection after the first look-up; styled cells (headers, fills, the
 * text format of the Failed rows columns) still go through exceljs.
 *
 * StylesXform is a CommonJS class shared by every exceljs writer, so patching its prototype applies
 * wherever exceljs is loaded.
 *
 * Not a bug fix: it works around the per-cell style look-up of exceljs 4.4.0
 * (lib/xlsx/xform/style/styles-xform.js, addStyleModel; version in pinned.ts). No upstream issue.
 */
import { requireFromExceljs } from '../exceljs-require.js';

interface StylesXformLike {
  addStyleModel(model: object | null | undefined, cellType?: number): number;
}

/** The cached addStyleModel functions installed, so that a second call does not wrap one again. */
const cachedVersions = new WeakSet<object>();

/** Caches empty styles' ids in exceljs' StylesXform. Idempotent. */
export function cacheEmptyStyleIds(): void {
  const StylesXform = requireFromExceljs('exceljs/lib/xlsx/xform/style/styles-xform.js') as {
    prototype: StylesXformLike;
  };
  const addStyleModel = StylesXform.prototype.addStyleModel;
  if (cachedVersions.has(addStyleModel)) return;
  /** Style id of an empty style, by cell type, per styles collection (one per workbook). */
  const emptyStyleIds = new WeakMap<StylesXformLike, Map<number | undefined, number>>();
  const addStyleModelCached: StylesXformLike['addStyleModel'] = function (this: StylesXformLike, model, cellType) {
    if (!model || !isEmpty(model)) return addStyleModel.call(this, model, cellType);
    let ids = emptyStyleIds.get(this);
    if (ids === undefined) emptyStyleIds.set(this, (ids = new Map()));
    let id = ids.get(cellType);
    if (id === undefined) ids.set(cellType, (id = addStyleModel.call(this, model, cellType)));
    return id;
  };
  cachedVersions.add(addStyleModelCached);
  StylesXform.prototype.addStyleModel = addStyleModelCached;
}

function isEmpty(model: object): boolean {
  for (const _key in model) return false;
  return true;
}

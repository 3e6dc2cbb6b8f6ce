/**
 * pageFor() (bench/scim-provider/paging.ts) hands SCIMMY's ListResponse what makes it report the
 * requested page, though ListResponse cuts again by startIndex. Checked against ListResponse itself
 * for every startIndex and count over small totals, so the edge cases (startIndex within the first
 * page, last pages, past the end, count 0) are all covered.
 */
import SCIMMY from 'scimmy';
import { describe, expect, it } from 'vitest';
import { DEFAULT_COUNT, pageFor, type PagedRequest } from '../../bench/scim-provider/paging.js';

function listed(total: number, constraints: PagedRequest['constraints'], maxResults = 1000) {
  const all = Array.from({ length: total }, (_, i) => ({ n: i + 1 }));
  const request: PagedRequest = { constraints };
  const given = pageFor(request, all, maxResults);
  // ListResponse is typed for Schema instances; it only counts, slices and (without sortBy) never reads them.
  const list = new SCIMMY.Messages.ListResponse(given as never[], request.constraints);
  return { list, given, numbers: () => (list.Resources as unknown as Array<{ n: number }>).map((r) => r.n) };
}

describe('pageFor', () => {
  it('makes ListResponse return exactly items startIndex..startIndex+count-1 for every combination', () => {
    for (let total = 0; total <= 12; total++)
      for (let startIndex = 1; startIndex <= total + 2; startIndex++)
        for (let count = 0; count <= total + 1; count++) {
          const { list, numbers } = listed(total, { startIndex, count });
          const expected = Array.from({ length: total }, (_, i) => i + 1).slice(startIndex - 1, startIndex - 1 + count);
          const label = `total ${total}, startIndex ${startIndex}, count ${count}`;
          expect(numbers(), label).toEqual(expected);
          expect(list.totalResults, label).toBe(total);
          expect(list.startIndex, label).toBe(startIndex);
          expect(list.itemsPerPage, label).toBe(expected.length);
        }
  });

  it('hands SCIMMY at most about one page, so a page costs the same at the end of 100,000 users', () => {
    const { given, list } = listed(100_000, { startIndex: 99_901, count: 100 });
    expect(given).toHaveLength(100);
    expect(list.Resources).toHaveLength(100);
  });

  it('uses DEFAULT_COUNT without a count, caps count at maxResults and drops sortBy', () => {
    expect(listed(500, undefined).list.Resources).toHaveLength(DEFAULT_COUNT);
    expect(listed(500, { count: 400 }, 250).list.Resources).toHaveLength(250);
    const request: PagedRequest = { constraints: { sortBy: 'userName', count: 2 } };
    pageFor(request, [1, 2, 3], 1000);
    expect(request.constraints).not.toHaveProperty('sortBy');
  });
});

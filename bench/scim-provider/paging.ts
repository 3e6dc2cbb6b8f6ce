/**
 * Paging for list requests (RFC 7644 §3.4.2.4) done in the egress handler, so GET /Users?count=100
 * costs 100 SCIMMY coercions (~0.2 ms each) and not one per stored user: SCIMMY's read() turns
 * every resource egress returns into a Schemas.User before its ListResponse cuts the page.
 *
 * SCIMMY 1.3.5's ListResponse still cuts what it is given: it drops the first startIndex-1
 * resources when it holds at least startIndex of them, unless totalResults equals
 * `resources + startIndex - 1` (its sign of an already-cut last page). Handing it only the page is
 * right whenever the page is shorter than startIndex or is the last page. Otherwise (startIndex ≤
 * page length, e.g. startIndex 50 with count 100) it gets the prefix as well, so its own cut lands
 * on the page; the prefix is then under `count` resources, so the cost stays per page.
 */

/** The slice of SCIMMY's Resource instance that paging reads and writes. */
export interface PagedRequest {
  constraints?: { startIndex?: number; count?: number; sortBy?: string; sortOrder?: string; totalResults?: number };
}

/** Page size when the client sends no count (SCIMMY's own default is 20). */
export const DEFAULT_COUNT = 100;

/**
 * The resources to hand back from egress for this request's page, and the constraints SCIMMY's
 * ListResponse needs to report startIndex, itemsPerPage and totalResults correctly.
 * `count` is capped at `maxResults`, as /ServiceProviderConfig advertises. sortBy is dropped:
 * the provider advertises sort unsupported, and SCIMMY would only sort within the page.
 */
export function pageFor<T>(request: PagedRequest, all: T[], maxResults: number): T[] {
  const startIndex = Math.max(1, request.constraints?.startIndex ?? 1);
  const count = Math.min(Math.max(0, request.constraints?.count ?? DEFAULT_COUNT), maxResults);
  const total = all.length;
  const page = all.slice(startIndex - 1, startIndex - 1 + count);
  // ListResponse reports `count` as itemsPerPage, which RFC 7644 §3.4.2 defines as the number
  // returned: give it the page's real size (it also trims to it).
  request.constraints = { startIndex, count: page.length, totalResults: total };

  const isLastPage = total === page.length + startIndex - 1;
  if (startIndex === 1 || page.length < startIndex || isLastPage) return page;

  // ListResponse will cut from startIndex-1: give it the prefix. If prefix + page happened to look
  // like a last page to it (total === length + startIndex - 1), add one more resource (there is
  // one: this is not the last page); its count limit trims it off again.
  let upTo = startIndex - 1 + page.length;
  if (total === upTo + startIndex - 1) upTo += 1;
  return all.slice(0, upTo);
}

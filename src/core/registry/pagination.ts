import { err, ok, type Result } from './errors.js';
import { DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, MAX_SCAN_PER_CALL } from './limits.js';

export interface PageRequest {
  /** Continue after this key (the `next` of the previous page). */
  after?: string;
  limit?: number;
}

export interface Page<T> {
  items: T[];
  /** Present when more entries may follow: pass it as `after`. */
  next?: string;
}

export function checkPage(page: PageRequest): Result<number> {
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    return err({ InvalidArgument: { field: 'limit', reason: `must be between 1 and ${MAX_PAGE_SIZE}` } });
  }
  if (page.after !== undefined && page.after.length > MAX_CURSOR_LENGTH) {
    return err({ InvalidArgument: { field: 'after', reason: `cursor longer than ${MAX_CURSOR_LENGTH} characters` } });
  }
  return ok(limit);
}

/**
 * One page of matching entries. The scan is bounded: after MAX_SCAN_PER_CALL entries the page ends early with a
 * cursor, so a rare filter over a large map never exceeds the instruction limit.
 */
export function pageOf<V>(entries: Iterable<[string, V]>, page: PageRequest, matches: (value: V) => boolean | 'stop'): Result<Page<V>> {
  const checked = checkPage(page);
  if ('Err' in checked) return checked;
  const limit = checked.Ok;
  const items: V[] = [];
  let scanned = 0;
  for (const [key, value] of entries) {
    if (page.after !== undefined && key <= page.after) continue;
    scanned++;
    const verdict = matches(value);
    if (verdict === 'stop') return ok({ items });
    if (verdict) items.push(value);
    if (items.length === limit || scanned >= MAX_SCAN_PER_CALL) return ok({ items, next: key });
  }
  return ok({ items });
}

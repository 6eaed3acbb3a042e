// The state of a filtered, sorted, cursor-paginated, multi-select list (token lists, audit).
// Pure: every function returns a new state.
//
// Pagination keeps a stack of cursors: cursors[i] is the cursor that fetched page i (page 0's
// is null). Next pushes the answer's next_cursor; Previous pops. Changing filters or sort goes
// back to page 0 and clears the selection (the selected rows may no longer be visible).

export interface ListFilters {
  q: string;
  user_id: string;
  department_id: string;
  user_type_id: string;
  status: '' | 'active' | 'expired';
}

export interface ListState {
  filters: ListFilters;
  /** A sort key such as "-created_at" (descending) or "name" (ascending). */
  sort: string;
  cursors: (string | null)[];
  selected: ReadonlySet<string>;
}

export const EMPTY_FILTERS: ListFilters = {
  q: '',
  user_id: '',
  department_id: '',
  user_type_id: '',
  status: '',
};

export function initialListState(sort = '-created_at'): ListState {
  return { filters: { ...EMPTY_FILTERS }, sort, cursors: [null], selected: new Set() };
}

export function currentCursor(s: ListState): string | null {
  return s.cursors[s.cursors.length - 1] ?? null;
}

export function pageNumber(s: ListState): number {
  return s.cursors.length;
}

export function hasPrevious(s: ListState): boolean {
  return s.cursors.length > 1;
}

export function setFilter<K extends keyof ListFilters>(
  s: ListState,
  key: K,
  value: ListFilters[K],
): ListState {
  if (s.filters[key] === value) return s;
  return { ...s, filters: { ...s.filters, [key]: value }, cursors: [null], selected: new Set() };
}

export function clearFilters(s: ListState): ListState {
  return { ...s, filters: { ...EMPTY_FILTERS }, cursors: [null], selected: new Set() };
}

export function hasFilters(s: ListState): boolean {
  const f = s.filters;
  return !!(f.q || f.user_id || f.department_id || f.user_type_id || f.status);
}

/** The column a sort key sorts by ("-name" → "name"). */
export function sortColumn(sort: string): string {
  return sort.startsWith('-') ? sort.slice(1) : sort;
}

export function sortDirection(sort: string): 'ascending' | 'descending' {
  return sort.startsWith('-') ? 'descending' : 'ascending';
}

/**
 * Clicking a column header: the same column flips direction; a new column starts ascending
 * for names and descending for dates (newest first).
 */
export function toggleSort(s: ListState, column: string, dateColumn = false): ListState {
  let sort: string;
  if (sortColumn(s.sort) === column) sort = s.sort.startsWith('-') ? column : `-${column}`;
  else sort = dateColumn ? `-${column}` : column;
  return { ...s, sort, cursors: [null], selected: new Set() };
}

export function nextPage(s: ListState, nextCursor: string | null): ListState {
  if (!nextCursor) return s;
  return { ...s, cursors: [...s.cursors, nextCursor], selected: new Set() };
}

export function previousPage(s: ListState): ListState {
  if (s.cursors.length <= 1) return s;
  return { ...s, cursors: s.cursors.slice(0, -1), selected: new Set() };
}

export function toggleSelected(s: ListState, id: string): ListState {
  const selected = new Set(s.selected);
  if (selected.has(id)) selected.delete(id);
  else selected.add(id);
  return { ...s, selected };
}

/** Select-all over the visible rows: selects them all unless all are selected already. */
export function toggleAll(s: ListState, visibleIds: string[]): ListState {
  const all = visibleIds.length > 0 && visibleIds.every((id) => s.selected.has(id));
  return { ...s, selected: all ? new Set() : new Set(visibleIds) };
}

export type AllState = 'none' | 'some' | 'all';

export function allState(s: ListState, visibleIds: string[]): AllState {
  const n = visibleIds.filter((id) => s.selected.has(id)).length;
  if (n === 0) return 'none';
  return n === visibleIds.length ? 'all' : 'some';
}

/** Drops selected ids that are no longer visible (after a reload). */
export function keepVisible(s: ListState, visibleIds: string[]): ListState {
  const visible = new Set(visibleIds);
  const selected = new Set([...s.selected].filter((id) => visible.has(id)));
  return selected.size === s.selected.size ? s : { ...s, selected };
}

/** After deleting rows: when the page became empty, go back one page. */
export function afterDelete(s: ListState, remainingOnPage: number): ListState {
  const cleared = { ...s, selected: new Set<string>() };
  return remainingOnPage === 0 ? previousPage(cleared) : cleared;
}

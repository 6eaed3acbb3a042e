import { describe, expect, it } from 'vitest';
import * as L from './listState';

describe('list state', () => {
  it('pages forward and back with a stack of cursors', () => {
    let s = L.initialListState();
    expect(L.currentCursor(s)).toBeNull();
    expect(L.hasPrevious(s)).toBe(false);
    s = L.nextPage(s, 'c2');
    s = L.nextPage(s, 'c3');
    expect(L.currentCursor(s)).toBe('c3');
    expect(L.pageNumber(s)).toBe(3);
    s = L.previousPage(s);
    expect(L.currentCursor(s)).toBe('c2');
    s = L.previousPage(L.previousPage(s));
    expect(L.currentCursor(s)).toBeNull();
    expect(L.nextPage(s, null)).toBe(s);
  });

  it('returns to the first page and clears the selection when filters or sort change', () => {
    let s = L.toggleSelected(L.nextPage(L.initialListState(), 'c2'), 'a');
    s = L.setFilter(s, 'q', 'ci');
    expect(s.cursors).toEqual([null]);
    expect(s.selected.size).toBe(0);
    expect(L.hasFilters(s)).toBe(true);
    expect(L.setFilter(s, 'q', 'ci')).toBe(s);
    s = L.clearFilters(s);
    expect(L.hasFilters(s)).toBe(false);
  });

  it('toggles sort direction; dates start newest first, names A to Z', () => {
    let s = L.initialListState('-created_at');
    s = L.toggleSort(s, 'created_at', true);
    expect(s.sort).toBe('created_at');
    s = L.toggleSort(s, 'name');
    expect(s.sort).toBe('name');
    expect(L.sortDirection(s.sort)).toBe('ascending');
    s = L.toggleSort(s, 'name');
    expect(s.sort).toBe('-name');
    s = L.toggleSort(s, 'expires_at', true);
    expect(s.sort).toBe('-expires_at');
    expect(L.sortColumn(s.sort)).toBe('expires_at');
  });

  it('selects all visible rows, then none', () => {
    let s = L.initialListState();
    const ids = ['a', 'b', 'c'];
    expect(L.allState(s, ids)).toBe('none');
    s = L.toggleSelected(s, 'b');
    expect(L.allState(s, ids)).toBe('some');
    s = L.toggleAll(s, ids);
    expect(L.allState(s, ids)).toBe('all');
    s = L.toggleAll(s, ids);
    expect(L.allState(s, ids)).toBe('none');
    expect(L.allState(s, [])).toBe('none');
  });

  it('drops selections no longer visible and steps back after emptying a page', () => {
    let s = L.toggleSelected(L.toggleSelected(L.initialListState(), 'a'), 'b');
    s = L.keepVisible(s, ['b', 'c']);
    expect([...s.selected]).toEqual(['b']);
    s = L.nextPage(s, 'c2');
    expect(L.afterDelete(s, 0).cursors).toEqual([null]);
    expect(L.afterDelete(s, 3).cursors).toEqual([null, 'c2']);
  });
});

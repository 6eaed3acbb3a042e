// Administrator/Tokens: the two lists of the guide, "API Tokens" and "Mobile Users Logged In".
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../api';
import type { Page, Token, User } from '../api';
import { Banner, Checkbox, EmptyState, PageHeader, Pager, SortHeader, Spinner } from '../components/ui';
import { formatDateTime, formatDay, formatLastUsed } from '../format';
import * as L from '../listState';
import type { ListFilters, ListState } from '../listState';
import { href, navigate } from '../router';
import { departmentTree, useSession } from '../session';
import { DeleteTokensDialog, ExpiryValue, kindNoun, tokenLabel } from './tokenParts';

const PAGE_SIZE = 25;
const DATE_COLUMNS = new Set(['created_at', 'expires_at', 'last_used_at']);

// The list state of each tab survives visits to a detail page and back.
const saved = new Map<'api' | 'mobile', ListState>();

/** Forgets the remembered list state (on sign-out, so the next user starts afresh). */
export function resetTokenLists(): void {
  saved.clear();
}

export function TokensPage({ kind }: { kind: 'api' | 'mobile' }) {
  const s = useSession();
  const [state, setStateRaw] = useState<ListState>(() => saved.get(kind) ?? L.initialListState());
  const setState = (f: (st: ListState) => ListState) =>
    setStateRaw((st) => {
      const next = f(st);
      saved.set(kind, next);
      return next;
    });
  const [page, setPage] = useState<Page<Token> | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [users, setUsers] = useState<User[] | null>(null);
  const [qInput, setQInput] = useState(state.filters.q);
  const [deleting, setDeleting] = useState<Token[] | null>(null);
  const [deleteBusy, setDeleteBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const now = useMemo(() => new Date(), [page]);
  const canWrite = s.can('tokens:write');

  // Debounced search.
  useEffect(() => {
    const t = window.setTimeout(() => setState((st) => L.setFilter(st, 'q', qInput.trim())), 250);
    return () => window.clearTimeout(t);
  }, [qInput]);

  useEffect(() => {
    if (!s.can('users:read')) return setUsers([]);
    let live = true;
    s.api
      .listUsers({ limit: 200 })
      .then((p) => live && setUsers(p.items))
      .catch(() => live && setUsers([]));
    return () => {
      live = false;
    };
  }, []);

  const cursor = L.currentCursor(state);
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    s.api
      .listTokens({
        kind,
        ...state.filters,
        sort: state.sort,
        limit: PAGE_SIZE,
        cursor,
      })
      .then((p) => {
        if (!live) return;
        setPage(p);
        setLoading(false);
        setState((st) => L.keepVisible(st, p.items.map((t) => t.id)));
      })
      .catch((err) => {
        if (!live) return;
        setLoading(false);
        setError(errorMessage(err));
      });
    return () => {
      live = false;
    };
  }, [kind, state.filters, state.sort, cursor, reload]);

  const items = page?.items ?? [];
  const ids = items.map((t) => t.id);
  const all = L.allState(state, ids);
  const selectedTokens = items.filter((t) => state.selected.has(t.id));

  const confirmDelete = async () => {
    if (!deleting) return;
    setDeleteBusy(true);
    setDeleteError(null);
    try {
      let deletedCount: number;
      let missing = 0;
      if (deleting.length === 1) {
        await s.api.deleteToken(deleting[0].id);
        deletedCount = 1;
      } else {
        const r = await s.api.deleteTokens(deleting.map((t) => t.id));
        deletedCount = r.deleted.length;
        missing = r.not_found.length;
      }
      const gone = new Set(deleting.map((t) => t.id));
      const remaining = items.filter((t) => !gone.has(t.id)).length;
      setDeleting(null);
      setState((st) => L.afterDelete(st, remaining));
      setReload((r) => r + 1);
      s.notify('success', `Deleted ${kindNoun(kind, deletedCount)}.`);
      if (missing) s.notify('info', `${kindNoun(kind, missing)} had already been deleted.`);
    } catch (err) {
      setDeleteError(errorMessage(err));
    } finally {
      setDeleteBusy(false);
    }
  };

  const setFilter = <K extends keyof ListFilters>(k: K, v: ListFilters[K]) =>
    setState((st) => L.setFilter(st, k, v));
  const onSort = (column: string) => setState((st) => L.toggleSort(st, column, DATE_COLUMNS.has(column)));
  const filtered = L.hasFilters(state);
  const title = kind === 'api' ? 'API Tokens' : 'Mobile Users Logged In';

  return (
    <div class="page">
      <PageHeader
        title="Tokens"
        description={
          kind === 'api'
            ? 'Tokens utilized for integrating with the system using external applications or code.'
            : 'Mobile Application tokens: the users of the Mobile App. Revoke access if necessary.'
        }
        actions={
          kind === 'api' && canWrite ? (
            <a class="button button--primary" href={href({ page: 'create-token' })}>
              <span class="icon icon--plus" aria-hidden="true" />
              Create API Token
            </a>
          ) : undefined
        }
      />
      <div class="tabs" role="tablist" aria-label="Token type">
        <a
          role="tab"
          class={`tabs__tab${kind === 'api' ? ' tabs__tab--current' : ''}`}
          aria-selected={kind === 'api' ? 'true' : 'false'}
          href="#/tokens/api"
        >
          API Tokens
        </a>
        <a
          role="tab"
          class={`tabs__tab${kind === 'mobile' ? ' tabs__tab--current' : ''}`}
          aria-selected={kind === 'mobile' ? 'true' : 'false'}
          href="#/tokens/mobile"
        >
          Mobile Users Logged In
        </a>
      </div>

      <section class="panel" role="tabpanel" aria-label={title}>
        <div class="toolbar">
          <div class="toolbar__search">
            <label class="visually-hidden" for={`search-${kind}`}>
              Search
            </label>
            <input
              id={`search-${kind}`}
              class="input input--search"
              type="search"
              placeholder={kind === 'api' ? 'Search by token name, user or email' : 'Search by user, email or device'}
              value={qInput}
              onInput={(e) => setQInput(e.currentTarget.value)}
            />
          </div>
          <div class="toolbar__filters">
            <FilterSelect
              label="User"
              value={state.filters.user_id}
              onChange={(v) => setFilter('user_id', v)}
              options={(users ?? []).map((u) => ({ value: u.id, label: u.display_name ? `${u.display_name} (${u.username})` : u.username }))}
              all="All users"
            />
            <FilterSelect
              label="Department"
              value={state.filters.department_id}
              onChange={(v) => setFilter('department_id', v)}
              options={departmentTree(s.departments ?? []).map(({ dept, depth }) => ({
                value: dept.id,
                label: `${'\u2003'.repeat(depth)}${dept.name}`,
              }))}
              all="All departments"
            />
            <FilterSelect
              label="User Type"
              value={state.filters.user_type_id}
              onChange={(v) => setFilter('user_type_id', v)}
              options={(s.userTypes ?? []).map((t) => ({ value: t.id, label: t.name }))}
              all="All user types"
            />
            <FilterSelect
              label="Status"
              value={state.filters.status}
              onChange={(v) => setFilter('status', v as ListFilters['status'])}
              options={[
                { value: 'active', label: 'Active' },
                { value: 'expired', label: 'Expired' },
              ]}
              all="Any status"
            />
            {filtered && (
              <button
                type="button"
                class="button button--quiet"
                onClick={() => {
                  setQInput('');
                  setState(L.clearFilters);
                }}
              >
                Clear filters
              </button>
            )}
          </div>
        </div>

        {canWrite && (
          <div class={`selection-bar${state.selected.size ? ' selection-bar--active' : ''}`}>
            <span class="selection-bar__count" aria-live="polite">
              {state.selected.size ? `${state.selected.size} selected` : 'Select rows to delete several at once'}
            </span>
            <button
              type="button"
              class="button button--danger"
              disabled={state.selected.size === 0}
              onClick={() => {
                setDeleteError(null);
                setDeleting(selectedTokens);
              }}
            >
              <span class="icon icon--trash" aria-hidden="true" />
              Delete{state.selected.size ? ` (${state.selected.size})` : ''}
            </button>
          </div>
        )}

        {error && (
          <Banner tone="error">
            {error}{' '}
            <button type="button" class="link-button" onClick={() => setReload((r) => r + 1)}>
              Try again
            </button>
          </Banner>
        )}

        {page === null && loading ? (
          <Spinner label={`Loading ${title}…`} />
        ) : items.length === 0 && !loading && !error ? (
          filtered ? (
            <EmptyState title="No tokens match your search">
              Try other words or clear the filters.
            </EmptyState>
          ) : kind === 'api' ? (
            <EmptyState
              title="No API tokens yet"
              action={
                canWrite && (
                  <a class="button button--primary" href={href({ page: 'create-token' })}>
                    Create API Token
                  </a>
                )
              }
            >
              API tokens let external applications call the REST API on behalf of a user.
            </EmptyState>
          ) : (
            <EmptyState title="No mobile users are logged in">
              When someone signs in to the mobile app, their session appears here.
            </EmptyState>
          )
        ) : (
          <div class={`table-wrap${loading ? ' table-wrap--loading' : ''}`} aria-busy={loading ? 'true' : 'false'}>
            <table class="table">
              <caption class="visually-hidden">{title}</caption>
              <thead>
                <tr>
                  {canWrite && (
                    <th scope="col" class="col-check">
                      <Checkbox
                        label={`Select all ${kind === 'api' ? 'API tokens' : 'mobile users'} on this page`}
                        checked={all === 'all'}
                        indeterminate={all === 'some'}
                        onChange={() => setState((st) => L.toggleAll(st, ids))}
                      />
                    </th>
                  )}
                  {kind === 'api' ? (
                    <>
                      <SortHeader label="Token Name" column="name" sort={state.sort} onSort={onSort} />
                      <SortHeader label="Associated User" column="user" sort={state.sort} onSort={onSort} />
                      <SortHeader label="Department" column="department" sort={state.sort} onSort={onSort} />
                      <SortHeader label="User Type" column="user_type" sort={state.sort} onSort={onSort} />
                      <SortHeader label="Expiry Date" column="expires_at" sort={state.sort} onSort={onSort} />
                      <SortHeader label="Last Used" column="last_used_at" sort={state.sort} onSort={onSort} />
                      <SortHeader label="Created" column="created_at" sort={state.sort} onSort={onSort} />
                    </>
                  ) : (
                    <>
                      <SortHeader label="User Name" column="user" sort={state.sort} onSort={onSort} />
                      <th scope="col">Email</th>
                      <SortHeader label="Department" column="department" sort={state.sort} onSort={onSort} />
                      <SortHeader label="User Type" column="user_type" sort={state.sort} onSort={onSort} />
                      <SortHeader label="Last Active" column="last_used_at" sort={state.sort} onSort={onSort} />
                      <SortHeader label="Expiry Date" column="expires_at" sort={state.sort} onSort={onSort} />
                    </>
                  )}
                  {canWrite && (
                    <th scope="col" class="col-actions">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {items.map((t) => (
                  <TokenRow
                    key={t.id}
                    token={t}
                    now={now}
                    canWrite={canWrite}
                    selected={state.selected.has(t.id)}
                    onToggle={() => setState((st) => L.toggleSelected(st, t.id))}
                    onDelete={() => {
                      setDeleteError(null);
                      setDeleting([t]);
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}

        <Pager
          page={L.pageNumber(state)}
          hasPrevious={L.hasPrevious(state)}
          hasNext={!!page?.next_cursor}
          busy={loading}
          onPrevious={() => setState(L.previousPage)}
          onNext={() => setState((st) => L.nextPage(st, page?.next_cursor ?? null))}
        />
      </section>

      {deleting && (
        <DeleteTokensDialog
          kind={kind}
          names={deleting.map(tokenLabel)}
          busy={deleteBusy}
          error={deleteError}
          onConfirm={confirmDelete}
          onClose={() => setDeleting(null)}
        />
      )}
    </div>
  );
}

function FilterSelect({
  label,
  value,
  onChange,
  options,
  all,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: { value: string; label: string }[];
  all: string;
}) {
  const id = useRef(`filter-${label.toLowerCase().replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2, 7)}`).current;
  return (
    <div class="filter">
      <label class="filter__label" for={id}>
        {label}
      </label>
      <select id={id} class="select select--compact" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{all}</option>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

function TokenRow({
  token: t,
  now,
  canWrite,
  selected,
  onToggle,
  onDelete,
}: {
  token: Token;
  now: Date;
  canWrite: boolean;
  selected: boolean;
  onToggle: () => void;
  onDelete: () => void;
}) {
  const label = tokenLabel(t);
  const detail = href({ page: 'token', kind: t.kind, id: t.id });
  const expired = t.status === 'expired' || Date.parse(t.expires_at) <= now.getTime();
  // The whole row opens the detail; the name link is the keyboard path.
  const onRowClick = (e: MouseEvent) => {
    const target = e.target as HTMLElement;
    if (target.closest('a, button, input, label, select')) return;
    if (window.getSelection()?.toString()) return;
    navigate(detail);
  };
  return (
    <tr
      class={`row-link${selected ? ' is-selected' : ''}${expired ? ' is-expired' : ''}`}
      onClick={onRowClick}
    >
      {canWrite && (
        <td class="col-check">
          <Checkbox label={`Select ${label}`} checked={selected} onChange={onToggle} />
        </td>
      )}
      {t.kind === 'api' ? (
        <>
          <td class="cell-primary">
            <a href={detail} class="row-link__name">
              {t.name}
            </a>
            {t.description && <span class="cell-sub">{t.description}</span>}
          </td>
          <td>
            <span class="cell-main">{t.user.display_name || t.user.username}</span>
            {t.user.display_name && <span class="cell-sub">{t.user.username}</span>}
          </td>
          <td>{t.department.name}</td>
          <td>{t.user_type.name}</td>
          <td class="nowrap">
            <ExpiryValue token={t} now={now} />
          </td>
          <td class={`nowrap${t.last_used_at ? '' : ' muted'}`} title={t.last_used_at ? formatDateTime(t.last_used_at) : undefined}>
            {t.last_used_at ? formatDay(t.last_used_at) : formatLastUsed(null)}
          </td>
          <td class="nowrap" title={formatDateTime(t.created_at)}>
            {formatDay(t.created_at)}
          </td>
        </>
      ) : (
        <>
          <td class="cell-primary">
            <a href={detail} class="row-link__name">
              {t.user.username}
            </a>
            {t.device_name && <span class="cell-sub">{t.device_name}</span>}
          </td>
          <td>{t.user.email}</td>
          <td>{t.department.name}</td>
          <td>{t.user_type.name}</td>
          <td class={`nowrap${t.last_active_at ? '' : ' muted'}`}>{formatLastUsed(t.last_active_at)}</td>
          <td class="nowrap">
            <ExpiryValue token={t} now={now} />
          </td>
        </>
      )}
      {canWrite && (
        <td class="col-actions">
          <button
            type="button"
            class="icon-button icon-button--danger"
            aria-label={`Delete ${label}`}
            title="Delete"
            onClick={onDelete}
          >
            <span class="icon icon--trash" aria-hidden="true" />
          </button>
        </td>
      )}
    </tr>
  );
}

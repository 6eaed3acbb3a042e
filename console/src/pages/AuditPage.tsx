// Audit: who did what, newest first, filterable by action and actor.
import { useEffect, useState } from 'preact/hooks';
import { auditFields, errorMessage } from '../api';
import type { AuditEvent, Page, User } from '../api';
import { Banner, EmptyState, PageHeader, Pager, Spinner } from '../components/ui';
import { formatDateTime } from '../format';
import { useSession } from '../session';

export const KNOWN_ACTIONS = [
  'auth.login',
  'auth.login_failed',
  'auth.logout',
  'token.create',
  'token.reveal',
  'token.delete',
  'mobile.login',
  'mobile.logout',
  'user.create',
  'user.update',
  'user.delete',
  'department.create',
  'department.update',
  'department.delete',
  'user_type.create',
  'user_type.update',
  'user_type.delete',
];

export function AuditPage() {
  const s = useSession();
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page<AuditEvent> | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [users, setUsers] = useState<User[]>([]);

  useEffect(() => {
    if (!s.can('users:read')) return;
    s.api
      .listUsers({ limit: 200 })
      .then((p) => setUsers(p.items))
      .catch(() => setUsers([]));
  }, []);

  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let live = true;
    setLoading(true);
    s.api
      .listAudit({ action, actor, limit: 50, cursor })
      .then((p) => {
        if (!live) return;
        setPage(p);
        setError(null);
        setLoading(false);
      })
      .catch((err) => {
        if (!live) return;
        setError(errorMessage(err));
        setLoading(false);
      });
    return () => {
      live = false;
    };
  }, [action, actor, cursor]);

  const items = page?.items ?? [];
  return (
    <div class="page">
      <PageHeader title="Audit" description="Every change, sign-in and token reveal, newest first. Secrets are never recorded." />
      <section class="panel">
        <div class="toolbar">
          <div class="toolbar__filters">
            <div class="filter">
              <label class="filter__label" for="audit-action">
                Action
              </label>
              <select
                id="audit-action"
                class="select select--compact"
                value={action}
                onChange={(e) => {
                  setAction(e.currentTarget.value);
                  setCursors([null]);
                }}
              >
                <option value="">All actions</option>
                {KNOWN_ACTIONS.map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
            </div>
            <div class="filter">
              <label class="filter__label" for="audit-actor">
                Actor
              </label>
              <select
                id="audit-actor"
                class="select select--compact"
                value={actor}
                onChange={(e) => {
                  setActor(e.currentTarget.value);
                  setCursors([null]);
                }}
              >
                <option value="">Anyone</option>
                {users.map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.username}
                  </option>
                ))}
              </select>
            </div>
          </div>
        </div>
        {error && <Banner tone="error">{error}</Banner>}
        {page === null && loading ? (
          <Spinner label="Loading the audit trail…" />
        ) : items.length === 0 && !error ? (
          <EmptyState title="No events match">Events appear here as people use tokend.</EmptyState>
        ) : (
          <div class={`table-wrap${loading ? ' table-wrap--loading' : ''}`} aria-busy={loading ? 'true' : 'false'}>
            <table class="table table--dense">
              <caption class="visually-hidden">Audit events</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Client IP</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {items.map((e) => {
                  const f = auditFields(e);
                  return (
                    <tr key={e.id}>
                      <td class="nowrap">{formatDateTime(f.time)}</td>
                      <td>{f.actor || <span class="muted">system</span>}</td>
                      <td>
                        <code class="chip chip--mono">{e.action}</code>
                      </td>
                      <td class="cell-wrap">{f.target || <span class="muted">—</span>}</td>
                      <td class="nowrap">{f.ip || <span class="muted">—</span>}</td>
                      <td class="cell-wrap cell-details">{f.details || <span class="muted">—</span>}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          page={cursors.length}
          hasPrevious={cursors.length > 1}
          hasNext={!!page?.next_cursor}
          busy={loading}
          onPrevious={() => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c))}
          onNext={() => page?.next_cursor && setCursors((c) => [...c, page.next_cursor])}
        />
      </section>
    </div>
  );
}

// Users: list, create, edit memberships, deactivate/activate, delete.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api';
import type { Membership, Page, User } from '../api';
import { ConfirmDialog, Dialog } from '../components/Dialog';
import { Banner, EmptyState, Field, PageHeader, Pager, Spinner, StatusBadge } from '../components/ui';
import { departmentName, departmentTree, useSession, userTypeName } from '../session';

export function UsersPage() {
  const s = useSession();
  const [qInput, setQInput] = useState('');
  const [q, setQ] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page<User> | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [editing, setEditing] = useState<User | 'new' | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const canWrite = s.can('users:write');

  useEffect(() => {
    const t = window.setTimeout(() => {
      setQ(qInput.trim());
      setCursors([null]);
    }, 250);
    return () => window.clearTimeout(t);
  }, [qInput]);

  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let live = true;
    setLoading(true);
    s.api
      .listUsers({ q, limit: 50, cursor })
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
  }, [q, cursor, reload]);

  const setActive = async (u: User, active: boolean) => {
    try {
      await s.api.updateUser(u.id, { active });
      s.notify('success', `${u.username} is now ${active ? 'active' : 'deactivated'}.`);
      setReload((r) => r + 1);
    } catch (err) {
      s.notify('error', errorMessage(err));
    }
  };

  const confirmDelete = async () => {
    if (!deleting) return;
    setBusy(true);
    setActionError(null);
    try {
      await s.api.deleteUser(deleting.id);
      s.notify('success', `Deleted user ${deleting.username}.`);
      setDeleting(null);
      setReload((r) => r + 1);
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const items = page?.items ?? [];
  return (
    <div class="page">
      <PageHeader
        title="Users"
        description="People who sign in to the console or the mobile app. A user holds one or more department and user type memberships."
        actions={
          canWrite && (
            <button type="button" class="button button--primary" onClick={() => setEditing('new')}>
              <span class="icon icon--plus" aria-hidden="true" />
              Create user
            </button>
          )
        }
      />
      <section class="panel">
        <div class="toolbar">
          <div class="toolbar__search">
            <label class="visually-hidden" for="user-list-search">
              Search
            </label>
            <input
              id="user-list-search"
              type="search"
              class="input input--search"
              placeholder="Search by username, name or email"
              value={qInput}
              onInput={(e) => setQInput(e.currentTarget.value)}
            />
          </div>
        </div>
        {error && <Banner tone="error">{error}</Banner>}
        {page === null && loading ? (
          <Spinner label="Loading users…" />
        ) : items.length === 0 && !error ? (
          <EmptyState title={q ? 'No users match your search' : 'No users yet'} />
        ) : (
          <div class={`table-wrap${loading ? ' table-wrap--loading' : ''}`} aria-busy={loading ? 'true' : 'false'}>
            <table class="table">
              <caption class="visually-hidden">Users</caption>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Display Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Department and User Type</th>
                  <th scope="col">Status</th>
                  {canWrite && (
                    <th scope="col" class="col-actions">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {items.map((u) => (
                  <tr key={u.id} class={u.active ? '' : 'is-inactive'}>
                    <td class="cell-primary">
                      {canWrite ? (
                        <button type="button" class="link-button" onClick={() => setEditing(u)}>
                          {u.username}
                        </button>
                      ) : (
                        u.username
                      )}
                    </td>
                    <td>{u.display_name || <span class="muted">—</span>}</td>
                    <td>{u.email}</td>
                    <td>
                      <ul class="chips">
                        {u.memberships.map((m) => (
                          <li key={`${m.department_id}|${m.user_type_id}`} class="chip">
                            {departmentName(s, m.department_id)} · {userTypeName(s, m.user_type_id)}
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td>
                      {u.active ? <StatusBadge tone="success">Active</StatusBadge> : <StatusBadge tone="neutral">Deactivated</StatusBadge>}
                    </td>
                    {canWrite && (
                      <td class="col-actions nowrap">
                        <button type="button" class="button button--quiet button--small" aria-label={`Edit ${u.username}`} onClick={() => setEditing(u)}>
                          Edit
                        </button>
                        <button
                          type="button"
                          class="button button--quiet button--small"
                          aria-label={`${u.active ? 'Deactivate' : 'Activate'} ${u.username}`}
                          onClick={() => void setActive(u, !u.active)}
                        >
                          {u.active ? 'Deactivate' : 'Activate'}
                        </button>
                        <button
                          type="button"
                          class="button button--quiet button--small button--danger-text"
                          aria-label={`Delete ${u.username}`}
                          onClick={() => {
                            setActionError(null);
                            setDeleting(u);
                          }}
                        >
                          Delete
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
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
      {editing && (
        <UserDialog
          user={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(u, isNew) => {
            setEditing(null);
            s.notify('success', isNew ? `Created user ${u.username}.` : `Saved ${u.username}.`);
            setReload((r) => r + 1);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete user ${deleting.username}?`}
          confirmLabel="Delete user"
          busy={busy}
          error={actionError}
          onConfirm={confirmDelete}
          onClose={() => setDeleting(null)}
        >
          <p class="dialog__lead">
            All tokens of this user are revoked: any integration or mobile app using them will stop working immediately.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function UserDialog({
  user,
  onClose,
  onSaved,
}: {
  user: User | null;
  onClose: () => void;
  onSaved: (u: User, isNew: boolean) => void;
}) {
  const s = useSession();
  const [username, setUsername] = useState(user?.username ?? '');
  const [email, setEmail] = useState(user?.email ?? '');
  const [displayName, setDisplayName] = useState(user?.display_name ?? '');
  const [password, setPassword] = useState('');
  const [memberships, setMemberships] = useState<Membership[]>(
    user?.memberships.length ? user.memberships : [{ department_id: '', user_type_id: '' }],
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (e: Event) => {
    e.preventDefault();
    const fe: Record<string, string> = {};
    if (!user && !username.trim()) fe.username = 'Enter a username.';
    if (!email.trim()) fe.email = 'Enter an email address.';
    if (!user && !password) fe.password = 'Enter a password.';
    const ms = memberships.filter((m) => m.department_id || m.user_type_id);
    if (ms.length === 0 || ms.some((m) => !m.department_id || !m.user_type_id))
      fe.memberships = 'Each membership needs a department and a user type.';
    setErrors(fe);
    setBanner(null);
    if (Object.keys(fe).length) return;
    setBusy(true);
    try {
      const input = {
        email: email.trim(),
        display_name: displayName.trim(),
        memberships: ms,
        ...(password ? { password } : {}),
      };
      const saved = user
        ? await s.api.updateUser(user.id, input)
        : await s.api.createUser({ ...input, username: username.trim() });
      onSaved(saved, !user);
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fieldErrors).length) {
        const mapped: Record<string, string> = {};
        for (const [f, m] of Object.entries(err.fieldErrors)) {
          const k = f.startsWith('memberships') ? 'memberships' : f;
          mapped[k] = mapped[k] ?? m;
        }
        setErrors(mapped);
        const known = ['username', 'email', 'display_name', 'password', 'memberships'];
        if (Object.keys(mapped).some((k) => !known.includes(k))) setBanner(errorMessage(err));
      } else {
        setBanner(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  const depts = departmentTree(s.departments ?? []);
  const types = s.userTypes ?? [];
  return (
    <Dialog
      title={user ? `Edit ${user.username}` : 'Create user'}
      onClose={onClose}
      busy={busy}
      wide
    >
      <form onSubmit={save} noValidate class="form">
        {banner && <Banner tone="error">{banner}</Banner>}
        <div class="form__grid">
          <Field label="Username" error={errors.username}>
            {(id, d, invalid) => (
              <input
                id={id}
                class="input"
                autocomplete="off"
                value={username}
                disabled={!!user}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onInput={(e) => setUsername(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field label="Email" error={errors.email}>
            {(id, d, invalid) => (
              <input
                id={id}
                class="input"
                type="email"
                autocomplete="off"
                value={email}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onInput={(e) => setEmail(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field label="Display Name" optional error={errors.display_name}>
            {(id, d, invalid) => (
              <input
                id={id}
                class="input"
                autocomplete="off"
                value={displayName}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onInput={(e) => setDisplayName(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field
            label={user ? 'New Password' : 'Password'}
            optional={!!user}
            error={errors.password}
            hint={user ? 'Leave empty to keep the current password.' : undefined}
          >
            {(id, d, invalid) => (
              <input
                id={id}
                class="input"
                type="password"
                autocomplete="new-password"
                value={password}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            )}
          </Field>
        </div>
        <fieldset class="fieldset">
          <legend class="fieldset__legend">Memberships</legend>
          <p class="field__hint">Each membership grants the user a user type's permissions within a department and its sub-departments.</p>
          {memberships.map((m, i) => (
            <div class="membership" key={i}>
              <div class="field">
                <label class="field__label" for={`m-dept-${i}`}>
                  Department
                </label>
                <select
                  id={`m-dept-${i}`}
                  class="select"
                  value={m.department_id}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    setMemberships((ms) => ms.map((x, j) => (j === i ? { ...x, department_id: v } : x)));
                  }}
                >
                  <option value="">Choose…</option>
                  {depts.map(({ dept, depth }) => (
                    <option key={dept.id} value={dept.id}>
                      {'\u2003'.repeat(depth)}
                      {dept.name}
                    </option>
                  ))}
                </select>
              </div>
              <div class="field">
                <label class="field__label" for={`m-type-${i}`}>
                  User Type
                </label>
                <select
                  id={`m-type-${i}`}
                  class="select"
                  value={m.user_type_id}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    setMemberships((ms) => ms.map((x, j) => (j === i ? { ...x, user_type_id: v } : x)));
                  }}
                >
                  <option value="">Choose…</option>
                  {types.map((t) => (
                    <option key={t.id} value={t.id}>
                      {t.name}
                    </option>
                  ))}
                </select>
              </div>
              <button
                type="button"
                class="button button--quiet button--small membership__remove"
                aria-label={`Remove membership ${i + 1}`}
                disabled={memberships.length === 1}
                onClick={() => setMemberships((ms) => ms.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            </div>
          ))}
          {errors.memberships && (
            <p class="field__error" role="alert">
              {errors.memberships}
            </p>
          )}
          <button
            type="button"
            class="button button--small"
            onClick={() => setMemberships((ms) => [...ms, { department_id: '', user_type_id: '' }])}
          >
            Add membership
          </button>
        </fieldset>
        <div class="form__actions">
          <button type="button" class="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="button button--primary" disabled={busy}>
            {busy ? 'Saving…' : user ? 'Save' : 'Create user'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

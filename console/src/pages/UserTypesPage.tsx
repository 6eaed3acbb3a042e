// User Types: named roles carrying permissions from the catalogue (DESIGN.md §1).
import { useState } from 'preact/hooks';
import { ApiError, PERMISSIONS, errorMessage } from '../api';
import type { UserType } from '../api';
import { ConfirmDialog, Dialog } from '../components/Dialog';
import { Banner, EmptyState, Field, PageHeader, Spinner } from '../components/ui';
import { useSession } from '../session';

export const PERMISSION_LABELS: Record<string, string> = {
  'tokens:read': 'View tokens',
  'tokens:write': 'Create and delete tokens',
  'tokens:reveal': 'Reveal API token strings',
  'users:read': 'View users',
  'users:write': 'Manage users',
  'departments:read': 'View departments',
  'departments:write': 'Manage departments',
  'user_types:read': 'View user types',
  'user_types:write': 'Manage user types',
  'audit:read': 'Read the audit trail',
  introspect: 'Introspect tokens (for other services)',
};

export function UserTypesPage() {
  const s = useSession();
  const [editing, setEditing] = useState<UserType | 'new' | null>(null);
  const [deleting, setDeleting] = useState<UserType | null>(null);
  const [busy, setBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const canWrite = s.can('user_types:write');
  const types = s.userTypes;

  const confirmDelete = async () => {
    if (!deleting) return;
    setBusy(true);
    setDeleteError(null);
    try {
      await s.api.deleteUserType(deleting.id);
      s.notify('success', `Deleted user type ${deleting.name}.`);
      setDeleting(null);
      s.reloadDirectory();
    } catch (err) {
      setDeleteError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page">
      <PageHeader
        title="User Types"
        description="A user type is a role: the permissions its holders (and their tokens) have within their department."
        actions={
          canWrite && (
            <button type="button" class="button button--primary" onClick={() => setEditing('new')}>
              <span class="icon icon--plus" aria-hidden="true" />
              Create user type
            </button>
          )
        }
      />
      <section class="panel">
        {types === null ? (
          <Spinner label="Loading user types…" />
        ) : types.length === 0 ? (
          <EmptyState title="No user types yet" />
        ) : (
          <div class="table-wrap">
            <table class="table">
              <caption class="visually-hidden">User Types</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Permissions</th>
                  {canWrite && (
                    <th scope="col" class="col-actions">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {types.map((t) => (
                  <tr key={t.id}>
                    <td class="cell-primary">
                      {canWrite ? (
                        <button type="button" class="link-button" onClick={() => setEditing(t)}>
                          {t.name}
                        </button>
                      ) : (
                        t.name
                      )}
                    </td>
                    <td>
                      {t.permissions.length === 0 ? (
                        <span class="muted">No permissions</span>
                      ) : (
                        <ul class="chips">
                          {t.permissions.map((p) => (
                            <li key={p} class="chip chip--mono">
                              {p}
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    {canWrite && (
                      <td class="col-actions nowrap">
                        <button type="button" class="button button--quiet button--small" aria-label={`Edit ${t.name}`} onClick={() => setEditing(t)}>
                          Edit
                        </button>
                        <button
                          type="button"
                          class="button button--quiet button--small button--danger-text"
                          aria-label={`Delete ${t.name}`}
                          onClick={() => {
                            setDeleteError(null);
                            setDeleting(t);
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
      </section>
      {editing && (
        <UserTypeDialog
          type={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(t) => {
            setEditing(null);
            s.notify('success', editing === 'new' ? `Created user type ${t.name}.` : `Saved ${t.name}.`);
            s.reloadDirectory();
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete user type ${deleting.name}?`}
          confirmLabel="Delete user type"
          busy={busy}
          error={deleteError}
          onConfirm={confirmDelete}
          onClose={() => setDeleting(null)}
        >
          <p class="dialog__lead">Users and tokens holding this user type lose its permissions.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function UserTypeDialog({
  type,
  onClose,
  onSaved,
}: {
  type: UserType | null;
  onClose: () => void;
  onSaved: (t: UserType) => void;
}) {
  const s = useSession();
  const [name, setName] = useState(type?.name ?? '');
  const [perms, setPerms] = useState<Set<string>>(() => new Set(type?.permissions ?? []));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return setErrors({ name: 'Enter a name.' });
    setBusy(true);
    setErrors({});
    setBanner(null);
    const permissions = PERMISSIONS.filter((p) => perms.has(p));
    try {
      const t = type
        ? await s.api.updateUserType(type.id, { name: name.trim(), permissions })
        : await s.api.createUserType({ name: name.trim(), permissions });
      onSaved(t);
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fieldErrors).length) {
        setErrors(err.fieldErrors);
        if (!err.fieldErrors.name && !err.fieldErrors.permissions) setBanner(errorMessage(err));
      } else setBanner(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={type ? `Edit ${type.name}` : 'Create user type'} onClose={onClose} busy={busy} wide>
      <form class="form" onSubmit={save} noValidate>
        {banner && <Banner tone="error">{banner}</Banner>}
        <Field label="Name" error={errors.name}>
          {(id, d, invalid) => (
            <input
              id={id}
              class="input"
              value={name}
              aria-describedby={d}
              aria-invalid={invalid || undefined}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          )}
        </Field>
        <fieldset class="fieldset">
          <legend class="fieldset__legend">Permissions</legend>
          <p class="field__hint">You can grant only permissions you hold yourself.</p>
          <div class="checks">
            {PERMISSIONS.map((p) => (
              <label key={p} class="check">
                <input
                  type="checkbox"
                  class="checkbox"
                  checked={perms.has(p)}
                  onChange={() =>
                    setPerms((cur) => {
                      const next = new Set(cur);
                      if (next.has(p)) next.delete(p);
                      else next.add(p);
                      return next;
                    })
                  }
                />
                <span class="check__text">
                  <code class="check__code">{p}</code>
                  <span class="check__label">{PERMISSION_LABELS[p]}</span>
                </span>
              </label>
            ))}
          </div>
          {errors.permissions && (
            <p class="field__error" role="alert">
              {errors.permissions}
            </p>
          )}
        </fieldset>
        <div class="form__actions">
          <button type="button" class="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="button button--primary" disabled={busy}>
            {type ? 'Save' : 'Create user type'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

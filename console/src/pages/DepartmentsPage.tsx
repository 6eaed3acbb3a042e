// Departments: the tenant's tree; create a child, rename, delete.
import { useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api';
import type { Department } from '../api';
import { ConfirmDialog, Dialog } from '../components/Dialog';
import { Banner, EmptyState, Field, PageHeader, Spinner } from '../components/ui';
import { departmentTree, useSession } from '../session';

type Editing = { mode: 'create'; parent: Department } | { mode: 'rename'; dept: Department };

export function DepartmentsPage() {
  const s = useSession();
  const [editing, setEditing] = useState<Editing | null>(null);
  const [deleting, setDeleting] = useState<Department | null>(null);
  const [busy, setBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const canWrite = s.can('departments:write');
  const rows = s.departments ? departmentTree(s.departments) : null;

  const confirmDelete = async () => {
    if (!deleting) return;
    setBusy(true);
    setDeleteError(null);
    try {
      await s.api.deleteDepartment(deleting.id);
      s.notify('success', `Deleted department ${deleting.name}.`);
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
        title="Departments"
        description="Access to a department includes all departments below it."
      />
      <section class="panel">
        {rows === null ? (
          <Spinner label="Loading departments…" />
        ) : rows.length === 0 ? (
          <EmptyState title="No departments visible">You can see the departments inside your own department.</EmptyState>
        ) : (
          <ul class="tree" aria-label="Departments">
            {rows.map(({ dept, depth }) => (
              <li key={dept.id} class={`tree__item tree__item--depth-${Math.min(depth, 8)}`}>
                <span class="tree__name">
                  <span class="tree__icon" aria-hidden="true" />
                  {dept.name}
                  {dept.parent_id === null && <span class="badge badge--neutral">Root</span>}
                </span>
                {canWrite && (
                  <span class="tree__actions">
                    <button
                      type="button"
                      class="button button--quiet button--small"
                      aria-label={`Add a department under ${dept.name}`}
                      onClick={() => setEditing({ mode: 'create', parent: dept })}
                    >
                      Add child
                    </button>
                    <button
                      type="button"
                      class="button button--quiet button--small"
                      aria-label={`Rename ${dept.name}`}
                      onClick={() => setEditing({ mode: 'rename', dept })}
                    >
                      Rename
                    </button>
                    {dept.parent_id !== null && (
                      <button
                        type="button"
                        class="button button--quiet button--small button--danger-text"
                        aria-label={`Delete ${dept.name}`}
                        onClick={() => {
                          setDeleteError(null);
                          setDeleting(dept);
                        }}
                      >
                        Delete
                      </button>
                    )}
                  </span>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      {editing && (
        <DepartmentDialog
          editing={editing}
          onClose={() => setEditing(null)}
          onSaved={(d) => {
            setEditing(null);
            s.notify('success', editing.mode === 'create' ? `Created department ${d.name}.` : `Renamed to ${d.name}.`);
            s.reloadDirectory();
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete department ${deleting.name}?`}
          confirmLabel="Delete department"
          busy={busy}
          error={deleteError}
          onConfirm={confirmDelete}
          onClose={() => setDeleting(null)}
        >
          <p class="dialog__lead">Users and tokens of this department lose the access it gave them.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function DepartmentDialog({
  editing,
  onClose,
  onSaved,
}: {
  editing: Editing;
  onClose: () => void;
  onSaved: (d: Department) => void;
}) {
  const s = useSession();
  const [name, setName] = useState(editing.mode === 'rename' ? editing.dept.name : '');
  const [error, setError] = useState<string | null>(null);
  const [banner, setBanner] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return setError('Enter a name.');
    setBusy(true);
    setError(null);
    setBanner(null);
    try {
      const d =
        editing.mode === 'create'
          ? await s.api.createDepartment({ name: name.trim(), parent_id: editing.parent.id })
          : await s.api.updateDepartment(editing.dept.id, { name: name.trim() });
      onSaved(d);
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.name) setError(err.fieldErrors.name);
      else setBanner(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      title={editing.mode === 'create' ? `New department under ${editing.parent.name}` : `Rename ${editing.dept.name}`}
      onClose={onClose}
      busy={busy}
    >
      <form class="form" onSubmit={save} noValidate>
        {banner && <Banner tone="error">{banner}</Banner>}
        <Field label="Department Name" error={error}>
          {(id, d, invalid) => (
            <input
              id={id}
              class="input"
              value={name}
              autofocus
              aria-describedby={d}
              aria-invalid={invalid || undefined}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          )}
        </Field>
        <div class="form__actions">
          <button type="button" class="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="button button--primary" disabled={busy}>
            {editing.mode === 'create' ? 'Create department' : 'Save'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

// Creating a New API Token: the guide's form, then the new token string, shown once.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, NetworkError, errorMessage } from '../api';
import type { ApiToken, User } from '../api';
import { Banner, CopyButton, Field, PageHeader } from '../components/ui';
import { checkExpiryInput, defaultExpiry, formatDate, toDateInput } from '../format';
import { href } from '../router';
import { departmentName, useSession, userTypeName } from '../session';

const FIELD_OF: Record<string, string> = {
  name: 'name',
  description: 'description',
  expires_at: 'expires_at',
  user_id: 'user_id',
  department_id: 'membership',
  user_type_id: 'membership',
};

export function CreateTokenPage() {
  const s = useSession();
  const today = useMemo(() => new Date(), []);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [expires, setExpires] = useState(() => defaultExpiry(today));
  const [userQuery, setUserQuery] = useState('');
  const [users, setUsers] = useState<User[] | null>(null);
  const [usersError, setUsersError] = useState<string | null>(null);
  const [userId, setUserId] = useState('');
  const [chosenUser, setChosenUser] = useState<User | null>(null);
  const [membership, setMembership] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<ApiToken | null>(null);
  const bannerRef = useRef<HTMLDivElement>(null);

  // Searchable user list (GET /api/v1/users?q=).
  useEffect(() => {
    let live = true;
    const t = window.setTimeout(() => {
      s.api
        .listUsers({ q: userQuery.trim(), limit: 50 })
        .then((p) => {
          if (!live) return;
          setUsers(p.items.filter((u) => u.active !== false));
          setUsersError(null);
        })
        .catch((err) => live && setUsersError(errorMessage(err)));
    }, 200);
    return () => {
      live = false;
      window.clearTimeout(t);
    };
  }, [userQuery]);

  const userOptions = useMemo(() => {
    const list = users ?? [];
    // Keep the chosen user selectable while a search hides it.
    return chosenUser && !list.some((u) => u.id === chosenUser.id) ? [chosenUser, ...list] : list;
  }, [users, chosenUser]);

  const chooseUser = (id: string) => {
    setUserId(id);
    const u = userOptions.find((x) => x.id === id) ?? null;
    setChosenUser(u);
    const ms = u?.memberships ?? [];
    setMembership(ms.length === 1 ? `${ms[0].department_id}|${ms[0].user_type_id}` : '');
    setErrors((e) => ({ ...e, user_id: '', membership: '' }));
  };

  const expiryCheck = checkExpiryInput(expires, today);

  const submit = async (e: Event) => {
    e.preventDefault();
    const fe: Record<string, string> = {};
    if (!name.trim()) fe.name = 'Enter a token name.';
    if (expiryCheck.kind === 'invalid' || expiryCheck.kind === 'past') fe.expires_at = expiryCheck.message;
    if (!userId) fe.user_id = 'Choose the user whose permissions the token uses.';
    else if (!membership) fe.membership = 'Choose a department and user type.';
    setErrors(fe);
    setBanner(null);
    if (Object.keys(fe).length) {
      focusFirstInvalid();
      return;
    }
    const [department_id, user_type_id] = membership.split('|');
    setBusy(true);
    try {
      const t = await s.api.createToken({
        name: name.trim(),
        description: description.trim() || undefined,
        expires_at: expires,
        user_id: userId,
        department_id,
        user_type_id,
      });
      setCreated(t);
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fieldErrors).length) {
        const mapped: Record<string, string> = {};
        const unplaced: string[] = [];
        for (const [f, m] of Object.entries(err.fieldErrors)) {
          const k = FIELD_OF[f];
          if (k && !mapped[k]) mapped[k] = m;
          else if (!k) unplaced.push(m);
        }
        setErrors(mapped);
        setBanner(unplaced.length ? unplaced.join(' ') : null);
        focusFirstInvalid();
      } else if (err instanceof NetworkError) {
        setBanner(`${err.message} Your entries are kept; press Save again.`);
      } else {
        setBanner(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (banner) bannerRef.current?.scrollIntoView?.({ block: 'nearest' });
  }, [banner]);

  const breadcrumb = (
    <>
      <a href="#/tokens/api">Tokens</a>
      <span aria-hidden="true" class="breadcrumb__sep">
        /
      </span>
      <a href="#/tokens/api">API Tokens</a>
    </>
  );

  if (created) return <CreatedToken token={created} breadcrumb={breadcrumb} />;

  return (
    <div class="page page--narrow">
      <PageHeader
        title="Create API Token"
        breadcrumb={breadcrumb}
        description="A new API token with a randomly generated token string, for an external application or integration."
      />
      <form class="card form" onSubmit={submit} noValidate aria-label="Create API Token">
        {banner && (
          <div ref={bannerRef}>
            <Banner tone="error">{banner}</Banner>
          </div>
        )}
        <Field label="Token Name" error={errors.name} hint="A name that says which integration uses it, e.g. “Payroll export”.">
          {(id, d, invalid) => (
            <input
              id={id}
              class="input"
              name="name"
              maxLength={200}
              value={name}
              aria-describedby={d}
              aria-invalid={invalid || undefined}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field label="Description" optional error={errors.description}>
          {(id, d, invalid) => (
            <textarea
              id={id}
              class="input textarea"
              name="description"
              rows={2}
              maxLength={1000}
              value={description}
              aria-describedby={d}
              aria-invalid={invalid || undefined}
              onInput={(e) => setDescription(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field
          label="Expiry Date"
          error={errors.expires_at}
          warning={!errors.expires_at && expiryCheck.kind === 'long' ? expiryCheck.message : null}
          hint="Suggested: no longer than 12 months for any single token. The default is 90 days from today."
        >
          {(id, d, invalid) => (
            <input
              id={id}
              class="input input--date"
              type="date"
              name="expires_at"
              min={toDateInput(new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1))}
              value={expires}
              aria-describedby={d}
              aria-invalid={invalid || undefined}
              onInput={(e) => {
                setExpires(e.currentTarget.value);
                setErrors((x) => ({ ...x, expires_at: '' }));
              }}
            />
          )}
        </Field>

        <fieldset class="fieldset">
          <legend class="fieldset__legend">Permissions</legend>
          <div class="field">
            <label class="field__label" for="user-search">
              Search users
            </label>
            <input
              id="user-search"
              class="input input--search"
              type="search"
              placeholder="Name, username or email"
              value={userQuery}
              onInput={(e) => setUserQuery(e.currentTarget.value)}
            />
          </div>
          <Field
            label="Select User"
            error={errors.user_id || usersError}
            hint="The user whose permissions are checked when the token calls the API."
          >
            {(id, d, invalid) => (
              <select
                id={id}
                class="select"
                name="user_id"
                value={userId}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onChange={(e) => chooseUser(e.currentTarget.value)}
              >
                <option value="">{users === null ? 'Loading users…' : userOptions.length ? 'Choose a user' : 'No users match'}</option>
                {userOptions.map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.display_name ? `${u.display_name} (${u.username})` : u.username}
                    {u.email ? ` — ${u.email}` : ''}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field
            label="Select Department & User Type"
            error={errors.membership}
            hint={chosenUser ? 'Only the combinations this user holds.' : 'Choose a user first.'}
          >
            {(id, d, invalid) => (
              <select
                id={id}
                class="select"
                name="membership"
                value={membership}
                disabled={!chosenUser}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onChange={(e) => {
                  setMembership(e.currentTarget.value);
                  setErrors((x) => ({ ...x, membership: '' }));
                }}
              >
                <option value="">Choose a department and user type</option>
                {(chosenUser?.memberships ?? []).map((m) => (
                  <option key={`${m.department_id}|${m.user_type_id}`} value={`${m.department_id}|${m.user_type_id}`}>
                    {departmentName(s, m.department_id)} — {userTypeName(s, m.user_type_id)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <p class="hint-box">
            <span class="icon icon--shield" aria-hidden="true" />
            Grant the token only the minimal permissions the integration needs.
          </p>
        </fieldset>

        <div class="form__actions">
          <a class="button" href="#/tokens/api">
            Cancel
          </a>
          <button type="submit" class="button button--primary" disabled={busy} aria-busy={busy ? 'true' : undefined}>
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </div>
  );
}

function focusFirstInvalid() {
  window.setTimeout(() => {
    const el = document.querySelector<HTMLElement>('form [aria-invalid="true"]');
    el?.focus();
  }, 0);
}

function CreatedToken({ token, breadcrumb }: { token: ApiToken; breadcrumb: preact.ComponentChildren }) {
  const secret = token.token ?? '';
  return (
    <div class="page page--narrow">
      <PageHeader title="API token created" breadcrumb={breadcrumb} />
      <section class="card created" aria-labelledby="new-token-title">
        <h2 id="new-token-title" class="created__title">
          <span class="icon icon--check" aria-hidden="true" />
          “{token.name}” is ready
        </h2>
        <p>Copy the token now and store it somewhere safe, such as a secrets manager. Treat it like a password.</p>
        <div class="secret secret--new">
          <label class="visually-hidden" for="new-token">
            New API token
          </label>
          <input id="new-token" class="input secret__input" readOnly value={secret} onFocus={(e) => e.currentTarget.select()} />
          <CopyButton class="button button--primary" ariaLabel="Copy the new API token" getText={() => secret} />
        </div>
        <p class="field__hint">
          {token.revealable
            ? 'An administrator with the reveal permission can show it again from the token’s page.'
            : 'This is the only time the full token is shown.'}{' '}
          It expires on {formatDate(token.expires_at)}.
        </p>
        <div class="form__actions">
          <a class="button" href={href({ page: 'token', kind: 'api', id: token.id })}>
            View token
          </a>
          <a class="button button--primary" href="#/tokens/api">
            Back to API Tokens
          </a>
        </div>
      </section>
    </div>
  );
}

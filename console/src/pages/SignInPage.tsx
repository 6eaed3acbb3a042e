import { useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api';
import type { ApiClient } from '../api';
import { Banner, Field } from '../components/ui';

export function SignInPage({
  api,
  message,
  onSignedIn,
}: {
  api: ApiClient;
  message: string | null;
  onSignedIn: () => void;
}) {
  const [tenant, setTenant] = useState('default');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});

  const submit = async (e: Event) => {
    e.preventDefault();
    const fe: Record<string, string> = {};
    if (!tenant.trim()) fe.tenant = 'Enter your tenant.';
    if (!username.trim()) fe.username = 'Enter your username.';
    if (!password) fe.password = 'Enter your password.';
    setFieldErrors(fe);
    setError(null);
    if (Object.keys(fe).length) return;
    setBusy(true);
    try {
      await api.login(tenant.trim(), username.trim(), password);
      onSignedIn();
    } catch (err) {
      setBusy(false);
      setPassword('');
      if (err instanceof ApiError && err.status === 401) {
        setError('The tenant, username or password is not correct.');
      } else if (err instanceof ApiError && Object.keys(err.fieldErrors).length) {
        setFieldErrors(err.fieldErrors);
        setError(errorMessage(err));
      } else {
        setError(errorMessage(err));
      }
    }
  };

  return (
    <div class="signin">
      <main class="signin__card card" id="main">
        <div class="signin__brand">
          <span class="brand__mark" aria-hidden="true" />
          <span class="brand__name">tokend</span>
        </div>
        <h1 class="signin__title">Sign in to the console</h1>
        <p class="signin__lead">Manage the access tokens of your organisation.</p>
        {message && <Banner tone={message.includes('expired') ? 'warning' : 'info'}>{message}</Banner>}
        {error && <Banner tone="error">{error}</Banner>}
        <form onSubmit={submit} noValidate class="form">
          <Field label="Tenant" error={fieldErrors.tenant}>
            {(id, d, invalid) => (
              <input
                id={id}
                class="input"
                name="tenant"
                autocomplete="organization"
                value={tenant}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onInput={(e) => setTenant(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field label="Username" error={fieldErrors.username}>
            {(id, d, invalid) => (
              <input
                id={id}
                class="input"
                name="username"
                autocomplete="username"
                autofocus
                value={username}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onInput={(e) => setUsername(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field label="Password" error={fieldErrors.password}>
            {(id, d, invalid) => (
              <input
                id={id}
                class="input"
                type="password"
                name="password"
                autocomplete="current-password"
                value={password}
                aria-describedby={d}
                aria-invalid={invalid || undefined}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            )}
          </Field>
          <button type="submit" class="button button--primary button--block" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </main>
    </div>
  );
}

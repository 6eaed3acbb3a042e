// The console: signs in, then shows the page of the current hash route inside the layout.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiClient, ApiError, api as defaultApi, errorMessage } from './api';
import type { Me } from './api';
import { Layout } from './components/Layout';
import { Banner, Spinner } from './components/ui';
import { AuditPage } from './pages/AuditPage';
import { CreateTokenPage } from './pages/CreateTokenPage';
import { DepartmentsPage } from './pages/DepartmentsPage';
import { SignInPage } from './pages/SignInPage';
import { TokenDetailPage } from './pages/TokenDetailPage';
import { TokensPage, resetTokenLists } from './pages/TokensPage';
import { UserTypesPage } from './pages/UserTypesPage';
import { UsersPage } from './pages/UsersPage';
import { useRoute } from './router';
import type { Route } from './router';
import { SessionProvider } from './session';

type AppState =
  | { kind: 'starting' }
  | { kind: 'signed-out'; message: string | null }
  | { kind: 'signed-in'; me: Me }
  | { kind: 'failed'; message: string };

export const SESSION_EXPIRED = 'Your session has expired. Please sign in again.';

export function App({ api = defaultApi }: { api?: ApiClient }) {
  const [state, setState] = useState<AppState>(() =>
    api.hasSession ? { kind: 'starting' } : { kind: 'signed-out', message: null },
  );
  const { route, seq } = useRoute();

  useEffect(() => {
    api.onUnauthorized = () => {
      resetTokenLists();
      setState({ kind: 'signed-out', message: SESSION_EXPIRED });
    };
  }, [api]);

  const loadMe = useCallback(async () => {
    try {
      const me = await api.me();
      setState({ kind: 'signed-in', me });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // onUnauthorized has run
      setState({ kind: 'failed', message: errorMessage(err) });
    }
  }, [api]);

  useEffect(() => {
    if (state.kind === 'starting') void loadMe();
  }, [state.kind, loadMe]);

  useEffect(() => {
    const titles: Record<Route['page'], string> = {
      tokens: 'Tokens',
      token: 'Token',
      'create-token': 'Create API Token',
      users: 'Users',
      departments: 'Departments',
      'user-types': 'User Types',
      audit: 'Audit',
      'not-found': 'Not found',
    };
    document.title =
      state.kind === 'signed-in' ? `${titles[route.page]} · tokend` : 'Sign in · tokend';
  }, [route, state.kind]);

  if (state.kind === 'starting') {
    return (
      <div class="center-screen">
        <Spinner label="Loading the console…" />
      </div>
    );
  }
  if (state.kind === 'failed') {
    return (
      <div class="center-screen">
        <div class="card card--narrow">
          <Banner tone="error">{state.message}</Banner>
          <button type="button" class="button button--primary" onClick={() => setState({ kind: 'starting' })}>
            Try again
          </button>
        </div>
      </div>
    );
  }
  if (state.kind === 'signed-out') {
    return (
      <SignInPage
        api={api}
        message={state.message}
        onSignedIn={() => setState({ kind: 'starting' })}
      />
    );
  }

  const signOut = async () => {
    try {
      await api.logout();
    } catch {
      // The session is gone either way.
    }
    resetTokenLists();
    setState({ kind: 'signed-out', message: 'You have signed out.' });
  };

  return (
    <SessionProvider api={api} me={state.me}>
      <Layout route={route} onSignOut={signOut}>
        <Page route={route} seq={seq} />
      </Layout>
    </SessionProvider>
  );
}

function Page({ route, seq }: { route: Route; seq: number }) {
  switch (route.page) {
    case 'tokens':
      return <TokensPage key={route.kind} kind={route.kind} />;
    case 'token':
      return <TokenDetailPage key={route.id} kind={route.kind} id={route.id} />;
    case 'create-token':
      return <CreateTokenPage key={seq} />;
    case 'users':
      return <UsersPage />;
    case 'departments':
      return <DepartmentsPage />;
    case 'user-types':
      return <UserTypesPage />;
    case 'audit':
      return <AuditPage />;
    case 'not-found':
      return (
        <div class="page">
          <h1 class="page-header__title">Page not found</h1>
          <p>
            There is nothing at this address. <a href="#/tokens/api">Go to Tokens</a>.
          </p>
        </div>
      );
  }
}

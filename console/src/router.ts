// Hash routes: the server serves index.html for every path, and hash routes keep URLs free of
// anything the server must know about.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'tokens'; kind: 'api' | 'mobile' }
  | { page: 'token'; kind: 'api' | 'mobile'; id: string }
  | { page: 'create-token' }
  | { page: 'users' }
  | { page: 'departments' }
  | { page: 'user-types' }
  | { page: 'audit' }
  | { page: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  if (parts.length === 0) return { page: 'tokens', kind: 'api' };
  const [a, b, c] = parts;
  if (a === 'tokens') {
    if (!b) return { page: 'tokens', kind: 'api' };
    if (b === 'api' || b === 'mobile') {
      if (!c) return { page: 'tokens', kind: b };
      if (b === 'api' && c === 'new') return { page: 'create-token' };
      if (parts.length === 3) return { page: 'token', kind: b, id: c };
    }
  }
  if (parts.length === 1) {
    if (a === 'users') return { page: 'users' };
    if (a === 'departments') return { page: 'departments' };
    if (a === 'user-types') return { page: 'user-types' };
    if (a === 'audit') return { page: 'audit' };
  }
  return { page: 'not-found', path };
}

export function href(r: Route): string {
  switch (r.page) {
    case 'tokens':
      return `#/tokens/${r.kind}`;
    case 'token':
      return `#/tokens/${r.kind}/${encodeURIComponent(r.id)}`;
    case 'create-token':
      return '#/tokens/api/new';
    case 'users':
    case 'departments':
    case 'user-types':
    case 'audit':
      return `#/${r.page}`;
    case 'not-found':
      return `#${r.path}`;
  }
}

export function navigate(r: Route | string): void {
  const h = typeof r === 'string' ? r : href(r);
  if (location.hash !== h) location.hash = h;
}

/** The current route and a counter of hash changes (to start a form afresh on each visit). */
export function useRoute(): { route: Route; seq: number } {
  const [state, setState] = useState(() => ({ route: parseRoute(location.hash), seq: 0 }));
  useEffect(() => {
    const on = () => setState((s) => ({ route: parseRoute(location.hash), seq: s.seq + 1 }));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return state;
}

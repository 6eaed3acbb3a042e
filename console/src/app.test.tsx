import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from './api';
import type { ApiToken, MobileToken } from './api';
import { App } from './app';

const me = {
  tenant_id: 'ten_1',
  user: { id: 'u1', username: 'admin', email: 'admin@example.com', display_name: 'Ada Admin' },
  department: { id: 'd1', name: 'Root' },
  user_type: { id: 'ut1', name: 'Administrator' },
  permissions: ['tokens:read', 'tokens:write', 'tokens:reveal', 'users:read', 'departments:read', 'user_types:read', 'audit:read'],
  token: null,
};
const user = { id: 'u2', username: 'bob', email: 'bob@example.com', display_name: 'Bob' };
const dept = { id: 'd1', name: 'Root' };
const type = { id: 'ut1', name: 'Administrator' };
const future = new Date(Date.now() + 60 * 86400000).toISOString();
const soon = new Date(Date.now() + 3 * 86400000).toISOString();
const past = new Date(Date.now() - 86400000).toISOString();

function apiToken(id: string, name: string, extra: Partial<ApiToken> = {}): ApiToken {
  return {
    id, kind: 'api', name, description: '', token_hint: 'tka_…abcd', revealable: true, tenant_id: 'ten_1',
    usage: 'curl …', expires_at: future, status: 'active', created_at: '2026-01-01T00:00:00Z',
    created_by: { id: 'u1', username: 'admin' }, last_used_at: null, last_used_ip: null, user, department: dept, user_type: type,
    ...extra,
  };
}
const mobile: MobileToken = {
  id: 'm1', kind: 'mobile', user, department: dept, user_type: type, device_name: 'Pixel',
  last_active_at: null, expires_at: future, status: 'active', created_at: '2026-01-01T00:00:00Z',
};

type Handler = (method: string, url: URL, body: unknown) => [number, unknown];
let requests: { method: string; url: URL; body: unknown; headers: Record<string, string> }[] = [];

function fakeFetch(handler: Handler): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://tokend.test');
    const method = init?.method ?? 'GET';
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    requests.push({ method, url, body, headers: (init?.headers ?? {}) as Record<string, string> });
    const [status, json] = handler(method, url, body);
    return new Response(status === 204 ? null : JSON.stringify(json), {
      status,
      headers: { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json' },
    });
  }) as typeof fetch;
}

function baseHandler(tokens: (ApiToken | MobileToken)[]): Handler {
  return (method, url) => {
    const p = url.pathname;
    if (p === '/api/v1/me') return [200, me];
    if (p === '/api/v1/departments') return [200, { items: [dept], next_cursor: null }];
    if (p === '/api/v1/user-types') return [200, { items: [type], next_cursor: null }];
    if (p === '/api/v1/users') return [200, { items: [{ ...user, active: true, memberships: [{ department_id: 'd1', user_type_id: 'ut1' }] }], next_cursor: null }];
    if (p === '/api/v1/tokens' && method === 'GET') {
      const kind = url.searchParams.get('kind');
      return [200, { items: tokens.filter((t) => t.kind === kind), next_cursor: null }];
    }
    if (p === '/api/v1/tokens/delete') return [200, { deleted: [], not_found: [] }];
    return [404, { title: 'Not found', status: 404, errors: [] }];
  };
}

let root: HTMLElement;
beforeEach(() => {
  requests = [];
  sessionStorage.clear();
  location.hash = '';
  root = document.createElement('div');
  document.body.appendChild(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
});

async function until<T>(fn: () => T | null | undefined | false, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    let v: T | null | undefined | false = null;
    try {
      v = fn();
    } catch {
      v = null;
    }
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out; page is: ${root.textContent}`);
    await act(() => new Promise((r) => setTimeout(r, 10)));
  }
}

function mount(handler: Handler, signedIn = true) {
  if (signedIn) sessionStorage.setItem('tokend.csrf', 'csrf-1');
  const api = new ApiClient(fakeFetch(handler), sessionStorage);
  act(() => render(<App api={api} />, root));
  return api;
}

const text = () => root.textContent ?? '';
const byLabel = (label: string) => root.querySelector<HTMLInputElement>(`[aria-label="${label}"]`);

describe('App', () => {
  it('shows the sign-in page with the tenant prefilled and signs in', async () => {
    mount((m, url) => (url.pathname === '/api/v1/auth/login' ? [200, { csrf_token: 'c9', user }] : baseHandler([])(m, url, null)), false);
    const tenant = root.querySelector<HTMLInputElement>('input[name="tenant"]')!;
    expect(tenant.value).toBe('default');
    const labels = [...root.querySelectorAll('label')].map((l) => l.textContent);
    expect(labels).toEqual(['Tenant', 'Username', 'Password']);
    const set = (name: string, v: string) => {
      const el = root.querySelector<HTMLInputElement>(`input[name="${name}"]`)!;
      el.value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    };
    act(() => {
      set('username', 'admin');
      set('password', 'secret');
    });
    act(() => {
      root.querySelector('form')!.dispatchEvent(new Event('submit', { cancelable: true, bubbles: true }));
    });
    await until(() => text().includes('API Tokens') && text().includes('No API tokens yet'));
    expect(requests[0].body).toEqual({ tenant: 'default', username: 'admin', password: 'secret' });
    expect(sessionStorage.getItem('tokend.csrf')).toBe('c9');
  });

  it('returns to the sign-in page saying the session expired on a 401', async () => {
    mount((m, url) => (url.pathname === '/api/v1/tokens' ? [401, { title: 'Unauthorized', status: 401 }] : baseHandler([])(m, url, null)));
    await until(() => text().includes('Your session has expired'));
    expect(root.querySelector('input[name="password"]')).not.toBeNull();
  });

  it('lists API tokens with Never, Expired and near-expiry markers, names as text', async () => {
    mount(
      baseHandler([
        apiToken('t1', '<script>alert(1)</script><b>x</b>'),
        apiToken('t2', 'Old', { expires_at: past, status: 'expired', last_used_at: '2026-01-05T10:00:00Z' }),
        apiToken('t3', 'Soon', { expires_at: soon }),
      ]),
    );
    await until(() => root.querySelectorAll('tbody tr').length === 3);
    const headers = [...root.querySelectorAll('thead th')].map((th) => th.textContent?.trim());
    expect(headers.slice(1, 8)).toEqual(['Token Name', 'Associated User', 'Department', 'User Type', 'Expiry Date', 'Last Used', 'Created']);
    for (const th of root.querySelectorAll('thead th')) expect(th.getAttribute('scope')).toBe('col');
    const rows = [...root.querySelectorAll('tbody tr')];
    expect(rows[0].textContent).toContain('<script>alert(1)</script><b>x</b>');
    expect(root.querySelector('tbody script, tbody b')).toBeNull();
    expect(rows[0].textContent).toContain('Never');
    expect(rows[1].textContent).toContain('Expired');
    expect(rows[2].textContent).toMatch(/Expires in \d days/);
    expect(byLabel('Select Old')).not.toBeNull();
  });

  it('selects rows and confirms deletion saying what stops working', async () => {
    mount(baseHandler([apiToken('t1', 'A'), apiToken('t2', 'B'), apiToken('t3', 'C')]));
    await until(() => root.querySelectorAll('tbody tr').length === 3);
    act(() => byLabel('Select A')!.click());
    act(() => byLabel('Select C')!.click());
    const del = [...root.querySelectorAll('button')].find((b) => b.textContent?.startsWith('Delete (2)'))!;
    expect(del).toBeDefined();
    act(() => del.click());
    const dialog = await until(() => root.querySelector('dialog'));
    expect(dialog.textContent).toContain('Any integration using these 2 tokens will stop working immediately.');
    const confirm = [...dialog.querySelectorAll('button')].find((b) => b.textContent === 'Delete 2 tokens')!;
    act(() => confirm.click());
    await until(() => requests.some((r) => r.url.pathname === '/api/v1/tokens/delete'));
    const req = requests.find((r) => r.url.pathname === '/api/v1/tokens/delete')!;
    expect(req.body).toEqual({ ids: ['t1', 't3'] });
    expect(req.headers['X-CSRF-Token']).toBe('csrf-1');
  });

  it('lists mobile users with the guide columns', async () => {
    location.hash = '#/tokens/mobile';
    mount(baseHandler([mobile]));
    await until(() => root.querySelectorAll('tbody tr').length === 1);
    const headers = [...root.querySelectorAll('thead th')].map((th) => th.textContent?.trim());
    expect(headers.slice(1, 7)).toEqual(['User Name', 'Email', 'Department', 'User Type', 'Last Active', 'Expiry Date']);
    expect(root.querySelector('tbody')!.textContent).toContain('bob@example.com');
  });

  it('keeps what was typed when the network fails on Save, and shows a banner', async () => {
    location.hash = '#/tokens/api/new';
    let offline = false;
    const handler = baseHandler([]);
    sessionStorage.setItem('tokend.csrf', 'csrf-1');
    const api = new ApiClient(
      (async (input: RequestInfo | URL, init?: RequestInit) => {
        if (offline) throw new TypeError('Failed to fetch');
        return fakeFetch(handler)(input, init);
      }) as typeof fetch,
      sessionStorage,
    );
    act(() => render(<App api={api} />, root));
    const select = await until(() => root.querySelector<HTMLSelectElement>('select[name="user_id"] option[value="u2"]') && root.querySelector<HTMLSelectElement>('select[name="user_id"]'));
    const name = root.querySelector<HTMLInputElement>('input[name="name"]')!;
    const expiry = root.querySelector<HTMLInputElement>('input[name="expires_at"]')!;
    expect(expiry.value).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    act(() => {
      name.value = 'Payroll';
      name.dispatchEvent(new Event('input', { bubbles: true }));
      select.value = 'u2';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    const membership = root.querySelector<HTMLSelectElement>('select[name="membership"]')!;
    expect(membership.value).toBe('d1|ut1');
    offline = true;
    act(() => {
      root.querySelector('form')!.dispatchEvent(new Event('submit', { cancelable: true, bubbles: true }));
    });
    await until(() => text().includes('The server could not be reached'));
    expect(root.querySelector<HTMLInputElement>('input[name="name"]')!.value).toBe('Payroll');
    expect(root.querySelector('[role="alert"]')!.textContent).toContain('Your entries are kept');
  });
});

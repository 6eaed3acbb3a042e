import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, NetworkError, auditFields, parseProblem } from './api';

class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

function json(status: number, body: unknown, type = 'application/json') {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': type },
  });
}

function client(responses: Response[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchImpl = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const r = responses.shift();
    if (!r) throw new Error('no more responses');
    return r;
  });
  const storage = new MemoryStorage();
  const api = new ApiClient(fetchImpl as unknown as typeof fetch, storage);
  return { api, calls, storage };
}

const header = (init: RequestInit, name: string) =>
  (init.headers as Record<string, string> | undefined)?.[name];

describe('ApiClient', () => {
  it('keeps the CSRF token from the login answer and sends it on POST, PATCH and DELETE only', async () => {
    const { api, calls, storage } = client([
      json(200, { csrf_token: 'csrf-123', user: { id: 'u1', username: 'admin' } }),
      json(200, { items: [], next_cursor: null }),
      json(201, { id: 't1' }),
      json(200, { id: 'u1' }),
      new Response(null, { status: 204 }),
    ]);
    await api.login('default', 'admin', 'pw');
    expect(storage.getItem('tokend.csrf')).toBe('csrf-123');
    expect(header(calls[0].init, 'X-CSRF-Token')).toBeUndefined();
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ tenant: 'default', username: 'admin', password: 'pw' });

    await api.listTokens({ kind: 'api' });
    expect(header(calls[1].init, 'X-CSRF-Token')).toBeUndefined();
    expect(calls[1].init.credentials).toBe('same-origin');

    await api.createToken({ name: 'n', expires_at: '2030-01-01', user_id: 'u', department_id: 'd', user_type_id: 't' });
    expect(calls[2].init.method).toBe('POST');
    expect(header(calls[2].init, 'X-CSRF-Token')).toBe('csrf-123');

    await api.updateUser('u1', { active: false });
    expect(calls[3].init.method).toBe('PATCH');
    expect(header(calls[3].init, 'X-CSRF-Token')).toBe('csrf-123');

    await api.deleteToken('t/1');
    expect(calls[4].url).toBe('/api/v1/tokens/t%2F1');
    expect(header(calls[4].init, 'X-CSRF-Token')).toBe('csrf-123');
  });

  it('restores the CSRF token from sessionStorage after a reload', async () => {
    const storage = new MemoryStorage();
    storage.setItem('tokend.csrf', 'saved');
    const fetchImpl = vi.fn(async () => json(200, { deleted: ['a'], not_found: [] }));
    const api = new ApiClient(fetchImpl as unknown as typeof fetch, storage);
    expect(api.hasSession).toBe(true);
    await api.deleteTokens(['a']);
    const init = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(init[0]).toBe('/api/v1/tokens/delete');
    expect(header(init[1], 'X-CSRF-Token')).toBe('saved');
    expect(JSON.parse(String(init[1].body))).toEqual({ ids: ['a'] });
  });

  it('builds the token list query without empty parameters', async () => {
    const { api, calls } = client([json(200, { items: [], next_cursor: null })]);
    await api.listTokens({ kind: 'mobile', q: 'a b', user_id: '', status: 'expired', sort: '-name', limit: 25, cursor: 'c1' });
    expect(calls[0].url).toBe('/api/v1/tokens?kind=mobile&q=a+b&status=expired&sort=-name&limit=25&cursor=c1');
  });

  it('turns problem+json into an ApiError with field errors', async () => {
    const { api } = client([
      json(
        422,
        {
          type: 'about:blank',
          title: 'Invalid request',
          status: 422,
          detail: 'expires_at is beyond the maximum lifetime',
          errors: [{ field: 'expires_at', message: 'must be at most 365 days from today' }],
        },
        'application/problem+json',
      ),
    ]);
    const err = await api
      .createToken({ name: 'n', expires_at: '2099-01-01', user_id: 'u', department_id: 'd', user_type_id: 't' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(422);
    expect(err.fieldErrors).toEqual({ expires_at: 'must be at most 365 days from today' });
    expect(err.message).toBe('expires_at is beyond the maximum lifetime');
  });

  it('calls onUnauthorized and forgets the CSRF token on a 401', async () => {
    const { api, storage } = client([
      json(200, { csrf_token: 'c', user: {} }),
      json(401, { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'session expired', errors: [] }),
    ]);
    const onUnauthorized = vi.fn();
    api.onUnauthorized = onUnauthorized;
    await api.login('default', 'a', 'b');
    await expect(api.me()).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(api.hasSession).toBe(false);
    expect(storage.getItem('tokend.csrf')).toBeNull();
  });

  it('does not treat a failed login (401) as an ended session', async () => {
    const { api } = client([json(401, { title: 'Unauthorized', status: 401 })]);
    const onUnauthorized = vi.fn();
    api.onUnauthorized = onUnauthorized;
    await expect(api.login('default', 'a', 'wrong')).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('reports an unreachable server as a NetworkError', async () => {
    const fetchImpl = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    const api = new ApiClient(fetchImpl as unknown as typeof fetch, new MemoryStorage());
    await expect(api.listUsers()).rejects.toBeInstanceOf(NetworkError);
  });
});

describe('parseProblem', () => {
  it('tolerates bodies that are not problems', () => {
    expect(parseProblem(503, 'oops')).toEqual({
      type: 'about:blank',
      title: 'The service is unavailable, please try again shortly',
      status: 503,
      detail: '',
      errors: [],
    });
    expect(parseProblem(422, { errors: [{ field: 'name' }, null, 'x'] }).errors).toEqual([{ field: 'name', message: '' }]);
  });
});

describe('auditFields', () => {
  it('reads the actor, target and details of an event', () => {
    const f = auditFields({
      id: 'e1',
      action: 'token.delete',
      time: '2026-01-02T03:04:05Z',
      actor: { id: 'u1', username: 'admin' },
      target: { type: 'token', id: 't1' },
      client_ip: '127.0.0.1',
      details: { id: 't1', name: 'CI', user: 'bob', user_id: 'u2' },
    });
    expect(f).toEqual({
      time: '2026-01-02T03:04:05Z',
      actor: 'admin',
      actorId: 'u1',
      target: 'token CI',
      ip: '127.0.0.1',
      details: 'user: bob',
    });
  });
});

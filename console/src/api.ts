// The typed client of tokend's public JSON API (DESIGN.md §3). The console talks to the
// server only through this module.
//
// Contracts:
//  - Every request carries the session cookie (credentials: "same-origin").
//  - Every POST/PATCH/DELETE carries X-CSRF-Token: the token from the login answer, kept in
//    memory and in sessionStorage (so a reload keeps the session, a new tab does not).
//  - A non-2xx answer becomes an ApiError holding the RFC 9457 problem and its field errors;
//    a failed fetch (server unreachable) becomes a NetworkError.
//  - A 401 on anything but the login request itself means the session ended: the client
//    forgets the CSRF token and calls onUnauthorized (the app returns to the sign-in page).

export type Id = string;
/** RFC 3339 UTC time. */
export type Time = string;

export const PERMISSIONS = [
  'tokens:read',
  'tokens:write',
  'tokens:reveal',
  'users:read',
  'users:write',
  'departments:read',
  'departments:write',
  'user_types:read',
  'user_types:write',
  'audit:read',
  'introspect',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface UserRef {
  id: Id;
  username: string;
  email: string;
  display_name: string;
}

export interface NamedRef {
  id: Id;
  name: string;
}

export type TokenStatus = 'active' | 'expired';

export interface ApiToken {
  id: Id;
  kind: 'api';
  name: string;
  description: string | null;
  /** The token string: only in the create and reveal answers. */
  token?: string | null;
  token_hint: string;
  revealable: boolean;
  tenant_id: Id;
  usage: string;
  expires_at: Time;
  status: TokenStatus;
  created_at: Time;
  created_by: { id: Id; username: string } | null;
  last_used_at: Time | null;
  last_used_ip: string | null;
  user: UserRef;
  department: NamedRef;
  user_type: NamedRef;
}

export interface MobileToken {
  id: Id;
  kind: 'mobile';
  user: UserRef;
  department: NamedRef;
  user_type: NamedRef;
  device_name: string;
  last_active_at: Time | null;
  expires_at: Time;
  status: TokenStatus;
  created_at: Time;
  token?: string | null;
}

export type Token = ApiToken | MobileToken;
export type TokenKind = Token['kind'];

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Department {
  id: Id;
  name: string;
  parent_id: Id | null;
}

export interface UserType {
  id: Id;
  name: string;
  permissions: string[];
}

export interface Membership {
  department_id: Id;
  user_type_id: Id;
}

export interface User {
  id: Id;
  username: string;
  email: string;
  display_name: string;
  active: boolean;
  memberships: Membership[];
}

export interface Me {
  tenant_id: Id;
  user: UserRef;
  department: NamedRef | null;
  user_type: NamedRef | null;
  permissions: string[];
  token: { id: Id; kind: TokenKind; expires_at: Time } | null;
}

export interface LoginAnswer {
  csrf_token: string;
  user: UserRef;
}

/** An audit event. Field names beyond id/action follow the server; read through auditFields(). */
export interface AuditEvent {
  id: Id;
  action: string;
  time?: Time;
  created_at?: Time;
  actor?: { id: Id | null; username: string } | null;
  actor_user_id?: Id | null;
  actor_username?: string | null;
  target?: { type: string; id: string } | null;
  target_type?: string | null;
  target_id?: string | null;
  client_ip?: string | null;
  details?: Record<string, unknown> | null;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: FieldError[];
}

export interface CreateApiTokenRequest {
  name: string;
  description?: string;
  expires_at: string;
  user_id: Id;
  department_id: Id;
  user_type_id: Id;
}

export interface TokenQuery {
  kind: TokenKind;
  q?: string;
  user_id?: Id;
  department_id?: Id;
  user_type_id?: Id;
  status?: TokenStatus | '';
  sort?: string;
  limit?: number;
  cursor?: string | null;
}

export interface UserInput {
  username?: string;
  email?: string;
  display_name?: string;
  password?: string;
  active?: boolean;
  memberships?: Membership[];
}

export interface AuditQuery {
  action?: string;
  /** The actor's user id. */
  actor?: Id;
  limit?: number;
  cursor?: string | null;
}

/** The server answered with an error status. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  /** field name → message, from problem.errors. */
  readonly fieldErrors: Record<string, string>;

  constructor(problem: Problem) {
    super(problem.detail || problem.title || `Request failed (${problem.status})`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.problem = problem;
    this.fieldErrors = {};
    for (const e of problem.errors) {
      if (e.field && !(e.field in this.fieldErrors)) this.fieldErrors[e.field] = e.message;
    }
  }
}

/** The server could not be reached (or answered something that is not HTTP). */
export class NetworkError extends Error {
  constructor(message = 'The server could not be reached. Check your connection and try again.') {
    super(message);
    this.name = 'NetworkError';
  }
}

const STATUS_TITLES: Record<number, string> = {
  400: 'The request was not understood',
  401: 'Not signed in',
  403: 'You do not have permission to do this',
  404: 'Not found',
  409: 'Conflict',
  413: 'The request is too large',
  422: 'Some fields need attention',
  429: 'Too many requests, please wait a moment',
  503: 'The service is unavailable, please try again shortly',
};

/** Turns any error body into a Problem; tolerant of missing or malformed fields. */
export function parseProblem(status: number, body: unknown): Problem {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const errors: FieldError[] = Array.isArray(b.errors)
    ? (b.errors as unknown[])
        .filter((e): e is Record<string, unknown> => !!e && typeof e === 'object')
        .map((e) => ({
          field: typeof e.field === 'string' ? e.field : '',
          message: typeof e.message === 'string' ? e.message : String(e.message ?? ''),
        }))
    : [];
  const title =
    typeof b.title === 'string' && b.title ? b.title : STATUS_TITLES[status] ?? `Error ${status}`;
  return {
    type: typeof b.type === 'string' ? b.type : 'about:blank',
    title,
    status: typeof b.status === 'number' ? b.status : status,
    detail: typeof b.detail === 'string' ? b.detail : '',
    errors,
  };
}

/** A message for a person: detail, else title. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.problem.detail || err.problem.title;
  if (err instanceof NetworkError) return err.message;
  if (err instanceof Error) return err.message;
  return 'Something went wrong.';
}

export interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const CSRF_KEY = 'tokend.csrf';
const UNSAFE = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

function queryString(params: Record<string, string | number | null | undefined>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  }
  const out = s.toString();
  return out ? `?${out}` : '';
}

export class ApiClient {
  private csrf: string | null;
  /** Called once per 401 on a session request (the session ended). */
  onUnauthorized: () => void = () => {};

  constructor(
    private readonly fetchImpl: typeof fetch = (...a) => fetch(...a),
    private readonly storage: Storage | null = typeof sessionStorage !== 'undefined'
      ? sessionStorage
      : null,
    private readonly base = '',
  ) {
    this.csrf = this.storage?.getItem(CSRF_KEY) ?? null;
  }

  get hasSession(): boolean {
    return this.csrf !== null;
  }

  setCsrf(token: string | null): void {
    this.csrf = token;
    if (token === null) this.storage?.removeItem(CSRF_KEY);
    else this.storage?.setItem(CSRF_KEY, token);
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    opts: { authRequest?: boolean } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (UNSAFE.has(method) && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new NetworkError();
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text().catch(() => '');
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!res.ok) {
      const err = new ApiError(parseProblem(res.status, parsed));
      if (res.status === 401 && !opts.authRequest) {
        this.setCsrf(null);
        this.onUnauthorized();
      }
      throw err;
    }
    if (parsed === undefined && text) throw new NetworkError('The server sent an unreadable answer.');
    return parsed as T;
  }

  // Session.
  async login(tenant: string, username: string, password: string): Promise<LoginAnswer> {
    const answer = await this.request<LoginAnswer>(
      'POST',
      '/api/v1/auth/login',
      { tenant, username, password },
      { authRequest: true },
    );
    this.setCsrf(answer.csrf_token);
    return answer;
  }

  async logout(): Promise<void> {
    try {
      await this.request<void>('POST', '/api/v1/auth/logout', undefined, { authRequest: true });
    } finally {
      this.setCsrf(null);
    }
  }

  me(): Promise<Me> {
    return this.request('GET', '/api/v1/me');
  }

  // Tokens.
  listTokens(q: TokenQuery): Promise<Page<Token>> {
    return this.request(
      'GET',
      `/api/v1/tokens${queryString({
        kind: q.kind,
        q: q.q,
        user_id: q.user_id,
        department_id: q.department_id,
        user_type_id: q.user_type_id,
        status: q.status,
        sort: q.sort,
        limit: q.limit,
        cursor: q.cursor,
      })}`,
    );
  }
  getToken(id: Id): Promise<Token> {
    return this.request('GET', `/api/v1/tokens/${encodeURIComponent(id)}`);
  }
  createToken(req: CreateApiTokenRequest): Promise<ApiToken> {
    return this.request('POST', '/api/v1/tokens', req);
  }
  deleteToken(id: Id): Promise<void> {
    return this.request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
  }
  deleteTokens(ids: Id[]): Promise<{ deleted: Id[]; not_found: Id[] }> {
    return this.request('POST', '/api/v1/tokens/delete', { ids });
  }
  revealToken(id: Id): Promise<{ token: string }> {
    return this.request('POST', `/api/v1/tokens/${encodeURIComponent(id)}/reveal`);
  }

  // Directory.
  listUsers(q: { q?: string; limit?: number; cursor?: string | null } = {}): Promise<Page<User>> {
    return this.request('GET', `/api/v1/users${queryString(q)}`);
  }
  getUser(id: Id): Promise<User> {
    return this.request('GET', `/api/v1/users/${encodeURIComponent(id)}`);
  }
  createUser(input: UserInput): Promise<User> {
    return this.request('POST', '/api/v1/users', input);
  }
  updateUser(id: Id, input: UserInput): Promise<User> {
    return this.request('PATCH', `/api/v1/users/${encodeURIComponent(id)}`, input);
  }
  deleteUser(id: Id): Promise<void> {
    return this.request('DELETE', `/api/v1/users/${encodeURIComponent(id)}`);
  }

  async listDepartments(): Promise<Department[]> {
    return itemsOf(await this.request<Page<Department> | Department[]>('GET', '/api/v1/departments'));
  }
  createDepartment(input: { name: string; parent_id: Id }): Promise<Department> {
    return this.request('POST', '/api/v1/departments', input);
  }
  updateDepartment(id: Id, input: { name?: string; parent_id?: Id }): Promise<Department> {
    return this.request('PATCH', `/api/v1/departments/${encodeURIComponent(id)}`, input);
  }
  deleteDepartment(id: Id): Promise<void> {
    return this.request('DELETE', `/api/v1/departments/${encodeURIComponent(id)}`);
  }

  async listUserTypes(): Promise<UserType[]> {
    return itemsOf(await this.request<Page<UserType> | UserType[]>('GET', '/api/v1/user-types'));
  }
  createUserType(input: { name: string; permissions: string[] }): Promise<UserType> {
    return this.request('POST', '/api/v1/user-types', input);
  }
  updateUserType(id: Id, input: { name?: string; permissions?: string[] }): Promise<UserType> {
    return this.request('PATCH', `/api/v1/user-types/${encodeURIComponent(id)}`, input);
  }
  deleteUserType(id: Id): Promise<void> {
    return this.request('DELETE', `/api/v1/user-types/${encodeURIComponent(id)}`);
  }

  listAudit(q: AuditQuery = {}): Promise<Page<AuditEvent>> {
    return this.request('GET', `/api/v1/audit-events${queryString({ ...q })}`);
  }
}

/** Lists arrive as {items, next_cursor}; tolerate a bare array too. */
export function itemsOf<T>(answer: Page<T> | T[]): T[] {
  return Array.isArray(answer) ? answer : answer.items ?? [];
}

/** The fields of an audit event, whatever spelling the server uses. */
export function auditFields(e: AuditEvent): {
  time: Time | null;
  actor: string;
  actorId: Id | null;
  target: string;
  ip: string;
  details: string;
} {
  const actor = e.actor?.username ?? e.actor_username ?? '';
  const actorId = e.actor?.id ?? e.actor_user_id ?? null;
  const d: Record<string, unknown> = e.details && typeof e.details === 'object' ? e.details : {};
  const targetType = e.target?.type ?? e.target_type ?? '';
  const targetId = e.target?.id ?? e.target_id ?? '';
  const targetName = typeof d.name === 'string' && d.name ? d.name : typeof d.username === 'string' ? d.username : '';
  const target = [targetType, targetName || targetId].filter(Boolean).join(' ');
  // Ids are in the target and the JSON; the table shows the names.
  const details = Object.entries(d)
    .filter(([k]) => k !== 'id' && !k.endsWith('_id') && !(k === 'name' && targetName))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return { time: e.time ?? e.created_at ?? null, actor, actorId, target, ip: e.client_ip ?? '', details };
}

/** The one client the app uses. */
export const api = new ApiClient();

// The "Administrator/Tokens" guide end to end (spec/administrator-tokens-guide.txt, DESIGN.md §3):
// an administrator builds the directory, creates an API token with the guide's fields, lists,
// inspects and reveals it; the token works and is scoped; a mobile user signs in and shows up in
// the mobile list; multi-select delete revokes at once; introspection and /auth/verify agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import {
  anonClient, bearerClient, dateFromToday, login, request, waitFor, wellFormedUnknownToken,
} from '../lib/tokend.mjs';
import {
  createApiToken, createDepartment, createUser, createUserType, mobileLogin, unique,
} from '../lib/fixtures.mjs';

const ctx = useServer();
const S = {}; // state shared by the steps below, in order

const API_TOKEN_FIELDS = ['id', 'kind', 'name', 'description', 'token_hint', 'revealable', 'tenant_id', 'usage',
  'expires_at', 'status', 'created_at', 'created_by', 'last_used_at', 'last_used_ip', 'user', 'department',
  'user_type'];
const MOBILE_TOKEN_FIELDS = ['id', 'kind', 'user', 'department', 'user_type', 'device_name', 'last_active_at',
  'expires_at', 'status', 'created_at'];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function assertHasFields(obj, fields, what) {
  for (const f of fields) assert.ok(Object.hasOwn(obj, f), `${what} has field ${f}: ${JSON.stringify(obj)}`);
}

test('the bootstrap admin is signed in with a session cookie and a CSRF token', async () => {
  const { admin } = ctx;
  assert.equal(admin.user.username, 'admin');
  const cookie = admin.loginResponse.headers.get('set-cookie');
  assert.match(cookie, /HttpOnly/i, 'session cookie is HttpOnly');
  assert.match(cookie, /SameSite=Strict/i, 'session cookie is SameSite=Strict');
  assert.ok(!admin.loginResponse.text.includes(ctx.server.adminPassword), 'the password is not echoed');
  const me = await admin.get('/api/v1/me');
  assert.equal(me.status, 200);
  assert.equal(me.json.token, null, 'a console session has token: null');
  assert.equal(me.json.user_type.name, 'Administrator');
  assert.equal(me.json.department.id, ctx.ids.rootId);
});

test('the administrator creates departments, a user type and a user with a membership', async () => {
  const { admin, ids } = ctx;
  S.ops = await createDepartment(admin, 'Operations', ids.rootId);
  assert.equal(S.ops.parent_id, ids.rootId);
  assert.equal(S.ops.name, 'Operations');
  S.field = await createDepartment(admin, 'Field Team', S.ops.id);
  S.other = await createDepartment(admin, 'Finance', ids.rootId);
  S.type = await createUserType(admin, 'Integration', ['tokens:read', 'users:read', 'departments:read']);
  assert.deepEqual([...S.type.permissions].sort(), ['departments:read', 'tokens:read', 'users:read']);
  S.user = await createUser(admin, {
    username: 'integrator', email: 'integrator@example.test', display_name: 'ERP Integrator',
    memberships: [{ department_id: S.field.id, user_type_id: S.type.id }],
  });
  assert.equal(S.user.active, true);
  assert.deepEqual(S.user.memberships, [{ department_id: S.field.id, user_type_id: S.type.id }]);
  assert.ok(!('password' in (await admin.get(`/api/v1/users/${S.user.id}`)).json), 'password is never returned');
});

test('creating an API token with the guide\'s fields answers 201, Location and the token string', async () => {
  const { admin, ids } = ctx;
  S.expiryDate = dateFromToday(180);
  const res = await admin.post('/api/v1/tokens', {
    name: 'ERP sync', description: 'Nightly ERP import', expires_at: S.expiryDate,
    user_id: S.user.id, department_id: S.field.id, user_type_id: S.type.id,
  });
  assert.equal(res.status, 201, res.text);
  const t = res.json;
  assert.match(t.token, /^tka_[0-9A-Za-z]{49}$/);
  assert.match(res.headers.get('location'), new RegExp(`/api/v1/tokens/${t.id}$`));
  assert.ok(!res.headers.get('location').includes(t.token.slice(4)), 'the secret never goes into a URL');
  assert.ok(!t.id.includes(t.token.slice(4, 20)) && !t.token.includes(t.id), 'the id is not derived from the secret');
  assertHasFields(t, API_TOKEN_FIELDS, 'create answer');
  assert.equal(t.kind, 'api');
  assert.equal(t.name, 'ERP sync');
  assert.equal(t.description, 'Nightly ERP import');
  assert.equal(t.status, 'active');
  assert.equal(t.tenant_id, ids.tenantId);
  assert.ok(t.expires_at.startsWith(S.expiryDate), `expires_at ${t.expires_at} is on ${S.expiryDate}`);
  assert.match(t.expires_at, RFC3339);
  assert.match(t.created_at, RFC3339);
  assert.deepEqual(t.created_by, { id: ids.adminUserId, username: 'admin' });
  assert.equal(t.last_used_at, null);
  assert.equal(t.last_used_ip, null);
  assert.deepEqual(t.user, { id: S.user.id, username: 'integrator', email: 'integrator@example.test', display_name: 'ERP Integrator' });
  assert.deepEqual(t.department, { id: S.field.id, name: 'Field Team' });
  assert.deepEqual(t.user_type, { id: S.type.id, name: 'Integration' });
  assert.ok(t.token_hint.startsWith('tka_') && t.token_hint.endsWith(t.token.slice(-4)), `token_hint ${t.token_hint}`);
  S.tok = t;
  S.secret = t.token;
  // An administrator's own token at the root, for the scope checks below.
  S.rootTok = await createApiToken(admin, {
    name: 'Root token', user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId,
  });
});

test('the API token list shows the token without its string', async () => {
  const res = await ctx.admin.get('/api/v1/tokens?kind=api');
  assert.equal(res.status, 200, res.text);
  assert.ok(Array.isArray(res.json.items));
  assert.ok('next_cursor' in res.json, 'next_cursor present (null on the last page)');
  const row = res.json.items.find((i) => i.id === S.tok.id);
  assert.ok(row, 'the new token is listed');
  assert.equal(row.name, 'ERP sync');
  assert.equal(row.kind, 'api');
  assert.ok(!('token' in row) || row.token === undefined, 'the list never carries the token string');
  assert.ok(!res.text.includes(S.secret), 'the secret is nowhere in the list');
  // default sort is -created_at (whole seconds: ties are possible, so check the order of times)
  const times = res.json.items.map((i) => Date.parse(i.created_at));
  assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first by default');
  const q = await ctx.admin.get('/api/v1/tokens?kind=api&q=erp%20SY');
  assert.equal(q.status, 200);
  assert.deepEqual(q.json.items.map((i) => i.id), [S.tok.id], 'q= is a case-insensitive substring');
  const byDept = await ctx.admin.get(`/api/v1/tokens?kind=api&department_id=${S.field.id}`);
  assert.deepEqual(byDept.json.items.map((i) => i.id), [S.tok.id], 'department_id filter');
});

test('inspecting the token shows every field of the guide: tenant id, usage, revealable', async () => {
  const res = await ctx.admin.get(`/api/v1/tokens/${S.tok.id}`);
  assert.equal(res.status, 200, res.text);
  const t = res.json;
  assertHasFields(t, API_TOKEN_FIELDS, 'detail');
  assert.equal(t.tenant_id, ctx.ids.tenantId);
  assert.equal(t.revealable, true, 'the admin holds tokens:reveal and reveal is on');
  assert.equal(typeof t.usage, 'string');
  assert.match(t.usage, /curl/, 'usage has a ready curl line');
  assert.match(t.usage, /Authorization: Bearer/i, 'usage shows the Authorization header');
  assert.ok(!res.text.includes(S.secret), 'the detail view never carries the secret');
  assert.equal(t.token, undefined, 'no token field in the detail view');
  assert.deepEqual({ ...t, usage: undefined, revealable: undefined, token: undefined },
    { ...S.tok, usage: undefined, revealable: undefined, token: undefined, last_used_at: t.last_used_at, last_used_ip: t.last_used_ip },
    'detail matches the create answer');
});

test('reveal answers the same token string with Cache-Control: no-store and is audited', async () => {
  const res = await ctx.admin.post(`/api/v1/tokens/${S.tok.id}/reveal`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.token, S.secret);
  assert.match(res.headers.get('cache-control') ?? '', /no-store/);
  const audit = await ctx.admin.get(`/api/v1/audit-events?target=${S.tok.id}`);
  assert.equal(audit.status, 200, audit.text);
  assert.ok(audit.json.items.length >= 2, `create and reveal are audited: ${audit.text}`);
  assert.ok(audit.json.items.some((e) => /reveal/.test(e.action)), 'a reveal event');
  assert.ok(!audit.text.includes(S.secret), 'the audit trail never holds the secret');
});

test('the token calls /api/v1/me and sees its principal', async () => {
  const me = await bearerClient(ctx.server, S.secret).get('/api/v1/me');
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.tenant_id, ctx.ids.tenantId);
  assert.equal(me.json.user.id, S.user.id);
  assert.equal(me.json.user.username, 'integrator');
  assert.equal(me.json.department.id, S.field.id);
  assert.equal(me.json.user_type.id, S.type.id);
  assert.deepEqual([...me.json.permissions].sort(), ['departments:read', 'tokens:read', 'users:read']);
  assert.equal(me.json.token.id, S.tok.id);
  assert.equal(me.json.token.kind, 'api');
  assert.equal(me.json.token.expires_at, S.tok.expires_at);
});

test('the token lists only what lies in its department subtree', async () => {
  const c = bearerClient(ctx.server, S.secret);
  const list = await c.get('/api/v1/tokens?kind=api');
  assert.equal(list.status, 200, list.text);
  const ids = list.json.items.map((i) => i.id);
  assert.ok(ids.includes(S.tok.id), 'its own token');
  assert.ok(!ids.includes(S.rootTok.id), 'not the root department\'s token');
  const other = await c.get(`/api/v1/tokens/${S.rootTok.id}`);
  assert.equal(other.status, 404, 'a token outside the subtree is not found');
  const deps = await c.get('/api/v1/departments');
  assert.equal(deps.status, 200, deps.text);
  assert.deepEqual(deps.json.items.map((d) => d.id).sort(), [S.field.id].sort(), 'only its subtree of departments');
  const users = await c.get('/api/v1/users');
  assert.equal(users.status, 200, users.text);
  assert.ok(users.json.items.some((u) => u.id === S.user.id));
  assert.ok(!users.json.items.some((u) => u.id === ctx.ids.adminUserId), 'the root admin is outside the subtree');
  const create = await c.post('/api/v1/tokens', {
    name: 'x', expires_at: dateFromToday(10), user_id: S.user.id, department_id: S.field.id, user_type_id: S.type.id,
  });
  assert.equal(create.status, 403, `no tokens:write → 403: ${create.text}`);
  assert.match(create.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
});

test('use is recorded: last_used_at and last_used_ip appear (write-behind, polled)', async () => {
  const t = await waitFor(async () => {
    const r = await ctx.admin.get(`/api/v1/tokens/${S.tok.id}`);
    return r.json?.last_used_at ? r.json : null;
  }, { timeoutMs: 20_000, intervalMs: 250, message: 'last_used_at of the API token' });
  assert.match(t.last_used_at, RFC3339);
  assert.equal(t.last_used_ip, '127.0.0.1');
  assert.ok(Date.parse(t.last_used_at) >= Date.parse(t.created_at));
});

test('a mobile sign-in creates a mobile token that shows in the mobile list', async () => {
  const m = await mobileLogin(ctx.server, { username: 'integrator', password: S.user.password, device_name: 'Pixel 8' });
  assertHasFields(m, MOBILE_TOKEN_FIELDS, 'mobile login answer');
  assert.equal(m.kind, 'mobile');
  assert.equal(m.device_name, 'Pixel 8');
  assert.equal(m.user.id, S.user.id);
  assert.equal(m.user.email, 'integrator@example.test');
  assert.equal(m.department.id, S.field.id, 'default membership: the first');
  assert.equal(m.user_type.id, S.type.id);
  assert.equal(m.status, 'active');
  assert.ok(Date.parse(m.expires_at) > Date.now() + 29 * 86_400_000, 'expires ~30 days ahead');
  assert.ok(Date.parse(m.expires_at) <= Date.now() + 181 * 86_400_000);
  S.mobile = m;
  const list = await ctx.admin.get('/api/v1/tokens?kind=mobile');
  assert.equal(list.status, 200, list.text);
  const row = list.json.items.find((i) => i.id === m.id);
  assert.ok(row, 'listed among Mobile Users Logged In');
  assertHasFields(row, MOBILE_TOKEN_FIELDS, 'mobile row');
  assert.ok(!list.text.includes(m.token));
  const apiList = await ctx.admin.get('/api/v1/tokens?kind=api');
  assert.ok(!apiList.json.items.some((i) => i.id === m.id), 'not in the API token list');
  const reveal = await ctx.admin.post(`/api/v1/tokens/${m.id}/reveal`);
  assert.notEqual(reveal.status, 200, 'mobile tokens are never revealable');
  assert.ok(reveal.status >= 400 && reveal.status < 500, `${reveal.status}`);
  assert.ok(!reveal.text.includes(m.token));
});

test('the mobile token works and its last_active_at appears after use', async () => {
  const me = await bearerClient(ctx.server, S.mobile.token).get('/api/v1/me');
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.token.kind, 'mobile');
  assert.equal(me.json.token.id, S.mobile.id);
  const row = await waitFor(async () => {
    const r = await ctx.admin.get(`/api/v1/tokens/${S.mobile.id}`);
    return r.json?.last_active_at ? r.json : null;
  }, { timeoutMs: 20_000, intervalMs: 250, message: 'last_active_at of the mobile token' });
  assert.match(row.last_active_at, RFC3339);
  assert.equal(row.device_name, 'Pixel 8');
  assert.equal(row.user.username, 'integrator');
});

test('/auth/verify answers 204 with the X-Auth-* headers, and 403 for a missing ?permission=', async () => {
  const c = bearerClient(ctx.server, S.secret);
  const ok = await c.get('/auth/verify');
  assert.equal(ok.status, 204, ok.text);
  assert.equal(ok.headers.get('x-auth-tenant-id'), ctx.ids.tenantId);
  assert.equal(ok.headers.get('x-auth-user-id'), S.user.id);
  assert.equal(ok.headers.get('x-auth-username'), 'integrator');
  assert.equal(ok.headers.get('x-auth-department-id'), S.field.id);
  assert.equal(ok.headers.get('x-auth-user-type-id'), S.type.id);
  assert.deepEqual(ok.headers.get('x-auth-permissions').split(' ').sort(), ['departments:read', 'tokens:read', 'users:read']);
  assert.equal((await c.get('/auth/verify?permission=tokens:read')).status, 204);
  const denied = await c.get('/auth/verify?permission=users:write');
  assert.equal(denied.status, 403, denied.text);
  assert.match(denied.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  const none = await anonClient(ctx.server).get('/auth/verify');
  assert.equal(none.status, 401);
  const mob = await bearerClient(ctx.server, S.mobile.token).get('/auth/verify');
  assert.equal(mob.status, 204, 'mobile tokens verify too');
});

test('introspection: active with the RFC 7662 fields, inactive as {"active": false} only', async () => {
  const introspector = bearerClient(ctx.server, S.rootTok.token);
  const form = await introspector.request('POST', '/oauth2/introspect', {
    rawBody: `token=${encodeURIComponent(S.secret)}`,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(form.status, 200, form.text);
  const r = form.json;
  assert.equal(r.active, true);
  assert.equal(r.sub, S.user.id);
  assert.equal(r.username, 'integrator');
  assert.equal(r.tenant_id, ctx.ids.tenantId);
  assert.equal(r.department_id, S.field.id);
  assert.equal(r.user_type_id, S.type.id);
  assert.equal(r.exp, Math.floor(Date.parse(S.tok.expires_at) / 1000));
  assert.equal(r.iat, Math.floor(Date.parse(S.tok.created_at) / 1000));
  assert.deepEqual(r.scope.split(' ').sort(), ['departments:read', 'tokens:read', 'users:read']);
  const json = await introspector.post('/oauth2/introspect', { token: S.secret });
  assert.equal(json.status, 200, json.text);
  assert.equal(json.json.active, true, 'JSON body is accepted too');
  const mistyped = `${S.secret.slice(0, -1)}${S.secret.endsWith('x') ? 'y' : 'x'}`;
  for (const bad of ['garbage', wellFormedUnknownToken('tka_'), mistyped]) {
    const res = await introspector.request('POST', '/oauth2/introspect', {
      rawBody: `token=${encodeURIComponent(bad)}`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { active: false });
  }
  const anon = await request(ctx.server.url, 'POST', '/oauth2/introspect', {
    rawBody: `token=${encodeURIComponent(S.secret)}`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(anon.status, 401, 'introspection needs a caller with the introspect permission');
  const noPerm = await bearerClient(ctx.server, S.secret).post('/oauth2/introspect', { token: S.secret });
  assert.equal(noPerm.status, 403, 'a token without introspect');
});

test('multi-select delete revokes several tokens at once; they fail on /auth/verify immediately', async () => {
  const { admin } = ctx;
  const toks = [];
  for (let i = 0; i < 3; i++) {
    toks.push(await createApiToken(admin, { name: unique('bulk'), user_id: S.user.id, department_id: S.field.id, user_type_id: S.type.id }));
  }
  for (const t of toks) assert.equal((await bearerClient(ctx.server, t.token).get('/auth/verify')).status, 204);
  const missing = 'no-such-token-id';
  const res = await admin.post('/api/v1/tokens/delete', { ids: [...toks.map((t) => t.id), S.mobile.id, missing] });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual([...res.json.deleted].sort(), [...toks.map((t) => t.id), S.mobile.id].sort());
  assert.deepEqual(res.json.not_found, [missing]);
  for (const t of [...toks, S.mobile]) {
    const v = await bearerClient(ctx.server, t.token).get('/auth/verify');
    assert.equal(v.status, 401, `deleted token ${t.id} still verifies`);
    assert.match(v.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal((await admin.get(`/api/v1/tokens/${t.id}`)).status, 404, 'deleted token is gone');
  }
  const api = await admin.get('/api/v1/tokens?kind=api&limit=200');
  const mob = await admin.get('/api/v1/tokens?kind=mobile&limit=200');
  for (const t of toks) assert.ok(!api.json.items.some((i) => i.id === t.id), 'deleted token not listed');
  assert.ok(!mob.json.items.some((i) => i.id === S.mobile.id), 'deleted mobile token not listed');
  const again = await admin.post('/api/v1/tokens/delete', { ids: [toks[0].id] });
  assert.equal(again.status, 200);
  assert.deepEqual(again.json, { deleted: [], not_found: [toks[0].id] }, 'deleting twice: not_found');
  const introspected = await bearerClient(ctx.server, S.rootTok.token).post('/oauth2/introspect', { token: toks[0].token });
  assert.deepEqual(introspected.json, { active: false });
});

test('deleting one token: 204, then it never authenticates again; a second delete is 404', async () => {
  const { admin } = ctx;
  const t = await createApiToken(admin, { user_id: S.user.id, department_id: S.field.id, user_type_id: S.type.id });
  assert.equal((await bearerClient(ctx.server, t.token).get('/api/v1/me')).status, 200);
  const del = await admin.delete(`/api/v1/tokens/${t.id}`);
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, '');
  assert.equal((await bearerClient(ctx.server, t.token).get('/api/v1/me')).status, 401);
  assert.equal((await admin.delete(`/api/v1/tokens/${t.id}`)).status, 404);
  const audit = await admin.get(`/api/v1/audit-events?target=${t.id}`);
  assert.equal(audit.status, 200);
  assert.ok(audit.json.items.some((e) => /delete|revoke/.test(e.action)), `delete is audited: ${audit.text}`);
});

test('mobile logout revokes the mobile token', async () => {
  const m = await mobileLogin(ctx.server, { username: 'integrator', password: S.user.password, device_name: 'iPhone' });
  const c = bearerClient(ctx.server, m.token);
  assert.equal((await c.get('/api/v1/me')).status, 200);
  const out = await c.post('/api/v1/mobile/logout');
  assert.equal(out.status, 204, out.text);
  assert.equal((await c.get('/api/v1/me')).status, 401);
  assert.equal((await ctx.admin.get(`/api/v1/tokens/${m.id}`)).status, 404);
});

test('console logout ends the session', async () => {
  const session = await login(ctx.server, { username: 'admin', password: ctx.server.adminPassword });
  assert.equal((await session.get('/api/v1/me')).status, 200);
  const out = await session.post('/api/v1/auth/logout');
  assert.equal(out.status, 204, out.text);
  assert.equal((await session.get('/api/v1/me')).status, 401, 'the old cookie no longer works');
  assert.equal((await ctx.admin.get('/api/v1/me')).status, 200, 'other sessions are unaffected');
});

finalChecks(ctx);

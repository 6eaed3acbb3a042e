// Scope (DESIGN.md §1 rules 1 and 2): a token sees and acts only inside its tenant and its
// department's subtree, with its user type's permissions, and cannot escalate. Ids of other
// tenants or outside the subtree answer exactly like ids that do not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import {
  assertProblem, bearerClient, createTenant, dateFromToday, login, parseChallenge,
} from '../lib/tokend.mjs';
import {
  bootstrapIds, createApiToken, createDepartment, createUser, createUserType, userWithToken,
} from '../lib/fixtures.mjs';

const ctx = useServer();
const S = {};
const MISSING = 'AAAAAAAAAAAAAAAAAAAAAA';

/** The answer for `id` with the id masked, to compare against the answer for a missing id. */
function masked(res, id) {
  return { status: res.status, body: res.text.split(id).join('{id}'), type: res.headers.get('content-type') };
}
async function assertLikeMissing(client, method, pathFor, id, label) {
  const real = await client.request(method, pathFor(id));
  const missing = await client.request(method, pathFor(MISSING));
  assertProblem(real, 404, label);
  assert.deepEqual(masked(real, id), masked(missing, MISSING), `${label}: identical to a missing id`);
}

test('setup: departments root → A → A1 and root → B, a manager of A, workers', async () => {
  const { admin, ids } = ctx;
  S.A = await createDepartment(admin, 'A', ids.rootId);
  S.A1 = await createDepartment(admin, 'A1', S.A.id);
  S.B = await createDepartment(admin, 'B', ids.rootId);
  S.manager = await createUserType(admin, 'Manager', ['tokens:read', 'tokens:write', 'users:read', 'users:write',
    'departments:read', 'user_types:read', 'user_types:write']);
  S.reader = await createUserType(admin, 'Reader', ['tokens:read']);
  S.power = await createUserType(admin, 'Power', ['tokens:read', 'tokens:write', 'tokens:reveal']);
  S.mgr = await userWithToken(admin, { department_id: S.A.id, user_type_id: S.manager.id, username: 'manager-a' });
  S.worker = await createUser(admin, { username: 'worker', memberships: [
    { department_id: S.A1.id, user_type_id: S.reader.id }, { department_id: S.B.id, user_type_id: S.reader.id },
    { department_id: S.A1.id, user_type_id: S.power.id }] });
  S.tokA1 = await createApiToken(admin, { user_id: S.worker.id, department_id: S.A1.id, user_type_id: S.reader.id });
  S.tokB = await createApiToken(admin, { user_id: S.worker.id, department_id: S.B.id, user_type_id: S.reader.id });
  S.tokRoot = await createApiToken(admin, { user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId });
  S.m = bearerClient(ctx.server, S.mgr.secret);
});

test('a sub-department token lists only tokens of its subtree', async () => {
  const res = await S.m.get('/api/v1/tokens?kind=api&limit=200');
  assert.equal(res.status, 200, res.text);
  const ids = res.json.items.map((i) => i.id).sort();
  assert.deepEqual(ids, [S.mgr.token.id, S.tokA1.id].sort());
  const filtered = await S.m.get(`/api/v1/tokens?kind=api&department_id=${S.B.id}`);
  assert.ok(filtered.status === 200 ? filtered.json.items.length === 0 : filtered.status === 404,
    `filtering on a department outside the subtree shows nothing: ${filtered.status} ${filtered.text}`);
  const deps = await S.m.get('/api/v1/departments');
  assert.deepEqual(deps.json.items.map((d) => d.id).sort(), [S.A.id, S.A1.id].sort());
});

test('ids outside the subtree answer exactly like missing ids', async () => {
  await assertLikeMissing(S.m, 'GET', (id) => `/api/v1/tokens/${id}`, S.tokB.id, 'GET token of B');
  await assertLikeMissing(S.m, 'GET', (id) => `/api/v1/tokens/${id}`, S.tokRoot.id, 'GET token of root');
  await assertLikeMissing(S.m, 'DELETE', (id) => `/api/v1/tokens/${id}`, S.tokB.id, 'DELETE token of B');
  await assertLikeMissing(S.m, 'GET', (id) => `/api/v1/departments/${id}`, S.B.id, 'GET department B');
  await assertLikeMissing(S.m, 'GET', (id) => `/api/v1/departments/${id}`, ctx.ids.rootId, 'GET the root department');
  await assertLikeMissing(S.m, 'GET', (id) => `/api/v1/users/${id}`, ctx.ids.adminUserId, 'GET the root admin');
  const bulk = await S.m.post('/api/v1/tokens/delete', { ids: [S.tokB.id, S.tokRoot.id] });
  assert.equal(bulk.status, 200, bulk.text);
  assert.deepEqual(bulk.json.deleted, []);
  assert.deepEqual([...bulk.json.not_found].sort(), [S.tokB.id, S.tokRoot.id].sort());
  assert.equal((await bearerClient(ctx.server, S.tokB.token).get('/auth/verify')).status, 204, 'B\'s token still works');
  assert.equal((await bearerClient(ctx.server, S.tokRoot.token).get('/auth/verify')).status, 204, 'the root token still works');
});

test('a sub-department token cannot create tokens elsewhere, nor escalate', async () => {
  const body = (over) => ({ name: 'scoped', expires_at: dateFromToday(30), user_id: S.worker.id, ...over });
  const inside = await S.m.post('/api/v1/tokens', body({ department_id: S.A1.id, user_type_id: S.reader.id }));
  assert.equal(inside.status, 201, `inside the subtree with fewer permissions: ${inside.text}`);
  assert.equal(inside.json.created_by.username, 'manager-a');
  const elsewhere = await S.m.post('/api/v1/tokens', body({ department_id: S.B.id, user_type_id: S.reader.id }));
  const nowhere = await S.m.post('/api/v1/tokens', body({ department_id: MISSING, user_type_id: S.reader.id }));
  assert.ok([403, 404, 422].includes(elsewhere.status), `department outside the subtree: ${elsewhere.status} ${elsewhere.text}`);
  assert.equal(elsewhere.status, nowhere.status, 'a department outside the subtree answers like a missing one');
  const escalate = await S.m.post('/api/v1/tokens', body({ department_id: S.A1.id, user_type_id: S.power.id }));
  assertProblem(escalate, 403, 'a user type with more permissions');
  const adminType = await S.m.post('/api/v1/tokens', body({ user_id: S.mgr.user.id, department_id: S.A.id,
    user_type_id: ctx.ids.administratorTypeId }));
  assert.ok([403, 422].includes(adminType.status), `Administrator type: ${adminType.status}`);
  const list = await ctx.admin.get('/api/v1/tokens?kind=api&limit=200');
  assert.equal(list.json.items.filter((i) => i.name === 'scoped').length, 1, 'only the allowed token was created');
});

test('no escalation through the directory either', async () => {
  const ut = await S.m.post('/api/v1/user-types', { name: 'Sneaky', permissions: ['tokens:read', 'audit:read'] });
  assertProblem(ut, 403, 'user type with a permission the caller lacks');
  const ok = await S.m.post('/api/v1/user-types', { name: 'Narrow', permissions: ['tokens:read'] });
  assert.equal(ok.status, 201, ok.text);
  const u1 = await S.m.post('/api/v1/users', { username: 'sneaky1', email: 's1@example.test', display_name: 'S1',
    password: 'Sneaky-pass-123', memberships: [{ department_id: S.A1.id, user_type_id: S.power.id }] });
  assertProblem(u1, 403, 'user with a more powerful user type');
  const u2 = await S.m.post('/api/v1/users', { username: 'sneaky2', email: 's2@example.test', display_name: 'S2',
    password: 'Sneaky-pass-123', memberships: [{ department_id: S.B.id, user_type_id: S.reader.id }] });
  assert.ok([403, 404, 422].includes(u2.status), `user in a department outside the subtree: ${u2.status}`);
  const self = await S.m.patch(`/api/v1/users/${S.mgr.user.id}`, {
    memberships: [{ department_id: ctx.ids.rootId, user_type_id: ctx.ids.administratorTypeId }] });
  assert.ok([403, 404, 422].includes(self.status), `promoting oneself: ${self.status} ${self.text}`);
  const me = await S.m.get('/api/v1/me');
  assert.equal(me.json.department.id, S.A.id, 'still scoped to A');
});

test('a permission the token lacks is a 403 with error="insufficient_scope"', async () => {
  for (const [method, path] of [['GET', '/api/v1/audit-events'], ['POST', `/api/v1/tokens/${S.tokA1.id}/reveal`],
    ['POST', '/api/v1/departments']]) {
    const res = await S.m.request(method, path, method === 'POST' ? { body: { name: 'x', parent_id: S.A.id } } : {});
    assertProblem(res, 403, `${method} ${path}`);
    const ch = parseChallenge(res.headers.get('www-authenticate'));
    assert.equal(ch?.params.error, 'insufficient_scope', `${method} ${path}: ${res.headers.get('www-authenticate')}`);
  }
  const reader = bearerClient(ctx.server, S.tokA1.token);
  assertProblem(await reader.post('/api/v1/tokens/delete', { ids: [S.tokA1.id] }), 403, 'reader bulk delete');
  assertProblem(await reader.delete(`/api/v1/tokens/${S.tokA1.id}`), 403, 'reader delete');
  assertProblem(await reader.get('/api/v1/users'), 403, 'reader lists users');
  const detail = await S.m.get(`/api/v1/tokens/${S.tokA1.id}`);
  assert.equal(detail.json.revealable, false, 'revealable is false without tokens:reveal');
});

test('tenants are isolated: another tenant\'s ids answer like missing ids, its tokens are inactive here', async () => {
  const tenant = await createTenant(ctx.server, 'acme');
  const acme = await login(ctx.server, { tenant: 'acme', username: 'admin', password: tenant.adminPassword });
  const acmeIds = await bootstrapIds(acme);
  assert.notEqual(acmeIds.tenantId, ctx.ids.tenantId);
  assert.notEqual(acmeIds.rootId, ctx.ids.rootId);
  const d = await createDepartment(acme, 'Acme Sales', acmeIds.rootId);
  const u = await userWithToken(acme, { department_id: d.id, user_type_id: acmeIds.memberTypeId, username: 'worker' });
  assert.equal(u.token.tenant_id, acmeIds.tenantId);
  const v = await bearerClient(ctx.server, u.secret).get('/auth/verify');
  assert.equal(v.status, 204);
  assert.equal(v.headers.get('x-auth-tenant-id'), acmeIds.tenantId);

  const { admin } = ctx;
  await assertLikeMissing(admin, 'GET', (id) => `/api/v1/tokens/${id}`, u.token.id, 'default admin GET acme token');
  await assertLikeMissing(admin, 'DELETE', (id) => `/api/v1/tokens/${id}`, u.token.id, 'default admin DELETE acme token');
  await assertLikeMissing(admin, 'POST', (id) => `/api/v1/tokens/${id}/reveal`, u.token.id, 'default admin reveal acme token');
  await assertLikeMissing(admin, 'GET', (id) => `/api/v1/users/${id}`, u.user.id, 'default admin GET acme user');
  await assertLikeMissing(admin, 'GET', (id) => `/api/v1/departments/${id}`, d.id, 'default admin GET acme department');
  await assertLikeMissing(admin, 'GET', (id) => `/api/v1/user-types/${id}`, acmeIds.memberTypeId, 'default admin GET acme user type');
  await assertLikeMissing(acme, 'GET', (id) => `/api/v1/tokens/${id}`, S.tokB.id, 'acme admin GET default token');
  const bulk = await admin.post('/api/v1/tokens/delete', { ids: [u.token.id] });
  assert.deepEqual(bulk.json, { deleted: [], not_found: [u.token.id] });
  assert.equal((await bearerClient(ctx.server, u.secret).get('/auth/verify')).status, 204, 'acme token still works');

  const users = await admin.get('/api/v1/users?limit=200');
  assert.ok(!users.json.items.some((x) => x.id === u.user.id), 'acme users are not listed in default');
  const tokens = await admin.get('/api/v1/tokens?kind=api&limit=200');
  assert.ok(!tokens.json.items.some((x) => x.id === u.token.id), 'acme tokens are not listed in default');
  const cross = await admin.post('/api/v1/tokens', { name: 'cross', expires_at: dateFromToday(30), user_id: u.user.id,
    department_id: d.id, user_type_id: acmeIds.memberTypeId });
  assert.ok([404, 422].includes(cross.status), `a token from another tenant's ids: ${cross.status}`);
  const crossDept = await admin.post('/api/v1/departments', { name: 'cross', parent_id: d.id });
  assert.ok([404, 422].includes(crossDept.status), `a department under another tenant's: ${crossDept.status}`);

  const introspected = await bearerClient(ctx.server, S.tokRoot.token).post('/oauth2/introspect', { token: u.secret });
  assert.equal(introspected.status, 200);
  assert.deepEqual(introspected.json, { active: false }, 'another tenant\'s token is inactive to this tenant');
  const wrongTenant = await acme.request('POST', '/api/v1/auth/login', {
    body: { tenant: 'acme', username: 'admin', password: ctx.server.adminPassword } });
  assertProblem(wrongTenant, 401, 'default admin\'s password on acme');
  const me = await acme.get('/api/v1/me');
  assert.equal(me.json.tenant_id, acmeIds.tenantId);
});

finalChecks(ctx);

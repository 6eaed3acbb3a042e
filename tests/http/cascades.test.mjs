// Cascades (DESIGN.md §1 "Principal"): the principal is computed at verification time, so a
// permission removed from the user type, a membership removed, a user deactivated or deleted
// take effect on the token's very next request — no waiting, no cache lag on one instance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import { assertProblem, bearerClient, parseChallenge, request } from '../lib/tokend.mjs';
import { createApiToken, createDepartment, createUser, createUserType, mobileLogin } from '../lib/fixtures.mjs';

const ctx = useServer();
const S = {};

async function assertRevokedAnswer(secret, label) {
  const c = bearerClient(ctx.server, secret);
  for (const path of ['/api/v1/me', '/auth/verify']) {
    const res = await c.get(path);
    assertProblem(res, 401, `${label} ${path}`);
    assert.equal(parseChallenge(res.headers.get('www-authenticate'))?.params.error, 'invalid_token', `${label} ${path}`);
  }
  const intro = await bearerClient(ctx.server, S.introspector.token).post('/oauth2/introspect', { token: secret });
  assert.deepEqual(intro.json, { active: false }, `${label}: introspection says inactive`);
}

test('setup: departments C and D, a user type with two permissions, an introspecting token', async () => {
  const { admin, ids } = ctx;
  S.C = await createDepartment(admin, 'C', ids.rootId);
  S.D = await createDepartment(admin, 'D', ids.rootId);
  S.type = await createUserType(admin, 'Cascade', ['tokens:read', 'users:read']);
  S.introspector = await createApiToken(admin, { user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId });
});

test('a permission removed from the user type is gone on the next request', async () => {
  const { admin } = ctx;
  const u = await createUser(admin, { memberships: [{ department_id: S.C.id, user_type_id: S.type.id }] });
  const t = await createApiToken(admin, { user_id: u.id, department_id: S.C.id, user_type_id: S.type.id });
  const c = bearerClient(ctx.server, t.token);
  assert.equal((await c.get('/auth/verify?permission=users:read')).status, 204);
  assert.equal((await c.get('/api/v1/users')).status, 200);
  const patched = await admin.patch(`/api/v1/user-types/${S.type.id}`, { permissions: ['tokens:read'] });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual(patched.json.permissions, ['tokens:read']);
  const v = await c.get('/auth/verify?permission=users:read');
  assert.equal(v.status, 403, 'users:read was removed');
  assert.equal(v.headers.get('www-authenticate')?.includes('insufficient_scope'), true);
  assertProblem(await c.get('/api/v1/users'), 403, 'list users without users:read');
  const me = await c.get('/api/v1/me');
  assert.equal(me.status, 200);
  assert.deepEqual(me.json.permissions, ['tokens:read']);
  const ok = await c.get('/auth/verify');
  assert.equal(ok.headers.get('x-auth-permissions'), 'tokens:read');
  const intro = await bearerClient(ctx.server, S.introspector.token).post('/oauth2/introspect', { token: t.token });
  assert.equal(intro.json.scope, 'tokens:read');
  // and added back
  assert.equal((await admin.patch(`/api/v1/user-types/${S.type.id}`, { permissions: ['tokens:read', 'users:read'] })).status, 200);
  assert.equal((await c.get('/auth/verify?permission=users:read')).status, 204, 'a permission added back applies at once');
});

test('a membership removed from the user revokes the tokens issued for it on the next request', async () => {
  const { admin } = ctx;
  const u = await createUser(admin, { memberships: [
    { department_id: S.C.id, user_type_id: S.type.id }, { department_id: S.D.id, user_type_id: S.type.id }] });
  const onC = await createApiToken(admin, { user_id: u.id, department_id: S.C.id, user_type_id: S.type.id });
  const onD = await createApiToken(admin, { user_id: u.id, department_id: S.D.id, user_type_id: S.type.id });
  const mobileD = await mobileLogin(ctx.server, { username: u.username, password: u.password, department_id: S.D.id });
  assert.equal(mobileD.department.id, S.D.id, 'mobile login picks the requested membership');
  for (const s of [onC.token, onD.token, mobileD.token]) assert.equal((await bearerClient(ctx.server, s).get('/auth/verify')).status, 204);
  const patched = await admin.patch(`/api/v1/users/${u.id}`, { memberships: [{ department_id: S.C.id, user_type_id: S.type.id }] });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual(patched.json.memberships, [{ department_id: S.C.id, user_type_id: S.type.id }]);
  await assertRevokedAnswer(onD.token, 'API token of the removed membership');
  await assertRevokedAnswer(mobileD.token, 'mobile token of the removed membership');
  assert.equal((await bearerClient(ctx.server, onC.token).get('/auth/verify')).status, 204, 'the kept membership\'s token works');
  const mob = await request(ctx.server.url, 'POST', '/api/v1/mobile/login', {
    body: { tenant: 'default', username: u.username, password: u.password, device_name: 'x', department_id: S.D.id } });
  assert.ok([401, 403, 422].includes(mob.status), `mobile login for a membership no longer held: ${mob.status}`);
});

test('a deactivated user\'s tokens fail on the next request, and the user cannot sign in', async () => {
  const { admin } = ctx;
  const u = await createUser(admin, { memberships: [{ department_id: S.C.id, user_type_id: S.type.id }] });
  const t = await createApiToken(admin, { user_id: u.id, department_id: S.C.id, user_type_id: S.type.id });
  const m = await mobileLogin(ctx.server, { username: u.username, password: u.password });
  assert.equal((await bearerClient(ctx.server, t.token).get('/api/v1/me')).status, 200);
  const patched = await admin.patch(`/api/v1/users/${u.id}`, { active: false });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.active, false);
  await assertRevokedAnswer(t.token, 'API token of a deactivated user');
  await assertRevokedAnswer(m.token, 'mobile token of a deactivated user');
  const login = await request(ctx.server.url, 'POST', '/api/v1/mobile/login', {
    body: { tenant: 'default', username: u.username, password: u.password, device_name: 'x' } });
  assertProblem(login, 401, 'mobile sign-in of a deactivated user');
  const consoleLogin = await request(ctx.server.url, 'POST', '/api/v1/auth/login', {
    body: { tenant: 'default', username: u.username, password: u.password } });
  assertProblem(consoleLogin, 401, 'console sign-in of a deactivated user');
  const create = await admin.post('/api/v1/tokens', { name: 'for inactive', expires_at: t.expires_at.slice(0, 10),
    user_id: u.id, department_id: S.C.id, user_type_id: S.type.id });
  assert.ok(create.status === 422 || create.status === 201, `token for an inactive user: ${create.status}`);
});

test('a deleted user\'s tokens fail on the next request', async () => {
  const { admin } = ctx;
  const u = await createUser(admin, { memberships: [{ department_id: S.C.id, user_type_id: S.type.id }] });
  const t = await createApiToken(admin, { user_id: u.id, department_id: S.C.id, user_type_id: S.type.id });
  const m = await mobileLogin(ctx.server, { username: u.username, password: u.password });
  assert.equal((await bearerClient(ctx.server, m.token).get('/api/v1/me')).status, 200);
  const del = await admin.delete(`/api/v1/users/${u.id}`);
  assert.equal(del.status, 204, del.text);
  await assertRevokedAnswer(t.token, 'API token of a deleted user');
  await assertRevokedAnswer(m.token, 'mobile token of a deleted user');
  assert.equal((await admin.get(`/api/v1/users/${u.id}`)).status, 404);
  const api = await admin.get(`/api/v1/tokens?kind=api&limit=200&user_id=${u.id}`);
  assert.ok(api.status === 200 || api.status === 404, `${api.status}`);
  if (api.status === 200) assert.deepEqual(api.json.items.filter((i) => i.status === 'active'), [], 'no live token of a deleted user is listed as active');
  // the username is free again
  const again = await createUser(admin, { username: u.username, memberships: [{ department_id: S.C.id, user_type_id: S.type.id }] });
  assert.notEqual(again.id, u.id);
  await assertRevokedAnswer(t.token, 'old token after the username was reused');
});

test('a token whose user type was deleted stops working (or the delete is refused with 409)', async () => {
  const { admin } = ctx;
  const type = await createUserType(admin, 'Short-lived type', ['tokens:read']);
  const u = await createUser(admin, { memberships: [{ department_id: S.D.id, user_type_id: type.id }] });
  const t = await createApiToken(admin, { user_id: u.id, department_id: S.D.id, user_type_id: type.id });
  const del = await admin.delete(`/api/v1/user-types/${type.id}`);
  assert.ok([204, 409].includes(del.status), `deleting a user type in use: ${del.status} ${del.text}`);
  if (del.status === 204) await assertRevokedAnswer(t.token, 'token of a deleted user type');
  else assert.equal((await bearerClient(ctx.server, t.token).get('/auth/verify')).status, 204, 'refused delete changes nothing');
});

finalChecks(ctx);

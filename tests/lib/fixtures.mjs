// tests/lib/fixtures.mjs — building a directory through the public API (DESIGN.md §3).
// Every helper asserts the documented success answer and returns the parsed object.
//
//   const ids = await bootstrapIds(admin);   // { rootId, administratorTypeId, memberTypeId, adminUserId }
//   const dept = await createDepartment(admin, 'Sales', ids.rootId);
//   const type = await createUserType(admin, 'Reader', ['tokens:read']);
//   const user = await createUser(admin, { username: 'alice', memberships: [{department_id, user_type_id}] });
//   const tok = await createApiToken(admin, { user_id, department_id, user_type_id });   // has .token
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dateFromToday, rememberSecret, request } from './tokend.mjs';

export const ALL_PERMISSIONS = [
  'tokens:read', 'tokens:write', 'tokens:reveal', 'users:read', 'users:write',
  'departments:read', 'departments:write', 'user_types:read', 'user_types:write', 'audit:read',
  'introspect',
];

let counter = 0;
/** A unique, readable name. */
export function unique(prefix) {
  counter += 1;
  return `${prefix}-${counter}-${randomBytes(3).toString('hex')}`;
}

function expectCreated(res, what) {
  assert.equal(res.status, 201, `create ${what}: expected 201, got ${res.status}: ${res.text}`);
  assert.ok(res.json && typeof res.json.id === 'string' && res.json.id.length > 0, `create ${what}: id in ${res.text}`);
  assert.ok(res.headers.get('location'), `create ${what}: Location header`);
  return res.json;
}

/** The ids the bootstrap created in tenant "default" (or any tenant whose admin this is). */
export async function bootstrapIds(admin) {
  const deps = await admin.get('/api/v1/departments');
  assert.equal(deps.status, 200, `list departments: ${deps.status} ${deps.text}`);
  const root = deps.json.items.find((d) => d.parent_id === null);
  assert.ok(root, `a root department (parent_id null) in ${deps.text}`);
  const types = await admin.get('/api/v1/user-types');
  assert.equal(types.status, 200, `list user types: ${types.status} ${types.text}`);
  const administrator = types.json.items.find((t) => t.name === 'Administrator');
  const member = types.json.items.find((t) => t.name === 'Member');
  assert.ok(administrator && member, `user types Administrator and Member in ${types.text}`);
  const me = await admin.get('/api/v1/me');
  assert.equal(me.status, 200, `me: ${me.status} ${me.text}`);
  return {
    rootId: root.id,
    administratorTypeId: administrator.id,
    memberTypeId: member.id,
    adminUserId: me.json.user.id,
    tenantId: me.json.tenant_id,
  };
}

export async function createDepartment(client, name, parentId) {
  return expectCreated(await client.post('/api/v1/departments', { name, parent_id: parentId }), `department ${name}`);
}

export async function createUserType(client, name, permissions) {
  return expectCreated(await client.post('/api/v1/user-types', { name, permissions }), `user type ${name}`);
}

/** Creates a user; `password` defaults to a random one, returned as user.password. */
export async function createUser(client, { username = unique('user'), password = `Pw-${randomBytes(9).toString('hex')}`,
  email, display_name, memberships }) {
  const body = {
    username, password, email: email ?? `${username}@example.test`, display_name: display_name ?? `User ${username}`,
    memberships,
  };
  rememberSecret(password);
  const user = expectCreated(await client.post('/api/v1/users', body), `user ${username}`);
  return { ...user, password };
}

/** Creates an API token (the guide's fields); the answer carries .token. */
export async function createApiToken(client, { name = unique('token'), description = 'created by the HTTP tests',
  expires_at = dateFromToday(90), user_id, department_id, user_type_id }) {
  const res = await client.post('/api/v1/tokens', { name, description, expires_at, user_id, department_id, user_type_id });
  const tok = expectCreated(res, `API token ${name}`);
  assert.match(tok.token ?? '', /^tka_[0-9A-Za-z]{49}$/, `create answer carries the token string: ${res.text}`);
  return tok;
}

/** POST /api/v1/mobile/login; returns the mobile token object with .token. */
export async function mobileLogin(serverOrUrl, { tenant = 'default', username, password, device_name = 'Test phone', department_id }) {
  const url = typeof serverOrUrl === 'string' ? serverOrUrl : serverOrUrl.url;
  const body = { tenant, username, password, device_name };
  if (department_id !== undefined) body.department_id = department_id;
  const res = await request(url, 'POST', '/api/v1/mobile/login', { body });
  assert.equal(res.status, 201, `mobile login of ${username}: ${res.status} ${res.text}`);
  assert.match(res.json?.token ?? '', /^tkm_[0-9A-Za-z]{49}$/, `mobile login answers the token: ${res.text}`);
  return res.json;
}

/**
 * A user holding (department, user type) and an API token for that membership, created by
 * `admin`. Returns { user, token (the object), secret (the string) }.
 */
export async function userWithToken(admin, { department_id, user_type_id, username }) {
  const user = await createUser(admin, { username, memberships: [{ department_id, user_type_id }] });
  const token = await createApiToken(admin, { user_id: user.id, department_id, user_type_id });
  return { user, token, secret: token.token };
}

// openapi/routes: calls every route and method documented in docs/openapi.yaml against a real
// server and checks that (1) it exists (never 404/405 for a valid call), (2) the status is one the
// document lists for that operation, (3) the body matches the documented schema (required fields
// and types), (4) every protected operation answers a documented 401 without credentials, and
// (5) /api/v1/openapi.json serves this same document. A route added to the document without a
// call here fails the test, and so does a call here for a route the document lacks.
//
// Needs js-yaml from tests/node_modules (`npm ci --prefix tests`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import yaml from 'js-yaml';
import { useServer, finalChecks } from '../lib/harness.mjs';
import { anonClient, bearerClient, dateFromToday, login, request } from '../lib/tokend.mjs';
import { validate } from '../lib/schema.mjs';
import { createApiToken, createDepartment, createUser, createUserType, mobileLogin, unique } from '../lib/fixtures.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const doc = yaml.load(readFileSync(path.join(here, '..', '..', 'docs', 'openapi.yaml'), 'utf8'));
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

const operations = [];
for (const [p, item] of Object.entries(doc.paths)) {
  for (const m of METHODS) {
    if (item[m]) operations.push({ path: p, method: m.toUpperCase(), op: item[m], id: item[m].operationId });
  }
}

const ctx = useServer();
const F = {}; // fixtures

/**
 * One valid call per operationId: { client, params, query, body, form, expect }.
 * Functions so that fixtures exist when they run.
 */
const calls = {
  consoleLogin: () => ({ client: anonClient(ctx.server), body: { tenant: 'default', username: 'admin', password: ctx.server.adminPassword }, expect: 200 }),
  consoleLogout: () => ({ client: F.session, expect: 204 }),
  listTokens: () => ({ client: ctx.admin, query: 'kind=api&sort=-created_at&limit=10', expect: 200 }),
  createApiToken: () => ({ client: ctx.admin, body: { name: 'openapi', description: null, expires_at: dateFromToday(30),
    user_id: F.user.id, department_id: F.dept.id, user_type_id: F.type.id }, expect: 201 }),
  deleteTokens: () => ({ client: ctx.admin, body: { ids: [F.bulkToken.id, 'unknown-id'] }, expect: 200 }),
  getToken: () => ({ client: ctx.admin, params: { id: F.apiToken.id }, expect: 200 }),
  deleteToken: () => ({ client: ctx.admin, params: { id: F.doomedToken.id }, expect: 204 }),
  revealToken: () => ({ client: ctx.admin, params: { id: F.apiToken.id }, expect: 200 }),
  mobileLogin: () => ({ client: anonClient(ctx.server), body: { tenant: 'default', username: F.user.username,
    password: F.user.password, device_name: 'OpenAPI phone', department_id: F.dept.id }, expect: 201 }),
  mobileLogout: () => ({ client: bearerClient(ctx.server, F.mobileToken.token), expect: 204 }),
  listUsers: () => ({ client: ctx.admin, query: 'q=&limit=5', expect: 200 }),
  createUser: () => ({ client: ctx.admin, body: { username: unique('oa'), email: 'oa@example.test', display_name: 'OA',
    password: 'Openapi-pass-123', active: true, memberships: [{ department_id: F.dept.id, user_type_id: F.type.id }] }, expect: 201 }),
  getUser: () => ({ client: ctx.admin, params: { id: F.user.id }, expect: 200 }),
  updateUser: () => ({ client: ctx.admin, params: { id: F.user.id }, body: { display_name: 'Updated' }, expect: 200 }),
  deleteUser: () => ({ client: ctx.admin, params: { id: F.doomedUser.id }, expect: 204 }),
  listDepartments: () => ({ client: ctx.admin, expect: 200 }),
  createDepartment: () => ({ client: ctx.admin, body: { name: unique('dept'), parent_id: ctx.ids.rootId }, expect: 201 }),
  getDepartment: () => ({ client: ctx.admin, params: { id: F.dept.id }, expect: 200 }),
  updateDepartment: () => ({ client: ctx.admin, params: { id: F.dept.id }, body: { name: 'Renamed' }, expect: 200 }),
  deleteDepartment: () => ({ client: ctx.admin, params: { id: F.doomedDept.id }, expect: 204 }),
  listUserTypes: () => ({ client: ctx.admin, expect: 200 }),
  createUserType: () => ({ client: ctx.admin, body: { name: unique('type'), permissions: ['tokens:read'] }, expect: 201 }),
  getUserType: () => ({ client: ctx.admin, params: { id: F.type.id }, expect: 200 }),
  updateUserType: () => ({ client: ctx.admin, params: { id: F.type.id }, body: { name: 'Renamed type' }, expect: 200 }),
  deleteUserType: () => ({ client: ctx.admin, params: { id: F.doomedType.id }, expect: 204 }),
  getMe: () => ({ client: bearerClient(ctx.server, F.apiToken.token), expect: 200 }),
  introspect: () => ({ client: bearerClient(ctx.server, F.adminToken.token), form: `token=${encodeURIComponent(F.apiToken.token)}`, expect: 200 }),
  verify: () => ({ client: bearerClient(ctx.server, F.apiToken.token), query: 'permission=tokens:read', expect: 204 }),
  listAuditEvents: () => ({ client: ctx.admin, query: 'limit=5', expect: 200 }),
  healthz: () => ({ client: anonClient(ctx.server), expect: 200 }),
  readyz: () => ({ client: anonClient(ctx.server), expect: 200 }),
  metrics: () => ({ client: anonClient(ctx.server), expect: 200 }),
  openapi: () => ({ client: anonClient(ctx.server), expect: 200 }),
};

function urlFor(o, params = {}, query) {
  let p = o.path.replace(/\{(\w+)\}/g, (_, k) => {
    assert.ok(params[k] !== undefined, `${o.id}: path parameter ${k}`);
    return encodeURIComponent(params[k]);
  });
  if (query) p += `?${query}`;
  return p;
}

async function send(o, c, client = c.client) {
  const opts = {};
  if (c.body !== undefined) opts.body = c.body;
  if (c.form !== undefined) { opts.rawBody = c.form; opts.headers = { 'Content-Type': 'application/x-www-form-urlencoded' }; }
  return client.request(o.method, urlFor(o, c.params, c.query), opts);
}

function checkAnswer(o, res, label) {
  const documented = Object.keys(o.op.responses);
  assert.ok(documented.includes(String(res.status)),
    `${label}: status ${res.status} is not documented for ${o.method} ${o.path} (documented: ${documented.join(', ')}): ${res.text.slice(0, 300)}`);
  let r = o.op.responses[String(res.status)];
  if (r.$ref) r = r.$ref.slice(2).split('/').reduce((x, k) => x[k], doc);
  for (const h of Object.keys(r.headers ?? {})) {
    if (['Location', 'Retry-After'].includes(h)) assert.ok(res.headers.get(h), `${label}: documented header ${h}`);
  }
  if (!r.content) {
    assert.equal(res.text, '', `${label}: ${res.status} has no body`);
    return;
  }
  const ct = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  assert.ok(r.content[ct], `${label}: content type ${ct} is not documented (${Object.keys(r.content)})`);
  if (/json/.test(ct)) {
    assert.ok(res.json !== null, `${label}: body is JSON: ${res.text.slice(0, 200)}`);
    const errors = validate(doc, r.content[ct].schema, res.json);
    assert.deepEqual(errors, [], `${label}: body matches the documented schema`);
  }
}

test('every documented operation has a call here and every call a documented operation', () => {
  const ids = operations.map((o) => o.id);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  assert.deepEqual(ids.filter((id) => !calls[id]), [], 'documented operations without a call in this test');
  assert.deepEqual(Object.keys(calls).filter((id) => !ids.includes(id)), [], 'calls for undocumented operations');
});

test('setup: fixtures for every call', async () => {
  const { admin, ids } = ctx;
  F.dept = await createDepartment(admin, 'OpenAPI', ids.rootId);
  F.doomedDept = await createDepartment(admin, 'OpenAPI doomed', ids.rootId);
  F.type = await createUserType(admin, 'OpenAPI type', ['tokens:read', 'users:read']);
  F.doomedType = await createUserType(admin, 'OpenAPI doomed type', ['tokens:read']);
  F.user = await createUser(admin, { username: 'openapi-user', memberships: [{ department_id: F.dept.id, user_type_id: F.type.id }] });
  F.doomedUser = await createUser(admin, { memberships: [{ department_id: F.dept.id, user_type_id: F.type.id }] });
  const m = { user_id: F.user.id, department_id: F.dept.id, user_type_id: F.type.id };
  F.apiToken = await createApiToken(admin, m);
  F.bulkToken = await createApiToken(admin, m);
  F.doomedToken = await createApiToken(admin, m);
  F.adminToken = await createApiToken(admin, { user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId });
  F.mobileToken = await mobileLogin(ctx.server, { username: F.user.username, password: F.user.password });
  F.session = await login(ctx.server, { username: 'admin', password: ctx.server.adminPassword });
});

for (const o of operations) {
  test(`${o.method} ${o.path} (${o.id}) answers as documented`, async () => {
    const c = calls[o.id]();
    const res = await send(o, c);
    assert.notEqual(res.status, 404, `${o.method} ${o.path} is routed: ${res.text.slice(0, 200)}`);
    assert.notEqual(res.status, 405, `${o.method} ${o.path} accepts ${o.method}`);
    assert.equal(res.status, c.expect, `${o.method} ${o.path}: ${res.text.slice(0, 400)}`);
    checkAnswer(o, res, `${o.method} ${o.path}`);
  });
}

test('every protected operation answers a documented 401 problem without credentials', async () => {
  const failures = [];
  for (const o of operations) {
    const security = o.op.security ?? doc.security;
    if (!security.length || security.some((s) => Object.keys(s).length === 0)) continue; // anonymous allowed
    const c = { ...calls[o.id](), client: anonClient(ctx.server) };
    if (!c.params) c.params = { id: 'some-id' };
    const res = await send(o, c);
    try {
      assert.equal(res.status, 401, `${o.method} ${o.path} without credentials: ${res.status}`);
      checkAnswer(o, res, `${o.method} ${o.path} without credentials`);
    } catch (e) {
      failures.push(e.message.split('\n')[0]);
    }
  }
  assert.deepEqual(failures, []);
});

test('documented error answers match the Problem schema (400, 404, 422)', async () => {
  const byId = Object.fromEntries(operations.map((o) => [o.id, o]));
  const cases = [
    [byId.createApiToken, { client: ctx.admin, body: { ...calls.createApiToken().body, expires_at: dateFromToday(500) } }, 422],
    [byId.getToken, { client: ctx.admin, params: { id: 'unknown-id' } }, 404],
    [byId.listTokens, { client: ctx.admin, query: 'limit=0' }, 400],
    [byId.createDepartment, { client: ctx.admin, body: { name: 'x', parent_id: ctx.ids.rootId, bogus: 1 } }, 400],
  ];
  for (const [o, c, status] of cases) {
    const res = await send(o, c);
    assert.equal(res.status, status, `${o.id}: ${res.text}`);
    checkAnswer(o, res, `${o.id} ${status}`);
  }
});

test('/api/v1/openapi.json serves this document', async () => {
  const res = await request(ctx.server.url, 'GET', '/api/v1/openapi.json');
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.json.paths).sort(), Object.keys(doc.paths).sort(), 'same paths');
  assert.deepEqual(res.json, JSON.parse(JSON.stringify(doc)), 'the same document');
});

finalChecks(ctx);

// Malformed and invalid input: 400 (bad JSON, wrong types, unknown fields, duplicate keys),
// 413 (oversize body), 415 (media type), 422 with errors[].field (expiry rules, memberships),
// 409 (duplicate username), 404 (unknown ids), and malformed HTTP over raw sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import {
  assertFieldError, assertProblem, bearerClient, dateFromToday, rawRequest, timeFromNow,
} from '../lib/tokend.mjs';
import { createApiToken, createDepartment, createUser, createUserType } from '../lib/fixtures.mjs';

const ctx = useServer();
const S = {};

function tokenBody(over = {}) {
  return {
    name: 'Validation token', expires_at: dateFromToday(30),
    user_id: S.user.id, department_id: S.dept.id, user_type_id: S.type.id, ...over,
  };
}

test('setup: a department, a user type and a user holding them', async () => {
  const { admin, ids } = ctx;
  S.dept = await createDepartment(admin, 'Validation', ids.rootId);
  S.otherDept = await createDepartment(admin, 'Elsewhere', ids.rootId);
  S.type = await createUserType(admin, 'Validator', ['tokens:read']);
  S.user = await createUser(admin, { username: 'validator', memberships: [{ department_id: S.dept.id, user_type_id: S.type.id }] });
  S.token = await createApiToken(admin, { user_id: S.user.id, department_id: S.dept.id, user_type_id: S.type.id });
});

test('expires_at beyond the tenant maximum (365 days) is a 422 naming expires_at', async () => {
  assertFieldError(await ctx.admin.post('/api/v1/tokens', tokenBody({ expires_at: dateFromToday(400) })), 'expires_at', '+400 days');
  assertFieldError(await ctx.admin.post('/api/v1/tokens', tokenBody({ expires_at: timeFromNow(366 * 86_400 + 60) })), 'expires_at', '+366 days RFC 3339');
  const ok = await ctx.admin.post('/api/v1/tokens', tokenBody({ expires_at: dateFromToday(364) }));
  assert.equal(ok.status, 201, `+364 days is allowed: ${ok.text}`);
});

test('expires_at in the past, today-at-now, or not a real date is a 422 naming expires_at', async () => {
  for (const v of [dateFromToday(-1), timeFromNow(-60), '2020-01-01', '2025-02-30', '2026-13-01', '2026-04-31T10:00:00Z']) {
    assertFieldError(await ctx.admin.post('/api/v1/tokens', tokenBody({ expires_at: v })), 'expires_at', v);
  }
});

test('a missing or garbled expires_at is refused with 400 or 422, never a default', async () => {
  const noExpiry = tokenBody();
  delete noExpiry.expires_at;
  const res = await ctx.admin.post('/api/v1/tokens', noExpiry);
  assert.ok([400, 422].includes(res.status), `expiry is mandatory: ${res.status} ${res.text}`);
  if (res.status === 422) assertFieldError(res, 'expires_at');
  for (const v of ['tomorrow', '', '31/12/2026', '2026-06-30T25:00:00Z']) {
    const r = await ctx.admin.post('/api/v1/tokens', tokenBody({ expires_at: v }));
    assert.ok([400, 422].includes(r.status), `${JSON.stringify(v)}: ${r.status}`);
  }
});

test('a user not holding the department and user type is a 422', async () => {
  const res = await ctx.admin.post('/api/v1/tokens', tokenBody({ department_id: S.otherDept.id }));
  const p = assertProblem(res, 422, 'membership not held');
  assert.ok(Array.isArray(p.errors) && p.errors.length > 0, `errors[] explains: ${res.text}`);
  const res2 = await ctx.admin.post('/api/v1/tokens', tokenBody({ user_type_id: ctx.ids.memberTypeId }));
  assertProblem(res2, 422, 'user type not held');
  const empty = await ctx.admin.post('/api/v1/tokens', tokenBody({ name: '' }));
  assertFieldError(empty, 'name', 'empty name');
});

test('bad JSON, wrong types, unknown fields and duplicate keys are 400 problems', async () => {
  const { admin } = ctx;
  const raw = (text) => admin.request('POST', '/api/v1/tokens', { rawBody: text, headers: { 'Content-Type': 'application/json' } });
  const valid = JSON.stringify(tokenBody());
  const cases = {
    truncated: valid.slice(0, -3),
    trailingGarbage: `${valid} x`,
    twoDocuments: `${valid}${valid}`,
    notAnObject: '[1,2,3]',
    string: '"hello"',
    empty: '',
    rawNulInString: `{"name":"a\u0000b",${valid.slice(valid.indexOf('"expires_at"'))}`,
    invalidUtf8: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from(`",${valid.slice(valid.indexOf('"expires_at"'))}`)]),
    duplicateKey: `{"name":"a","name":"b",${valid.slice(valid.indexOf('"expires_at"'))}`,
    unknownField: JSON.stringify({ ...tokenBody(), admin: true }),
    deepNesting: `${'['.repeat(10000)}${']'.repeat(10000)}`,
  };
  for (const [name, text] of Object.entries(cases)) {
    const res = await raw(text);
    assertProblem(res, 400, name);
  }
  const types = [
    { name: 42 }, { name: null }, { expires_at: 20260101 }, { user_id: ['x'] }, { department_id: {} },
    { description: 7 }, { user_type_id: true },
  ];
  for (const over of types) {
    const res = await admin.post('/api/v1/tokens', tokenBody(over));
    assert.ok([400, 422].includes(res.status), `${JSON.stringify(over)}: ${res.status} ${res.text}`);
    assertProblem(res, res.status);
  }
  assertProblem(await admin.post('/api/v1/tokens/delete', { ids: 'abc' }), 400, 'ids not an array');
  assertProblem(await admin.post('/api/v1/tokens/delete', { ids: [1, 2] }), 400, 'ids of numbers');
  const loginDup = await admin.request('POST', '/api/v1/auth/login', {
    rawBody: '{"tenant":"default","username":"admin","username":"root","password":"x"}',
    headers: { 'Content-Type': 'application/json' },
  });
  assertProblem(loginDup, 400, 'duplicate key at login');
  assertProblem(await admin.post('/api/v1/departments', { name: 'x', parent_id: ctx.ids.rootId, extra: 1 }), 400, 'unknown field on a department');
  assertProblem(await admin.post('/api/v1/user-types', { name: 'x', permissions: ['tokens:read'], colour: 'red' }), 400, 'unknown field on a user type');
});

test('an unknown permission name in a user type is refused', async () => {
  const res = await ctx.admin.post('/api/v1/user-types', { name: 'Bogus', permissions: ['tokens:read', 'root:everything'] });
  assert.ok([400, 422].includes(res.status), `${res.status} ${res.text}`);
});

test('bad query parameters are 400', async () => {
  const { admin } = ctx;
  for (const q of ['kind=other', 'limit=0', 'limit=201', 'limit=abc', 'limit=-1', 'sort=password', 'status=revoked',
    'cursor=%%%', 'cursor=not-a-cursor']) {
    const res = await admin.get(`/api/v1/tokens?${q}`);
    assertProblem(res, 400, q);
  }
  assert.equal((await admin.get('/api/v1/tokens?limit=200')).status, 200, 'limit=200 is allowed');
  for (const sort of ['created_at', '-created_at', 'name', '-name', 'expires_at', '-expires_at', 'last_used_at',
    '-last_used_at', 'user', '-user', 'department', '-department', 'user_type', '-user_type']) {
    const res = await admin.get(`/api/v1/tokens?kind=api&sort=${sort}`);
    assert.equal(res.status, 200, `sort=${sort}: ${res.text}`);
  }
});

test('an oversize body is a 413 and the server stays up', async () => {
  const huge = JSON.stringify({ ...tokenBody(), description: 'x'.repeat(2 * 1024 * 1024) });
  let res;
  try {
    res = await ctx.admin.request('POST', '/api/v1/tokens', { rawBody: huge, headers: { 'Content-Type': 'application/json' } });
  } catch (e) {
    res = null; // the server may close the connection while we are still sending
  }
  if (res) assertProblem(res, 413, '2 MiB body');
  const declared = await rawRequest(ctx.server, 'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n'
    + 'Content-Type: application/json\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n{');
  assert.ok(declared.status === 413 || (declared.status === null && declared.closed), `1 GiB Content-Length: ${declared.status}`);
  assert.equal((await ctx.admin.get('/api/v1/me')).status, 200);
});

test('a body of another media type is a 415', async () => {
  const { admin } = ctx;
  const body = JSON.stringify(tokenBody());
  for (const ct of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
    const res = await admin.request('POST', '/api/v1/tokens', { rawBody: body, headers: { 'Content-Type': ct } });
    assertProblem(res, 415, ct);
  }
  const none = await admin.request('POST', '/api/v1/tokens', { rawBody: body, headers: { 'Content-Type': '' } });
  assert.ok([400, 415].includes(none.status), `no content type: ${none.status}`);
  const charset = await admin.request('POST', '/api/v1/tokens', {
    rawBody: JSON.stringify(tokenBody({ name: 'charset ok' })), headers: { 'Content-Type': 'application/json; charset=utf-8' },
  });
  assert.equal(charset.status, 201, `application/json; charset=utf-8 is JSON: ${charset.text}`);
  const introspect = await bearerClient(ctx.server, S.token.token).request('POST', '/oauth2/introspect', {
    rawBody: '<token/>', headers: { 'Content-Type': 'application/xml' },
  });
  assert.ok([403, 415].includes(introspect.status), `introspect with xml: ${introspect.status}`);
});

test('a duplicate username is a 409', async () => {
  const { admin } = ctx;
  const res = await admin.post('/api/v1/users', {
    username: 'validator', email: 'v2@example.test', display_name: 'Dup', password: 'Another-pass-123',
    memberships: [{ department_id: S.dept.id, user_type_id: S.type.id }],
  });
  assertProblem(res, 409, 'duplicate username');
  const other = await createUser(admin, { username: 'validator2', memberships: [{ department_id: S.dept.id, user_type_id: S.type.id }] });
  assertProblem(await admin.patch(`/api/v1/users/${other.id}`, { username: 'validator' }), 409, 'rename onto an existing username');
});

test('unknown ids are 404 on every kind of resource', async () => {
  const { admin } = ctx;
  for (const path of ['/api/v1/tokens/nope', '/api/v1/users/nope', '/api/v1/departments/nope', '/api/v1/user-types/nope']) {
    assertProblem(await admin.get(path), 404, `GET ${path}`);
    assertProblem(await admin.delete(path), 404, `DELETE ${path}`);
  }
  assertProblem(await admin.post('/api/v1/tokens/nope/reveal'), 404, 'reveal of an unknown id');
  assertProblem(await admin.patch('/api/v1/users/nope', { display_name: 'x' }), 404, 'PATCH an unknown user');
  const r = await admin.post('/api/v1/tokens', tokenBody({ user_id: 'nope' }));
  assert.ok([404, 422].includes(r.status), `token for an unknown user: ${r.status}`);
  assert.equal((await admin.get('/api/v1/no-such-route')).status, 404);
});

test('a wrong method on a known route is a 405, not a 500', async () => {
  const res = await ctx.admin.request('PUT', '/api/v1/tokens');
  assert.ok([404, 405].includes(res.status), `PUT /api/v1/tokens: ${res.status}`);
  const res2 = await ctx.admin.request('DELETE', '/api/v1/me');
  assert.ok([404, 405].includes(res2.status), `DELETE /api/v1/me: ${res2.status}`);
});

test('malformed HTTP over a raw socket gets a 4xx or a closed connection, never a 5xx', async () => {
  const cases = {
    garbage: 'GARBAGE\r\n\r\n',
    badVersion: 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
    noColon: 'GET /healthz HTTP/1.1\r\nHost: x\r\nThis header has no colon\r\n\r\n',
    spaceBeforeColon: 'GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n',
    badContentLength: 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
    twoContentLengths: 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
    smuggling: 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    badChunk: 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    header10k: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10 * 1024)}\r\n\r\n`,
    header64k: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    authorization10k: `GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(10 * 1024)}\r\n\r\n`,
    manyHeaders: `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 500 }, (_, i) => `X-H${i}: ${'v'.repeat(40)}`).join('\r\n')}\r\n\r\n`,
    longTarget: `GET /api/v1/tokens?q=${'a'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    nulInTarget: 'GET /api/v1/tok\x00ens HTTP/1.1\r\nHost: x\r\n\r\n',
    nonAsciiTarget: 'GET /api/v1/tokens/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n',
    bareLf: 'GET /healthz HTTP/1.1\nHost: x\n\n',
  };
  for (const [name, data] of Object.entries(cases)) {
    const res = await rawRequest(ctx.server, data, { timeoutMs: 5000 });
    if (res.status === null) {
      assert.ok(res.closed, `${name}: the server neither answered nor closed within 5 s`);
      continue;
    }
    // A 10 KB header is within reason (tokend allows 16 KB of headers); everything else is garbage.
    const mayPass = { bareLf: [200], header10k: [200], authorization10k: [401], manyHeaders: [200] }[name] ?? [];
    assert.ok((res.status >= 400 && res.status < 500) || mayPass.includes(res.status),
      `${name}: expected 4xx, got ${res.status}`);
    if (name === 'header64k') assert.ok([400, 431].includes(res.status), `${name}: 400 or 431, got ${res.status}`);
    if (name === 'authorization10k' && res.status === 401) {
      assert.match(res.headers['www-authenticate'] ?? '', /invalid_token/, 'an oversized token is just invalid');
    }
  }
  assert.ok(ctx.server.alive());
  assert.equal((await ctx.admin.get('/api/v1/me')).status, 200, 'the server still serves');
});

test('a slow or idle connection does not block other clients', async () => {
  const idle = rawRequest(ctx.server, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', { timeoutMs: 3000 });
  const res = await ctx.admin.get('/api/v1/me');
  assert.equal(res.status, 200);
  await idle;
});

finalChecks(ctx);

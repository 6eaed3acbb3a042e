// Credentials: 401 and its WWW-Authenticate variants (RFC 6750), one identical answer for
// malformed / unknown / expired / revoked tokens, the CSRF rule of cookie sessions, the
// Authorization header's syntax, and tokens in the query string.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import {
  anonClient, assertProblem, bearerClient, parseChallenge, rawRequest, request, sleep, timeFromNow,
  wellFormedUnknownToken,
} from '../lib/tokend.mjs';
import { createApiToken, createDepartment, createUser, createUserType } from '../lib/fixtures.mjs';

const ctx = useServer();
const S = {};

test('setup: a user with a short-lived token, a revoked token and a live token', async () => {
  const { admin, ids } = ctx;
  S.dept = await createDepartment(admin, 'Auth Dept', ids.rootId);
  S.type = await createUserType(admin, 'Auth Reader', ['tokens:read', 'departments:read']);
  S.user = await createUser(admin, { memberships: [{ department_id: S.dept.id, user_type_id: S.type.id }] });
  const m = { user_id: S.user.id, department_id: S.dept.id, user_type_id: S.type.id };
  S.expiresAt = timeFromNow(3);
  S.shortLived = await createApiToken(admin, { ...m, expires_at: S.expiresAt });
  assert.equal(Date.parse(S.shortLived.expires_at), Date.parse(S.expiresAt), 'RFC 3339 expires_at kept to the second');
  S.revoked = await createApiToken(admin, m);
  assert.equal((await admin.delete(`/api/v1/tokens/${S.revoked.id}`)).status, 204);
  S.live = await createApiToken(admin, m);
});

test('no credentials: 401 with a Bearer challenge and no error code', async () => {
  for (const path of ['/api/v1/me', '/api/v1/tokens', '/auth/verify']) {
    const res = await anonClient(ctx.server).get(path);
    assertProblem(res, 401, path);
    const ch = parseChallenge(res.headers.get('www-authenticate'));
    assert.ok(ch, `${path}: WWW-Authenticate present`);
    assert.equal(ch.scheme, 'Bearer');
    assert.equal(ch.params.error, undefined, `${path}: no error code without credentials (RFC 6750 §3.1)`);
  }
  const basic = await request(ctx.server.url, 'GET', '/api/v1/me', { headers: { Authorization: 'Basic YWRtaW46eA==' } });
  assert.equal(basic.status, 401, 'another scheme is not a credential');
});

test('malformed, unknown, expired and revoked tokens get one identical 401 invalid_token answer', async () => {
  const wait = Date.parse(S.expiresAt) - Date.now() + 1100;
  if (wait > 0) await sleep(wait);
  const cases = {
    malformed: 'not-a-token',
    badChecksum: `${S.live.token.slice(0, -1)}${S.live.token.endsWith('A') ? 'B' : 'A'}`,
    unknownApi: wellFormedUnknownToken('tka_'),
    unknownMobile: wellFormedUnknownToken('tkm_'),
    expired: S.shortLived.token,
    revoked: S.revoked.token,
  };
  const answers = {};
  for (const [name, tok] of Object.entries(cases)) {
    for (const path of ['/api/v1/me', '/auth/verify']) {
      const res = await bearerClient(ctx.server, tok).get(path);
      assertProblem(res, 401, `${name} ${path}`);
      const ch = parseChallenge(res.headers.get('www-authenticate'));
      assert.equal(ch?.scheme, 'Bearer', `${name} ${path}`);
      assert.equal(ch.params.error, 'invalid_token', `${name} ${path}: error="invalid_token"`);
      answers[`${path} ${name}`] = { body: res.text, challenge: res.headers.get('www-authenticate') };
    }
  }
  for (const path of ['/api/v1/me', '/auth/verify']) {
    const ref = answers[`${path} malformed`];
    for (const name of Object.keys(cases)) {
      assert.deepEqual(answers[`${path} ${name}`], ref, `${path}: ${name} answers exactly like a malformed token`);
    }
  }
  for (const text of Object.values(answers).map((a) => a.body)) {
    assert.ok(!/expired|revoked|deleted|checksum/i.test(text), `the answer does not say why: ${text}`);
  }
});

test('an expired token shows status "expired" and is filtered by status=', async () => {
  const t = await ctx.admin.get(`/api/v1/tokens/${S.shortLived.id}`);
  assert.equal(t.status, 200);
  assert.equal(t.json.status, 'expired');
  const expired = await ctx.admin.get('/api/v1/tokens?kind=api&status=expired');
  assert.deepEqual(expired.json.items.map((i) => i.id), [S.shortLived.id]);
  const active = await ctx.admin.get('/api/v1/tokens?kind=api&status=active');
  assert.ok(active.json.items.some((i) => i.id === S.live.id));
  assert.ok(!active.json.items.some((i) => i.id === S.shortLived.id));
  assert.ok(!active.json.items.some((i) => i.id === S.revoked.id), 'a deleted token is in no list');
});

test('the Authorization scheme is case-insensitive; one or more spaces may follow it (RFC 9110, RFC 6750)', async () => {
  for (const header of [`bearer ${S.live.token}`, `BEARER ${S.live.token}`, `Bearer  ${S.live.token}`]) {
    const res = await request(ctx.server.url, 'GET', '/auth/verify', { headers: { Authorization: header } });
    assert.equal(res.status, 204, `${JSON.stringify(header.slice(0, 9))}: ${res.status} ${res.text}`);
  }
});

test('a malformed Authorization header is refused with 400 or 401, never accepted', async () => {
  const headers = [
    'Bearer', 'Bearer ', `Bearer ${S.live.token} extra`, `Bearer ${S.live.token},`, `Bearer "${S.live.token}"`,
    `Bearer\t${S.live.token}x`, `Token ${S.live.token}`, `${S.live.token}`, `Bearer ${'A'.repeat(4000)}`,
  ];
  for (const h of headers) {
    const res = await request(ctx.server.url, 'GET', '/api/v1/me', { headers: { Authorization: h } });
    assert.ok([400, 401].includes(res.status), `${JSON.stringify(h.slice(0, 20))}: ${res.status} ${res.text}`);
    if (res.status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
  }
});

test('NUL and non-ASCII bytes in headers never authenticate and never crash the server', async () => {
  const tok = S.live.token;
  const cases = [
    `Authorization: Bearer ${tok.slice(0, 10)}\x00${tok.slice(11)}`,
    `Authorization: Bearer ${tok}\x00`,
    `Authorization: Bearer ${tok.slice(0, 10)}\xe9${tok.slice(11)}`,
    `Authorization: Bearer \xff\xfe\xfd${tok.slice(3)}`,
    'X-Note: caf\xc3\xa9 \xff',
    'X-N\x00ame: x',
  ];
  for (const line of cases) {
    const res = await rawRequest(ctx.server, `GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n${line}\r\nConnection: close\r\n\r\n`);
    const label = JSON.stringify(line.slice(0, 40));
    if (res.status === null) { assert.ok(res.closed, `${label}: closed without an answer`); continue; }
    assert.ok([400, 401].includes(res.status), `${label}: ${res.status} ${res.body}`);
  }
  // A header without credentials but with odd bytes is still just unauthenticated.
  const plain = await rawRequest(ctx.server, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Note: \xe9t\xe9\r\nConnection: close\r\n\r\n');
  assert.ok(plain.status === 200 || plain.status === 400, `obs-text in an unrelated header: ${plain.status}`);
  assert.equal((await bearerClient(ctx.server, tok).get('/api/v1/me')).status, 200, 'the server still works');
});

test('a token in the query string is never accepted', async () => {
  const tok = S.live.token;
  for (const path of [`/api/v1/me?access_token=${tok}`, `/auth/verify?access_token=${tok}`,
    `/api/v1/tokens?access_token=${tok}`, `/api/v1/me?token=${tok}`]) {
    const res = await anonClient(ctx.server).get(path);
    assert.ok([400, 401].includes(res.status), `${path.split('?')[0]}: ${res.status}`);
  }
});

test('a cookie request that changes state needs a valid X-CSRF-Token (403 otherwise)', async () => {
  const { admin, ids } = ctx;
  const cookieOnly = { Cookie: admin.cookie };
  const noCsrf = await request(ctx.server.url, 'POST', '/api/v1/departments', {
    headers: cookieOnly, body: { name: 'No CSRF', parent_id: ids.rootId },
  });
  assertProblem(noCsrf, 403, 'POST without X-CSRF-Token');
  const wrong = await request(ctx.server.url, 'POST', '/api/v1/departments', {
    headers: { ...cookieOnly, 'X-CSRF-Token': `${admin.csrf}x` }, body: { name: 'Wrong CSRF', parent_id: ids.rootId },
  });
  assertProblem(wrong, 403, 'POST with a wrong X-CSRF-Token');
  const del = await request(ctx.server.url, 'DELETE', `/api/v1/tokens/${S.live.id}`, { headers: cookieOnly });
  assertProblem(del, 403, 'DELETE without X-CSRF-Token');
  const reveal = await request(ctx.server.url, 'POST', `/api/v1/tokens/${S.live.id}/reveal`, { headers: cookieOnly });
  assertProblem(reveal, 403, 'reveal without X-CSRF-Token');
  assert.ok(!reveal.text.includes(S.live.token));
  const logout = await request(ctx.server.url, 'POST', '/api/v1/auth/logout', { headers: cookieOnly });
  assertProblem(logout, 403, 'logout without X-CSRF-Token');
  // nothing happened
  const deps = await admin.get('/api/v1/departments');
  assert.ok(!deps.json.items.some((d) => /CSRF/.test(d.name)), 'no department was created');
  assert.equal((await bearerClient(ctx.server, S.live.token).get('/api/v1/me')).status, 200, 'the token was not deleted');
  // reads need no CSRF token
  const read = await request(ctx.server.url, 'GET', '/api/v1/me', { headers: cookieOnly });
  assert.equal(read.status, 200, read.text);
  // the session cookie with a CSRF token of another session is refused too
  const other = await request(ctx.server.url, 'POST', '/api/v1/auth/login', {
    body: { tenant: 'default', username: 'admin', password: ctx.server.adminPassword },
  });
  assert.equal(other.status, 200);
  assert.notEqual(other.json.csrf_token, admin.csrf, 'each session has its own CSRF token');
  const crossed = await request(ctx.server.url, 'POST', '/api/v1/departments', {
    headers: { ...cookieOnly, 'X-CSRF-Token': other.json.csrf_token }, body: { name: 'Crossed CSRF', parent_id: ids.rootId },
  });
  assertProblem(crossed, 403, 'another session\'s CSRF token');
});

test('an invalid or missing session cookie is a 401', async () => {
  const bogus = await request(ctx.server.url, 'GET', '/api/v1/me', { headers: { Cookie: 'tokend_session=bogus' } });
  assertProblem(bogus, 401, 'bogus session cookie');
  const mangled = await request(ctx.server.url, 'GET', '/api/v1/me', { headers: { Cookie: `${ctx.admin.cookie}x` } });
  assertProblem(mangled, 401, 'mangled session cookie');
});

test('wrong sign-in credentials: one 401 answer for unknown tenant, unknown user and wrong password', async () => {
  const bodies = [
    { tenant: 'default', username: 'admin', password: 'wrong-password' },
    { tenant: 'default', username: 'nobody', password: 'wrong-password' },
    { tenant: 'no-such-tenant', username: 'admin', password: 'wrong-password' },
  ];
  const answers = [];
  for (const body of bodies) {
    const res = await request(ctx.server.url, 'POST', '/api/v1/auth/login', { body });
    assertProblem(res, 401, JSON.stringify(body));
    assert.equal((res.headers.get('set-cookie') ?? ''), '', 'no cookie on failure');
    answers.push(res.json.detail);
  }
  assert.equal(new Set(answers).size, 1, `one message for all: ${JSON.stringify(answers)}`);
  const mob = await request(ctx.server.url, 'POST', '/api/v1/mobile/login', {
    body: { tenant: 'default', username: S.user.username, password: 'wrong-password', device_name: 'x' },
  });
  assertProblem(mob, 401, 'mobile login with a wrong password');
});

finalChecks(ctx);

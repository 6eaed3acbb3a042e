// Web protections and credential attacks: sign-in enumeration and timing, throttling, the
// session cookie's attributes and lifecycle, CSRF and Origin checks, security headers.
// Failed sign-ins are throttled per account (5) and per address (20 in 15 min); every test
// here comes from 127.0.0.1, so the order and the number of failures below are deliberate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import { assertProblem, bearerClient, rawRequest, request, setCookies } from '../lib/tokend.mjs';
import { createApiToken, createUser, unique } from '../lib/fixtures.mjs';
import { summary } from './summary.mjs';

const ctx = useServer();
const sum = summary('web');
const S = {};

const loginReq = (body, headers = {}) => request(ctx.server.url, 'POST', '/api/v1/auth/login', { body, headers });

function sessionCookie(res) {
  return setCookies(res.headers).find((c) => /^(__Host-)?tokend_session=/.test(c.trim()));
}

function comparable(res) {
  const headers = {};
  res.headers.forEach((v, k) => { if (!['date', 'x-request-id', 'content-length'].includes(k)) headers[k] = v; });
  const body = { ...(res.json ?? {}) };
  delete body.request_id;
  delete body.instance;
  return JSON.stringify({ status: res.status, headers, body });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('setup: users for the enumeration and throttling checks', async () => {
  S.victim = await createUser(ctx.admin, { memberships: [{ department_id: ctx.ids.rootId, user_type_id: ctx.ids.memberTypeId }] });
  S.other = await createUser(ctx.admin, { memberships: [{ department_id: ctx.ids.rootId, user_type_id: ctx.ids.memberTypeId }] });
});

test('unknown user and wrong password get identical answers, within 2x of each other in time', async () => {
  // Warm up once each (first Argon2id call, page cache); 3 + 3 failures (address budget: 20).
  const wrong = [];
  const unknown = [];
  let wrongRes;
  let unknownRes;
  for (let i = 0; i < 4; i++) {
    sum.tally('sign-in');
    let t = process.hrtime.bigint();
    wrongRes = await loginReq({ tenant: 'default', username: S.victim.username, password: `wrong-${i}` });
    const dw = Number(process.hrtime.bigint() - t) / 1e6;
    sum.tally('sign-in');
    t = process.hrtime.bigint();
    unknownRes = await loginReq({ tenant: 'default', username: unique('ghost'), password: `wrong-${i}` });
    const du = Number(process.hrtime.bigint() - t) / 1e6;
    if (i > 0) { wrong.push(dw); unknown.push(du); }
    assertProblem(wrongRes, 401, 'wrong password');
    assertProblem(unknownRes, 401, 'unknown user');
    assert.equal(comparable(wrongRes), comparable(unknownRes), 'identical answers (status, headers, body)');
  }
  const mw = median(wrong);
  const mu = median(unknown);
  sum.set('login_median_ms_wrong_password', Math.round(mw * 10) / 10);
  sum.set('login_median_ms_unknown_user', Math.round(mu * 10) / 10);
  const ratio = Math.max(mw, mu) / Math.min(mw, mu);
  sum.set('login_timing_ratio', Math.round(ratio * 100) / 100);
  assert.ok(ratio < 2, `median times ${mw.toFixed(1)} ms (wrong password) vs ${mu.toFixed(1)} ms (unknown user)`);
});

test('repeated failures are throttled with 429 and Retry-After; the right password is refused then too', async () => {
  let res;
  const seen = [];
  for (let i = 0; i < 8; i++) {
    sum.tally('sign-in');
    res = await loginReq({ tenant: 'default', username: S.other.username, password: 'nope' });
    seen.push(res.status);
    if (res.status === 429) break;
  }
  assertProblem(res, 429, `throttled after ${seen.join(',')}`);
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  sum.tally('sign-in');
  const right = await loginReq({ tenant: 'default', username: S.other.username, password: S.other.password });
  assertProblem(right, 429, 'even the right password while throttled');
  assert.equal(sessionCookie(right), undefined, 'no session while throttled');
  // Another account from the same address is not locked out yet (address limit is higher).
  sum.tally('sign-in');
  const admin = await loginReq({ tenant: 'default', username: 'admin', password: ctx.server.adminPassword });
  assert.equal(admin.status, 200, admin.text);
});

test('the session cookie is HttpOnly and SameSite=Strict, and the login answer is not cacheable', async () => {
  sum.tally('session');
  const res = await loginReq({ tenant: 'default', username: 'admin', password: ctx.server.adminPassword });
  assert.equal(res.status, 200);
  const c = sessionCookie(res);
  assert.ok(c, 'a session cookie');
  assert.match(c, /;\s*HttpOnly/i);
  assert.match(c, /;\s*SameSite=Strict/i);
  assert.match(c, /;\s*Path=\//i);
  assert.ok(!/;\s*Domain=/i.test(c), 'host-only cookie');
  assert.equal(res.headers.get('cache-control'), 'no-store', 'the CSRF token is a secret');
  const value = c.split(';')[0].split('=').slice(1).join('=');
  assert.ok(value.length >= 32, `session id has at least 32 characters: ${value.length}`);
  assert.ok(!JSON.stringify(res.json).includes(value), 'the session id is not in the body');
});

test('the session id is rotated at sign-in (no fixation) and dead after logout', async () => {
  sum.tally('session');
  const first = await loginReq({ tenant: 'default', username: 'admin', password: ctx.server.adminPassword });
  const c1 = sessionCookie(first).split(';')[0];
  // Sign in again while presenting the old cookie (and a planted one): a fresh id each time.
  sum.tally('session');
  const planted = 'tokend_session=attacker-chosen-session-id-0123456789abcdef';
  const second = await loginReq({ tenant: 'default', username: 'admin', password: ctx.server.adminPassword },
    { Cookie: `${c1}; ${planted}` });
  assert.equal(second.status, 200);
  const c2 = sessionCookie(second).split(';')[0];
  assert.notEqual(c2, c1, 'a new session id at sign-in');
  assert.notEqual(c2.split('=')[1], planted.split('=')[1]);
  assert.notEqual(second.json.csrf_token, first.json.csrf_token);
  sum.tally('session');
  const plantedUse = await request(ctx.server.url, 'GET', '/api/v1/me', { headers: { Cookie: planted } });
  assertProblem(plantedUse, 401, 'a planted session id is not a session');
  // Logout of the second session: its cookie is dead at once, the first one still lives.
  sum.tally('session');
  const out = await request(ctx.server.url, 'POST', '/api/v1/auth/logout', { headers: { Cookie: c2, 'X-CSRF-Token': second.json.csrf_token } });
  assert.equal(out.status, 204, out.text);
  const cleared = sessionCookie(out);
  assert.ok(cleared && (/Max-Age=0/i.test(cleared) || /Expires=Thu, 01 Jan 1970/i.test(cleared)), `logout clears the cookie: ${cleared}`);
  for (const path of ['/api/v1/me', '/api/v1/tokens?kind=api']) {
    sum.tally('session');
    const dead = await request(ctx.server.url, 'GET', path, { headers: { Cookie: c2 } });
    assertProblem(dead, 401, `${path} after logout`);
  }
  sum.tally('session');
  const replay = await request(ctx.server.url, 'POST', '/api/v1/departments', {
    headers: { Cookie: c2, 'X-CSRF-Token': second.json.csrf_token }, body: { name: 'after logout', parent_id: ctx.ids.rootId },
  });
  assertProblem(replay, 401, 'a write after logout');
  sum.tally('session');
  assert.equal((await request(ctx.server.url, 'GET', '/api/v1/me', { headers: { Cookie: c1 } })).status, 200, 'the other session lives');
});

test('state-changing cookie requests need the CSRF token and a same-site Origin; nothing changes otherwise', async () => {
  const { admin, ids } = ctx;
  const names = async () => (await admin.get('/api/v1/departments')).json.items.map((d) => d.name).sort();
  const before = await names();
  const tok = await createApiToken(admin, { user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId });
  const hostOrigin = ctx.server.url.replace(/\/$/, '');
  const attempts = [
    [{ Cookie: admin.cookie }, 'no CSRF token'],
    [{ Cookie: admin.cookie, 'X-CSRF-Token': '' }, 'empty CSRF token'],
    [{ Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf.toUpperCase() === admin.csrf ? `${admin.csrf}x` : admin.csrf.toUpperCase() }, 'case-changed CSRF token'],
    [{ Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf, Origin: 'https://evil.example' }, 'foreign Origin'],
    [{ Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf, Origin: 'null' }, 'Origin null'],
    [{ Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf, Origin: `${hostOrigin}.evil.example` }, 'suffix Origin'],
    [{ Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf, Origin: hostOrigin.replace('127.0.0.1', 'localhost') }, 'other host Origin'],
    [{ Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf, Origin: hostOrigin.replace(/:\d+$/, ':1') }, 'other port Origin'],
  ];
  for (const [headers, label] of attempts) {
    sum.tally('csrf');
    const dep = await request(ctx.server.url, 'POST', '/api/v1/departments', { headers, body: { name: `csrf ${label}`, parent_id: ids.rootId } });
    assertProblem(dep, 403, label);
    sum.tally('csrf');
    const del = await request(ctx.server.url, 'DELETE', `/api/v1/tokens/${tok.id}`, { headers });
    assertProblem(del, 403, `${label} (DELETE)`);
    sum.tally('csrf');
    const rev = await request(ctx.server.url, 'POST', `/api/v1/tokens/${tok.id}/reveal`, { headers });
    assertProblem(rev, 403, `${label} (reveal)`);
    assert.ok(!rev.text.includes(tok.token));
  }
  // Two X-CSRF-Token headers (one right, one wrong) are refused as well.
  sum.tally('csrf');
  const two = await rawRequest(ctx.server, `DELETE /api/v1/tokens/${tok.id} HTTP/1.1\r\nHost: ${ctx.server.host}:${ctx.server.port}\r\n`
    + `Cookie: ${admin.cookie}\r\nX-CSRF-Token: ${admin.csrf}\r\nX-CSRF-Token: bogus\r\nConnection: close\r\n\r\n`);
  assert.equal(two.status, 403, two.raw.slice(0, 200));
  // A cross-site sign-in (login CSRF) is refused too.
  sum.tally('csrf');
  const crossLogin = await loginReq({ tenant: 'default', username: 'admin', password: ctx.server.adminPassword }, { Origin: 'https://evil.example' });
  assertProblem(crossLogin, 403, 'cross-site sign-in');
  assert.equal(sessionCookie(crossLogin), undefined);
  assert.deepEqual(await names(), before, 'no department was created');
  assert.equal((await bearerClient(ctx.server, tok.token).get('/auth/verify')).status, 204, 'the token was not deleted');
  // The same request with the right token and Origin works: the refusals above were the checks.
  sum.tally('csrf');
  const good = await request(ctx.server.url, 'DELETE', `/api/v1/tokens/${tok.id}`, { headers: { Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf, Origin: hostOrigin } });
  assert.equal(good.status, 204, good.text);
});

test('security headers on pages, API answers and errors; no-store on everything carrying a secret', async () => {
  const { admin, ids } = ctx;
  const checks = [
    ['/', await request(ctx.server.url, 'GET', '/')],
    ['/api/v1/me', await admin.get('/api/v1/me')],
    ['404', await admin.get('/api/v1/tokens/nope')],
    ['401', await request(ctx.server.url, 'GET', '/api/v1/me')],
    ['405', await request(ctx.server.url, 'PUT', '/api/v1/me')],
    ['/healthz', await request(ctx.server.url, 'GET', '/healthz')],
  ];
  for (const [label, res] of checks) {
    sum.tally('headers');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/, `${label}: CSP ${csp}`);
    assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(csp), `${label}: CSP without unsafe-* or wildcards: ${csp}`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', label);
    assert.match(res.headers.get('referrer-policy') ?? '', /^(no-referrer|same-origin|strict-origin)/, label);
  }
  const tok = await admin.post('/api/v1/tokens', {
    name: unique('sec'), expires_at: new Date(Date.now() + 5 * 86400e3).toISOString().slice(0, 10),
    user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId,
  });
  const secretCarriers = [
    ['create', tok],
    ['reveal', await admin.post(`/api/v1/tokens/${tok.json.id}/reveal`, {})],
    ['login', await loginReq({ tenant: 'default', username: 'admin', password: ctx.server.adminPassword })],
    ['mobile login', await request(ctx.server.url, 'POST', '/api/v1/mobile/login', {
      body: { tenant: 'default', username: S.victim.username, password: S.victim.password, device_name: 'p' },
    })],
    ['token detail', await admin.get(`/api/v1/tokens/${tok.json.id}`)],
    ['token list', await admin.get('/api/v1/tokens?kind=api')],
  ];
  for (const [label, res] of secretCarriers) {
    sum.tally('headers');
    assert.ok(res.status < 300, `${label}: ${res.status} ${res.text}`);
    assert.equal(res.headers.get('cache-control'), 'no-store', `${label}: Cache-Control`);
  }
  assert.ok(!secretCarriers[4][1].text.includes(tok.json.token), 'the detail view does not carry the secret');
  assert.ok(!secretCarriers[5][1].text.includes(tok.json.token), 'the list does not carry the secret');
});

test('reveal is rate-limited with 429 + Retry-After, reveals nothing then, and each reveal is audited', async () => {
  const { admin, ids } = ctx;
  const tok = await createApiToken(admin, { user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId });
  let res;
  let ok = 0;
  for (let i = 0; i < 60; i++) {
    sum.tally('reveal');
    res = await admin.post(`/api/v1/tokens/${tok.id}/reveal`, {});
    if (res.status === 429) break;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.token, tok.token);
    ok += 1;
  }
  assertProblem(res, 429, `after ${ok} reveals`);
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  assert.ok(!res.text.includes(tok.token), 'a throttled answer reveals nothing');
  sum.set('reveals_before_429', ok);
  const audit = await admin.get('/api/v1/audit-events?limit=200');
  const reveals = audit.json.items.filter((e) => /reveal/.test(e.action) && JSON.stringify(e).includes(tok.id));
  assert.equal(reveals.length, ok, `one audit event per successful reveal (${reveals.length} vs ${ok})`);
  assert.ok(!audit.text.includes(tok.token), 'the audit trail does not hold the secret');
});

test('write the figures', () => { sum.write(); });

finalChecks(ctx);

// Attack and bad-input tests against a real tokend: every case asserts the exact status AND
// that nothing changed (the directory and the token lists are snapshotted around it).
// tests/http covers the happy paths and the lenient variants; this file is the hostile one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import {
  assertProblem, bearerClient, createTenant, dateFromToday, login, rawRequest, request,
} from '../lib/tokend.mjs';
import { createApiToken, createDepartment, createUser, createUserType, bootstrapIds, unique } from '../lib/fixtures.mjs';
import { summary } from './summary.mjs';

const ctx = useServer();
const sum = summary('attacks');
const S = {};

// ---------------------------------------------------------------------------------------------
// "Nothing changed": everything an attacker could alter, minus the fields that move on use.

async function listAll(client, path) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < 50; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await client.get(`${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(res.status, 200, `${path}: ${res.status} ${res.text}`);
    items.push(...res.json.items);
    cursor = res.json.next_cursor;
    if (!cursor) break;
  }
  return items;
}

async function snapshot(client = ctx.admin) {
  const strip = (t) => ({
    id: t.id, name: t.name, description: t.description, expires_at: t.expires_at, user: t.user?.id,
    department: t.department?.id, user_type: t.user_type?.id, device: t.device_name, tenant: t.tenant_id,
  });
  const byId = (a, b) => (a.id < b.id ? -1 : 1);
  return JSON.stringify({
    api: (await listAll(client, '/api/v1/tokens?kind=api')).map(strip).sort(byId),
    mobile: (await listAll(client, '/api/v1/tokens?kind=mobile')).map(strip).sort(byId),
    users: (await listAll(client, '/api/v1/users')).map((u) => ({ ...u })).sort(byId),
    departments: (await client.get('/api/v1/departments')).json.items.sort(byId),
    user_types: (await client.get('/api/v1/user-types')).json.items.sort(byId),
  });
}

async function unchanged(before, label, client = ctx.admin) {
  assert.equal(await snapshot(client), before, `${label}: the stored state changed`);
}

// The field names an error answer points at.
function fieldsOf(res) {
  return (res.json?.errors ?? []).map((e) => e.field);
}

const raw = (line, extra = '') => `${line}\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`;

// ---------------------------------------------------------------------------------------------

test('setup: two departments, a user, API tokens, a second tenant with its own objects', async () => {
  const { admin, ids } = ctx;
  S.dept = await createDepartment(admin, unique('Sec'), ids.rootId);
  S.type = await createUserType(admin, unique('Writer'), ['tokens:read', 'tokens:write', 'users:read']);
  S.user = await createUser(admin, { memberships: [{ department_id: S.dept.id, user_type_id: S.type.id }] });
  const mk = (name) => createApiToken(admin, {
    name, user_id: S.user.id, department_id: S.dept.id, user_type_id: S.type.id,
  });
  S.tok = await mk(unique('victim'));
  S.pct = await mk('100%_off \\ back');
  S.extra = [await mk(unique('page')), await mk(unique('page'))];
  S.adminTok = await createApiToken(admin, {
    user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId,
  });

  const b = await createTenant(ctx.server, unique('tenantb'));
  S.b = await login(ctx.server, { tenant: b.name, username: 'admin', password: b.adminPassword });
  S.bIds = await bootstrapIds(S.b);
  assert.notEqual(S.bIds.tenantId, ids.tenantId);
  S.bTok = await createApiToken(S.b, {
    user_id: S.bIds.adminUserId, department_id: S.bIds.rootId, user_type_id: S.bIds.administratorTypeId,
  });
  S.bUser = await createUser(S.b, { memberships: [{ department_id: S.bIds.rootId, user_type_id: S.bIds.memberTypeId }] });
  S.bDept = await createDepartment(S.b, unique('BDept'), S.bIds.rootId);
});

test('a token in the query string is refused with 400, even next to a valid header; nothing happens', async () => {
  const before = await snapshot();
  const tok = S.adminTok.token;
  const anon = (m, p, o) => request(ctx.server.url, m, p, o);
  const cases = [
    ['GET', `/api/v1/me?access_token=${tok}`, {}],
    ['GET', `/auth/verify?access_token=${tok}`, {}],
    ['DELETE', `/api/v1/tokens/${S.tok.id}?access_token=${tok}`, {}],
    ['POST', `/api/v1/tokens/delete?access_token=${tok}`, { body: { ids: [S.tok.id] } }],
    // doubled credentials: header plus query
    ['DELETE', `/api/v1/tokens/${S.tok.id}?access_token=${tok}`, { headers: { Authorization: `Bearer ${tok}` } }],
    ['GET', `/auth/verify?access_token=${tok}`, { headers: { Authorization: `Bearer ${tok}` } }],
  ];
  for (const [m, p, o] of cases) {
    sum.tally('credentials');
    const res = await anon(m, p, o);
    const p2 = assertProblem(res, 400, `${m} ${p.split('?')[0]}`);
    assert.ok(!res.text.includes(tok), 'the answer does not echo the token');
    assert.ok(p2.errors?.some((e) => e.field === 'access_token'), `names access_token: ${res.text}`);
  }
  await unchanged(before, 'query-string tokens');
});

test('doubled credentials: two Authorization headers, or header plus access_token in the body, are 400', async () => {
  const before = await snapshot();
  const tok = S.adminTok.token;
  sum.tally('credentials');
  const two = await rawRequest(ctx.server, raw(`DELETE /api/v1/tokens/${S.tok.id} HTTP/1.1`,
    `Authorization: Bearer ${tok}\r\nAuthorization: Bearer ${tok}\r\n`));
  assert.equal(two.status, 400, `two Authorization headers: ${two.raw.slice(0, 300)}`);
  sum.tally('credentials');
  const twoVerify = await rawRequest(ctx.server, raw('GET /auth/verify HTTP/1.1',
    `Authorization: Bearer ${tok}\r\nAuthorization: Bearer ${S.tok.token}\r\n`));
  assert.equal(twoVerify.status, 400, `two Authorization headers on /auth/verify: ${twoVerify.raw.slice(0, 300)}`);
  sum.tally('credentials');
  const body = await request(ctx.server.url, 'POST', '/api/v1/tokens/delete', {
    headers: { Authorization: `Bearer ${tok}` }, body: { ids: [S.tok.id], access_token: tok },
  });
  assertProblem(body, 400, 'access_token in the JSON body');
  assert.ok(fieldsOf(body).includes('access_token'), `names access_token: ${body.text}`);
  // RFC 6750 §2.2 form-encoded body parameter: this API takes JSON only, so it is refused as such.
  sum.tally('credentials');
  const form = await request(ctx.server.url, 'POST', '/api/v1/tokens/delete', {
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    rawBody: `access_token=${tok}`,
  });
  assertProblem(form, 415, 'form-encoded access_token');
  await unchanged(before, 'doubled credentials');
});

test('lowercase `bearer`, tabs and extra spaces are accepted (RFC 9110 case-insensitive scheme)', async () => {
  for (const h of [`bearer ${S.tok.token}`, `bEaReR ${S.tok.token}`, `Bearer    ${S.tok.token}`,
    `Bearer\t${S.tok.token}`, `  Bearer ${S.tok.token}   `]) {
    sum.tally('credentials');
    const res = await rawRequest(ctx.server, raw('GET /auth/verify HTTP/1.1', `Authorization: ${h}\r\n`));
    assert.equal(res.status, 204, `${JSON.stringify(h.slice(0, 12))}: ${res.raw.slice(0, 200)}`);
  }
});

test('NUL, CR, LF and non-ASCII bytes in headers: 400 or a closed connection, never authenticated', async () => {
  const before = await snapshot();
  const tok = S.adminTok.token;
  const del = `DELETE /api/v1/tokens/${S.tok.id} HTTP/1.1`;
  const cases = [
    raw(del, `Authorization: Bearer ${tok}\x00\r\n`),
    raw(del, `Authorization: Bearer ${tok.slice(0, 20)}\x00${tok.slice(21)}\r\n`),
    raw(del, `Authorization: Bearer ${tok}\rX-Injected: 1\r\n`),
    raw(del, `Authorization: Bearer ${tok}\nX-Injected: 1\r\n`),
    raw(del, `Authorization: Bearer ${tok}\r\n continued-line\r\n`),
    raw(del, `Authorization: Bearer ${tok.slice(0, 20)}\xc3\xa9${tok.slice(22)}\r\n`),
    raw(del, `Authorization: Bearer \xff${tok}\r\n`),
    raw(del, `X-Na\x00me: 1\r\nAuthorization: Bearer ${tok}\r\n`),
    raw(del, `X Bad Name: 1\r\nAuthorization: Bearer ${tok}\r\n`),
    raw(del, `Authorization : Bearer ${tok}\r\n`),
    `DELETE /api/v1/tokens/${S.tok.id}\x00 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${tok}\r\n\r\n`,
    `DELETE /api/v1/tokens/${S.tok.id} HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer ${tok}\x00\n\n`,
  ];
  for (const c of cases) {
    sum.tally('header bytes');
    const res = await rawRequest(ctx.server, c);
    const label = JSON.stringify(c.slice(0, 80));
    if (res.status === null) {
      assert.ok(res.closed, `${label}: neither an answer nor a close`);
    } else {
      assert.ok([400, 401].includes(res.status), `${label}: ${res.status} ${res.raw.slice(0, 200)}`);
    }
  }
  // The request id is ours, never a client's CRLF-laden value (response splitting).
  sum.tally('header bytes');
  const split = await rawRequest(ctx.server, raw('GET /healthz HTTP/1.1', 'X-Request-Id: a\rSet-Cookie: pwned=1\r\n'));
  assert.ok(!/pwned/.test(split.raw), `no header injected into the answer: ${split.raw.slice(0, 300)}`);
  assert.ok(ctx.server.alive());
  await unchanged(before, 'header bytes');
});

test('oversized headers are 431 and oversized bodies 413 (declared or chunked); nothing is created', async () => {
  const before = await snapshot();
  sum.tally('size limits');
  const big = await rawRequest(ctx.server, raw('GET /api/v1/me HTTP/1.1', `X-Big: ${'a'.repeat(20_000)}\r\n`));
  assert.equal(big.status, 431, `20 KB header: ${big.raw.slice(0, 200)}`);
  sum.tally('size limits');
  const many = await rawRequest(ctx.server, raw('GET /api/v1/me HTTP/1.1',
    Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join('')));
  assert.equal(many.status, 431, `2000 headers: ${many.raw.slice(0, 200)}`);

  const body = JSON.stringify({
    name: 'x'.repeat(300_000), expires_at: dateFromToday(30), user_id: S.user.id,
    department_id: S.dept.id, user_type_id: S.type.id,
  });
  sum.tally('size limits');
  const declared = await ctx.admin.request('POST', '/api/v1/tokens', {
    rawBody: body, headers: { 'Content-Type': 'application/json' },
  });
  assertProblem(declared, 413, '300 KB body');
  sum.tally('size limits');
  const head = `POST /api/v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${ctx.admin.cookie}\r\nX-CSRF-Token: ${ctx.admin.csrf}\r\n`
    + 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
  const chunks = [];
  for (let i = 0; i < body.length; i += 16_384) {
    const part = body.slice(i, i + 16_384);
    chunks.push(`${part.length.toString(16)}\r\n${part}\r\n`);
  }
  const chunked = await rawRequest(ctx.server, `${head}${chunks.join('')}0\r\n\r\n`);
  assert.ok(chunked.status === 413 || (chunked.status === null && chunked.closed),
    `300 KB chunked body: ${chunked.status} ${chunked.raw.slice(0, 200)}`);
  sum.tally('size limits');
  const lying = await rawRequest(ctx.server,
    `POST /api/v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n{}`);
  assert.ok([400, 413].includes(lying.status), `absurd Content-Length: ${lying.status}`);
  assert.ok(ctx.server.alive());
  await unchanged(before, 'size limits');
});

test('deeply nested JSON (100,000 levels) is a 400 and the server stays up', async () => {
  const before = await snapshot();
  const bodies = [
    '['.repeat(100_000) + ']'.repeat(100_000),
    `{"ids": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
    '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_000),
    '['.repeat(100_000), // never closed
  ];
  for (const b of bodies) {
    for (const path of ['/api/v1/tokens', '/api/v1/tokens/delete']) {
      sum.tally('json');
      const res = await ctx.admin.request('POST', path, { rawBody: b, headers: { 'Content-Type': 'application/json' } });
      assertProblem(res, 400, `nested ${b.slice(0, 8)}… to ${path}`);
    }
  }
  assert.ok(ctx.server.alive());
  assert.equal((await ctx.admin.get('/api/v1/me')).status, 200);
  await unchanged(before, 'nested JSON');
});

function createBody(over = {}) {
  return {
    name: unique('t'), description: 'd', expires_at: dateFromToday(30), user_id: S.user.id,
    department_id: S.dept.id, user_type_id: S.type.id, ...over,
  };
}

test('duplicate JSON keys are refused (also when spelled with escapes) and nothing is created', async () => {
  const before = await snapshot();
  const ok = JSON.stringify(createBody()).slice(1, -1);
  const dups = [
    `{${ok},"name":"second"}`,
    `{${ok},"n\\u0061me":"escaped"}`,
    `{${ok},"user_id":"${S.bIds.adminUserId}"}`,
    `{"ids":["${S.tok.id}"],"ids":[]}`,
  ];
  for (const b of dups) {
    sum.tally('json');
    const path = b.startsWith('{"ids"') ? '/api/v1/tokens/delete' : '/api/v1/tokens';
    const res = await ctx.admin.request('POST', path, { rawBody: b, headers: { 'Content-Type': 'application/json' } });
    assertProblem(res, 400, `duplicate key ${b.slice(-30)}`);
  }
  await unchanged(before, 'duplicate keys');
});

test('wrong types and unknown fields are 400 with a pointer to the field', async () => {
  const before = await snapshot();
  const cases = [
    [createBody({ name: 123 }), 'name'],
    [createBody({ name: ['a'] }), 'name'],
    [createBody({ description: { x: 1 } }), 'description'],
    [createBody({ expires_at: 1893456000 }), 'expires_at'],
    [createBody({ user_id: true }), 'user_id'],
    [createBody({ department_id: 1.5 }), 'department_id'],
    [createBody({ admin: true }), 'admin'],
    [createBody({ token: 'tka_chosen' }), 'token'],
    [createBody({ id: 'chosen-id' }), 'id'],
    [createBody({ __proto__: { polluted: 1 }, constructor: 'x' }), 'constructor'],
  ];
  for (const [body, field] of cases) {
    sum.tally('json');
    const res = await ctx.admin.post('/api/v1/tokens', body);
    assertProblem(res, 400, `field ${field}`);
    assert.ok(fieldsOf(res).includes(field), `errors[] points at ${field}: ${res.text}`);
  }
  for (const [body, field] of [[{ ids: S.tok.id }, 'ids'], [{ ids: [1, 2] }, 'ids'], [{ ids: [], all: true }, 'all']]) {
    sum.tally('json');
    const res = await ctx.admin.post('/api/v1/tokens/delete', body);
    assertProblem(res, 400, `delete ${field}`);
    assert.ok(fieldsOf(res).some((f) => f.startsWith(field)), `errors[] points at ${field}: ${res.text}`);
  }
  for (const b of ['[]', '"str"', 'null', '1', '', '{"name":"a",}', '{"name":"\\ud800"}', '{"name":"\\udc00x"}',
    Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), '\ufeff{}', '{"name":NaN}', '{"name":"a"} {}']) {
    sum.tally('json');
    const res = await ctx.admin.request('POST', '/api/v1/tokens', { rawBody: b, headers: { 'Content-Type': 'application/json' } });
    assertProblem(res, 400, `body ${JSON.stringify(String(b))}`);
  }
  await unchanged(before, 'wrong types');
});

test('impossible calendar dates are 422 naming expires_at; null and non-strings are 400; nothing created', async () => {
  const before = await snapshot();
  const year = new Date().getUTCFullYear() + 1;
  // The next 29 February that does not exist.
  let noLeap = year;
  while ((noLeap % 4 === 0 && noLeap % 100 !== 0) || noLeap % 400 === 0) noLeap += 1;
  const invalid422 = [
    `${year}-02-30`, `${noLeap}-02-29`, `${year}-04-31`, `${year}-13-01`, `${year}-00-10`, `${year}-01-00`,
    `${year}-01-15T23:59:60Z`, `${year}-01-15T24:00:00Z`, `${year}-01-15T12:60:00Z`, '10000-01-01', '+10000-01-01',
    '', ' ', `${year}-1-5`, `${year}-01-15T12:00:00`, `${year}-01-15 12:00:00Z`, `${year}-01-15T12:00:00+25:00`,
    `${year}-01-15\u0000`, `${year}-０１-15`, 'tomorrow', '0000-00-00', '9999-12-31T23:59:59Z', '1969-12-31',
  ];
  for (const d of invalid422) {
    sum.tally('dates');
    const res = await ctx.admin.post('/api/v1/tokens', createBody({ expires_at: d }));
    assert.ok(res.status === 422 || res.status === 400, `${JSON.stringify(d)}: ${res.status} ${res.text}`);
    assert.equal(res.status, 422, `${JSON.stringify(d)} is a string, so its value is judged: 422 (${res.text})`);
    assert.ok(fieldsOf(res).includes('expires_at'), `${JSON.stringify(d)} names expires_at: ${res.text}`);
  }
  for (const v of [null, 20260101, true, [], {}]) {
    sum.tally('dates');
    const res = await ctx.admin.post('/api/v1/tokens', createBody({ expires_at: v }));
    assert.ok([400, 422].includes(res.status), `${JSON.stringify(v)}: ${res.status} ${res.text}`);
    assert.ok(fieldsOf(res).includes('expires_at'), `${JSON.stringify(v)} names expires_at: ${res.text}`);
  }
  const missing = createBody();
  delete missing.expires_at;
  sum.tally('dates');
  const res = await ctx.admin.post('/api/v1/tokens', missing);
  assert.ok([400, 422].includes(res.status) && fieldsOf(res).includes('expires_at'), `missing: ${res.status} ${res.text}`);
  await unchanged(before, 'dates');
});

test('SQL metacharacters and LIKE wildcards in q and sort: no 500, no extra rows (q=% matches literally)', async () => {
  const before = await snapshot();
  const all = await listAll(ctx.admin, '/api/v1/tokens?kind=api');
  assert.ok(all.length >= 5);
  const expect = (q) => all.filter((t) => t.name.toLowerCase().includes(q.toLowerCase()) || (t.description ?? '').toLowerCase().includes(q.toLowerCase())).map((t) => t.id).sort();
  const qs = ['%', '_', '%%', '\\', '\\%', "'", '"', "' OR '1'='1", "%' OR 1=1 --", "'; DROP TABLE tokens; --",
    '*', '[a-z]', '100%', '_off', '%_', 'ESCAPE', '\u0000', '$1', '?', ':name', '/*', '--', ') OR (1=1'];
  for (const q of qs) {
    sum.tally('sql/like');
    const res = await ctx.admin.get(`/api/v1/tokens?kind=api&limit=200&q=${encodeURIComponent(q)}`);
    if (q === '\u0000') { assert.ok([200, 400].includes(res.status), `NUL in q: ${res.status}`); continue; }
    assert.equal(res.status, 200, `q=${JSON.stringify(q)}: ${res.status} ${res.text}`);
    const got = res.json.items.map((t) => t.id).sort();
    // Only the literal substring may match (q may also search user names etc.: never more rows
    // than the literal-match superset of all, and `%` / `_` must not match everything).
    for (const id of got) assert.ok(all.some((t) => t.id === id), 'no foreign rows');
    if (['%', '_', '%%', '\\%', '%_', '100%', '_off'].includes(q)) {
      assert.deepEqual(got, expect(q), `q=${JSON.stringify(q)} matches literally`);
      assert.ok(got.length < all.length, `q=${JSON.stringify(q)} does not match everything`);
    }
  }
  for (const q of ['%', "' OR '1'='1"]) {
    sum.tally('sql/like');
    const res = await ctx.admin.get(`/api/v1/users?q=${encodeURIComponent(q)}`);
    assert.equal(res.status, 200, `users q=${q}: ${res.text}`);
    assert.equal(res.json.items.length, 0, `users q=${JSON.stringify(q)} matches nobody: ${res.text}`);
  }
  for (const s of ['name;DROP TABLE tokens', 'created_at desc', 'name,id', '(select 1)', '1', '--name', '-',
    'name ', 'NAME', "name'", 'tenant_id', 'token_hash', '-secret']) {
    sum.tally('sql/like');
    const res = await ctx.admin.get(`/api/v1/tokens?kind=api&sort=${encodeURIComponent(s)}`);
    assertProblem(res, 400, `sort=${s}`);
    assert.ok(fieldsOf(res).includes('sort'), `names sort: ${res.text}`);
  }
  for (const [k, v] of [['status', "active' OR 1=1"], ['kind', 'api;'], ['user_id', "' OR 1=1"], ['limit', '1;'], ['limit', '-1'], ['limit', '100000']]) {
    sum.tally('sql/like');
    const res = await ctx.admin.get(`/api/v1/tokens?${k}=${encodeURIComponent(v)}${k === 'kind' ? '' : '&kind=api'}`);
    if (k === 'user_id') {
      // An id filter is an opaque value: no match, never an error that leaks SQL.
      assert.ok([200, 400].includes(res.status), `${k}=${v}: ${res.status}`);
      if (res.status === 200) assert.equal(res.json.items.length, 0);
    } else {
      assertProblem(res, 400, `${k}=${v}`);
    }
  }
  await unchanged(before, 'sql');
});

test('forged, tampered and foreign pagination cursors are 400', async () => {
  const first = await ctx.admin.get('/api/v1/tokens?kind=api&limit=1');
  const cursor = first.json.next_cursor;
  assert.ok(cursor, 'a next cursor');
  const usersFirst = await ctx.admin.get('/api/v1/users?limit=1');
  const auditFirst = await ctx.admin.get('/api/v1/audit-events?limit=1');
  const flip = (c, i) => c.slice(0, i) + (c[i] === 'A' ? 'B' : 'A') + c.slice(i + 1);
  const decoded = Buffer.from(cursor, 'base64url').toString('latin1');
  const forged = [
    ['/api/v1/tokens?kind=api', 'garbage'],
    ['/api/v1/tokens?kind=api', `${cursor}=`],
    ['/api/v1/tokens?kind=api', `${cursor}==`],
    ['/api/v1/tokens?kind=api', cursor.replace(/-/g, '+').replace(/_/g, '/') + (cursor.includes('-') || cursor.includes('_') ? '' : '+')],
    ['/api/v1/tokens?kind=api', flip(cursor, 0)],
    ['/api/v1/tokens?kind=api', cursor.slice(0, -1)],
    ['/api/v1/tokens?kind=api', Buffer.from(decoded.replace('|api|', '|mobile|')).toString('base64url')],
    ['/api/v1/tokens?kind=api', Buffer.from(`${decoded}|extra`).toString('base64url')],
    ['/api/v1/tokens?kind=api', Buffer.from("v1|api|-created_at|' OR 1=1 --|x").toString('base64url')],
    ['/api/v1/tokens?kind=api', ''],
    ['/api/v1/tokens?kind=mobile', cursor],
    ['/api/v1/tokens?kind=api&sort=name', cursor],
    ['/api/v1/tokens?kind=api', usersFirst.json.next_cursor],
    ['/api/v1/tokens?kind=api', auditFirst.json.next_cursor],
    ['/api/v1/users', cursor],
    ['/api/v1/audit-events', cursor],
    ['/api/v1/users', 'AAAA'],
  ];
  for (const [path, c] of forged) {
    if (c === null || c === undefined) continue;
    sum.tally('cursors');
    const res = await ctx.admin.get(`${path}&cursor=${encodeURIComponent(c)}`.replace(/^([^?]*)&/, '$1?'));
    assertProblem(res, 400, `cursor ${JSON.stringify(c.slice(0, 20))} on ${path}`);
  }
  // Another tenant's cursor: at most positions this tenant's list, never shows tenant B's rows.
  sum.tally('cursors');
  const bPage = await S.b.get('/api/v1/tokens?kind=api&limit=1');
  const bCursor = bPage.json.next_cursor ?? Buffer.from(`v1|api|-created_at|${S.bTok.id}|x`).toString('base64url');
  const cross = await ctx.admin.get(`/api/v1/tokens?kind=api&cursor=${encodeURIComponent(bCursor)}`);
  assert.ok([200, 400].includes(cross.status), `tenant B cursor: ${cross.status}`);
  if (cross.status === 200) assert.ok(!cross.json.items.some((t) => t.id === S.bTok.id), 'no tenant B row');
});

function normalise(res, id) {
  const body = { ...(res.json ?? {}) };
  delete body.request_id;
  delete body.instance;
  let text = JSON.stringify(body);
  if (id) text = text.split(id).join('<id>');
  const headers = {};
  res.headers.forEach((v, k) => { if (!['date', 'x-request-id', 'content-length'].includes(k)) headers[k] = v; });
  return JSON.stringify({ status: res.status, text, headers });
}

test('ids of another tenant answer exactly like missing ids (404, same body apart from request ids)', async () => {
  const before = await snapshot();
  const beforeB = await snapshot(S.b);
  const missing = 'zzzzzzzzzzzzzzzzzzzzzz';
  const pairs = [
    ['GET', '/api/v1/tokens/', S.bTok.id],
    ['DELETE', '/api/v1/tokens/', S.bTok.id],
    ['POST', '/api/v1/tokens/{}/reveal', S.bTok.id],
    ['GET', '/api/v1/users/', S.bUser.id],
    ['PATCH', '/api/v1/users/', S.bUser.id, { display_name: 'pwned' }],
    ['DELETE', '/api/v1/users/', S.bUser.id],
    ['GET', '/api/v1/departments/', S.bDept.id],
    ['PATCH', '/api/v1/departments/', S.bDept.id, { name: 'pwned' }],
    ['DELETE', '/api/v1/departments/', S.bDept.id],
    ['GET', '/api/v1/user-types/', S.bIds.memberTypeId],
    ['DELETE', '/api/v1/user-types/', S.bIds.memberTypeId],
  ];
  for (const [m, p, id, body] of pairs) {
    const path = (x) => (p.includes('{}') ? p.replace('{}', x) : p + x);
    for (const client of [ctx.admin, bearerClient(ctx.server, S.adminTok.token)]) {
      sum.tally('tenant isolation');
      const foreign = await client.request(m, path(id), body ? { body } : {});
      const absent = await client.request(m, path(missing), body ? { body } : {});
      assertProblem(foreign, 404, `${m} ${p} foreign`);
      assert.equal(normalise(foreign, id), normalise(absent, missing), `${m} ${p}: foreign and missing ids answer alike`);
    }
  }
  sum.tally('tenant isolation');
  const multi = await ctx.admin.post('/api/v1/tokens/delete', { ids: [S.bTok.id] });
  assert.equal(multi.status, 200, multi.text);
  assert.deepEqual(multi.json, { deleted: [], not_found: [S.bTok.id] });
  sum.tally('tenant isolation');
  const bVerify = await bearerClient(ctx.server, S.bTok.token).get('/auth/verify');
  assert.equal(bVerify.status, 204, 'tenant B token untouched');
  // Creating in A with B's user, department or user type: refused like unknown ids.
  for (const over of [{ user_id: S.bUser.id }, { department_id: S.bDept.id }, { user_type_id: S.bIds.memberTypeId }]) {
    sum.tally('tenant isolation');
    const res = await ctx.admin.post('/api/v1/tokens', createBody(over));
    assert.ok([404, 422].includes(res.status), `${Object.keys(over)[0]} of B: ${res.status} ${res.text}`);
  }
  await unchanged(before, 'foreign ids');
  await unchanged(beforeB, 'foreign ids (tenant B)', S.b);
});

test('client-supplied tenant ids in headers, query or body are ignored or refused, never obeyed', async () => {
  const before = await snapshot();
  const beforeB = await snapshot(S.b);
  const bId = S.bIds.tenantId;
  const hdrs = { 'X-Tenant-Id': bId, 'X-Tenant': bId, Tenant: bId, 'X-Auth-Tenant-Id': bId, 'X-Forwarded-Tenant': bId };
  sum.tally('tenant isolation');
  const me = await ctx.admin.get('/api/v1/me', { headers: hdrs });
  assert.equal(me.status, 200);
  assert.equal(me.json.tenant_id, ctx.ids.tenantId, 'the session decides the tenant');
  sum.tally('tenant isolation');
  const list = await ctx.admin.get('/api/v1/tokens?kind=api&limit=200', { headers: hdrs });
  assert.equal(list.status, 200);
  assert.ok(!list.json.items.some((t) => t.tenant_id === bId || t.id === S.bTok.id), 'no tenant B rows');
  sum.tally('tenant isolation');
  const get = await ctx.admin.get(`/api/v1/tokens/${S.bTok.id}`, { headers: hdrs });
  assertProblem(get, 404, 'header tenant');
  sum.tally('tenant isolation');
  const verify = await bearerClient(ctx.server, S.tok.token).get('/auth/verify', { headers: hdrs });
  assert.equal(verify.status, 204);
  assert.equal(verify.headers.get('x-auth-tenant-id'), ctx.ids.tenantId, 'X-Auth-Tenant-Id is the token\'s');
  sum.tally('tenant isolation');
  const q = await ctx.admin.get(`/api/v1/tokens?kind=api&tenant_id=${bId}`);
  assertProblem(q, 400, 'tenant_id in the query');
  sum.tally('tenant isolation');
  const body = await ctx.admin.post('/api/v1/tokens', createBody({ tenant_id: bId }));
  assertProblem(body, 400, 'tenant_id in the body');
  assert.ok(fieldsOf(body).includes('tenant_id'));
  sum.tally('tenant isolation');
  const dep = await ctx.admin.post('/api/v1/departments', { name: 'x', parent_id: S.bIds.rootId, tenant_id: bId });
  assertProblem(dep, 400, 'tenant_id in a department body');
  await unchanged(before, 'tenant ids');
  await unchanged(beforeB, 'tenant ids (B)', S.b);
});

test('mass assignment on PATCH (tenant_id, created_by, user_type_id, id, password_hash, ...) is refused; state unchanged', async () => {
  const before = await snapshot();
  const userBefore = (await ctx.admin.get(`/api/v1/users/${S.user.id}`)).text;
  const cases = [
    ['users', S.user.id, { tenant_id: S.bIds.tenantId }, 'tenant_id'],
    ['users', S.user.id, { created_by: ctx.ids.adminUserId }, 'created_by'],
    ['users', S.user.id, { user_type_id: ctx.ids.administratorTypeId }, 'user_type_id'],
    ['users', S.user.id, { department_id: ctx.ids.rootId }, 'department_id'],
    ['users', S.user.id, { id: 'chosen' }, 'id'],
    ['users', S.user.id, { password_hash: 'x' }, 'password_hash'],
    ['users', S.user.id, { permissions: ['users:write'] }, 'permissions'],
    ['users', S.user.id, { display_name: 'ok', tenant_id: S.bIds.tenantId }, 'tenant_id'],
    ['departments', S.dept.id, { tenant_id: S.bIds.tenantId }, 'tenant_id'],
    ['departments', S.dept.id, { id: 'x' }, 'id'],
    ['user-types', S.type.id, { tenant_id: S.bIds.tenantId }, 'tenant_id'],
    ['user-types', S.type.id, { created_by: ctx.ids.adminUserId }, 'created_by'],
  ];
  for (const [kind, id, body, field] of cases) {
    sum.tally('mass assignment');
    const res = await ctx.admin.patch(`/api/v1/${kind}/${id}`, body);
    assertProblem(res, 400, `PATCH ${kind} ${field}`);
    assert.ok(fieldsOf(res).includes(field), `names ${field}: ${res.text}`);
  }
  // Tokens are immutable: no PATCH route at all.
  sum.tally('mass assignment');
  const tokPatch = await ctx.admin.patch(`/api/v1/tokens/${S.tok.id}`, { expires_at: dateFromToday(300), user_type_id: ctx.ids.administratorTypeId });
  assertProblem(tokPatch, 405, 'PATCH a token');
  assert.equal((await ctx.admin.get(`/api/v1/users/${S.user.id}`)).text, userBefore, 'the user is unchanged');
  await unchanged(before, 'mass assignment');
});

test('method override headers are ignored; unknown methods are 405', async () => {
  const before = await snapshot();
  const overrides = { 'X-HTTP-Method-Override': 'DELETE', 'X-HTTP-Method': 'DELETE', 'X-Method-Override': 'DELETE' };
  sum.tally('methods');
  const get = await ctx.admin.get(`/api/v1/tokens/${S.tok.id}`, { headers: overrides });
  assert.equal(get.status, 200, 'GET stays a GET');
  sum.tally('methods');
  const post = await ctx.admin.request('POST', `/api/v1/tokens/${S.tok.id}`, { headers: overrides, body: {} });
  assertProblem(post, 405, 'POST with an override header');
  sum.tally('methods');
  const q = await ctx.admin.request('POST', `/api/v1/tokens/${S.tok.id}?_method=DELETE`, { body: {} });
  assert.ok([400, 405].includes(q.status), `_method=DELETE: ${q.status}`);
  assert.equal((await bearerClient(ctx.server, S.tok.token).get('/auth/verify')).status, 204, 'the token still works');
  for (const m of ['PROPFIND', 'TRACE', 'FOO', 'PURGE', 'MOVE', 'CONNECT', 'OPTIONS', 'PUT']) {
    sum.tally('methods');
    const res = await rawRequest(ctx.server, raw(`${m} /api/v1/tokens/${S.tok.id} HTTP/1.1`,
      `Cookie: ${ctx.admin.cookie}\r\nX-CSRF-Token: ${ctx.admin.csrf}\r\nContent-Length: 0\r\n`));
    if (m === 'CONNECT' && res.status === 400) continue; // CONNECT needs authority-form: malformed here
    assert.equal(res.status, 405, `${m}: ${res.raw.slice(0, 200)}`);
    assert.ok(!res.raw.includes(ctx.admin.cookie.split('=')[1]), `${m} does not echo the request (TRACE)`);
  }
  await unchanged(before, 'methods');
});

test('HTML and script in names are stored and returned verbatim as JSON text, never as HTML', async () => {
  const evil = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>&amp;\u2028';
  sum.tally('xss');
  const tok = await createApiToken(ctx.admin, {
    name: evil, description: `${evil} ${'{{constructor.constructor("x")()}}'}`,
    user_id: S.user.id, department_id: S.dept.id, user_type_id: S.type.id,
  });
  assert.equal(tok.name, evil);
  sum.tally('xss');
  const got = await ctx.admin.get(`/api/v1/tokens/${tok.id}`);
  assert.equal(got.status, 200);
  assert.match(got.headers.get('content-type'), /^application\/json/);
  assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(got.json.name, evil, 'returned verbatim');
  assert.ok(got.json.description.startsWith(evil));
  sum.tally('xss');
  const list = await ctx.admin.get(`/api/v1/tokens?kind=api&q=${encodeURIComponent('<script>')}`);
  assert.deepEqual(list.json.items.map((t) => t.id), [tok.id]);
  sum.tally('xss');
  const dep = await ctx.admin.post('/api/v1/departments', { name: evil, parent_id: ctx.ids.rootId });
  assert.equal(dep.status, 201, dep.text);
  assert.equal(dep.json.name, evil);
  // An error about a hostile value does not reflect it as HTML either.
  sum.tally('xss');
  const err = await ctx.admin.get(`/api/v1/tokens/${encodeURIComponent('<script>alert(1)</script>')}`);
  assertProblem(err, 404, 'hostile id');
  assert.ok(!/<script>/.test(err.text) || /application\/problem\+json/.test(err.headers.get('content-type')));
  const del = await ctx.admin.post('/api/v1/tokens/delete', { ids: [tok.id] });
  assert.equal(del.status, 200);
  await ctx.admin.delete(`/api/v1/departments/${dep.json.id}`);
});

test('write the figures', () => {
  sum.write();
});

finalChecks(ctx);

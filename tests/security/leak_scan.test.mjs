// Leak scan: issue API and mobile tokens, reveal, use, misuse and revoke them, and walk the
// error paths (tokens in the query string, in the path, in headers they do not belong in, in
// JSON bodies, mangled), then grep for every secret string:
//   - the server's stdout + stderr,
//   - every error response body,
//   - the SQLite database file and its -wal / -shm (while running and after shutdown).
// The count must be 0. Secrets: token strings, session ids, passwords (CSRF tokens are
// scanned and reported, not counted: they are stored with the session by design).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTokend, login, request, rawRequest, bearerClient, dateFromToday, observed } from '../lib/tokend.mjs';
import { bootstrapIds, createApiToken, createUser, mobileLogin } from '../lib/fixtures.mjs';
import { summary } from './summary.mjs';

const sum = summary('leak_scan');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tokend-sec-leak-'));
const adminPassword = `Adm1n-${randomBytes(12).toString('hex')}`;
let server = null;
after(() => {
  if (server?.alive()) server.proc.kill('SIGKILL');
  if (process.env.TOKEND_TEST_KEEP !== '1') rmSync(dataDir, { recursive: true, force: true });
});

const tokens = new Set();
const otherSecrets = new Map(); // secret -> kind
const errorBodies = [];

function keep(res) {
  if (res.status >= 400) errorBodies.push(res.text ?? res.body ?? '');
  return res;
}

function dbFiles() {
  return readdirSync(dataDir).filter((f) => /^tokend\.db(-wal|-shm|-journal)?$/.test(f)).map((f) => path.join(dataDir, f));
}

function scan(label) {
  const haystacks = [
    ['output', Buffer.from(server.output(), 'utf8')],
    ['error bodies', Buffer.from(errorBodies.join('\n'), 'utf8')],
    ...dbFiles().map((f) => [path.basename(f), existsSync(f) ? readFileSync(f) : Buffer.alloc(0)]),
  ];
  const hits = [];
  for (const [where, buf] of haystacks) {
    for (const t of tokens) if (buf.includes(t)) hits.push(`token ${t.slice(0, 8)}… in ${where} (${label})`);
    for (const [s, kind] of otherSecrets) if (buf.includes(s)) hits.push(`${kind} ${s.slice(0, 6)}… in ${where} (${label})`);
  }
  return { hits, bytes: haystacks.reduce((n, [, b]) => n + b.length, 0), places: haystacks.map(([w]) => w) };
}

test('no token, session id, CSRF token or password in logs, error bodies or the database files', { timeout: 120_000 }, async () => {
  server = await startTokend({ dataDir, adminPassword, dbUrl: null, env: { TOKEND_LOG_LEVEL: 'debug' } });
  otherSecrets.set(adminPassword, 'password');
  const admin = await login(server, { password: adminPassword });
  otherSecrets.set(admin.cookie.split('=').slice(1).join('='), 'session id');
  otherSecrets.set(admin.csrf, 'csrf token');
  const ids = await bootstrapIds(admin);
  const user = await createUser(admin, { memberships: [{ department_id: ids.rootId, user_type_id: ids.memberTypeId }] });
  otherSecrets.set(user.password, 'password');

  const issued = [];
  for (let i = 0; i < 6; i++) {
    const t = await createApiToken(admin, { user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId });
    issued.push(t);
    tokens.add(t.token);
  }
  for (let i = 0; i < 3; i++) {
    const m = await mobileLogin(server, { username: user.username, password: user.password, device_name: `phone ${i}` });
    issued.push(m);
    tokens.add(m.token);
  }
  // A tenant with reveal off ("show once") would keep no sealed copy; here reveal is on.
  const [a, b, c] = issued;
  const rev = await admin.post(`/api/v1/tokens/${a.id}/reveal`, {});
  assert.equal(rev.status, 200);
  sum.tally('leak paths');

  // Use them: verify, introspect, me; mobile tokens too (activity is written behind).
  for (const t of issued) {
    sum.tally('leak paths');
    assert.equal((await request(server.url, 'GET', '/auth/verify', { headers: { Authorization: `Bearer ${t.token}` } })).status, 204);
  }
  sum.tally('leak paths');
  keep(await request(server.url, 'POST', '/oauth2/introspect', {
    headers: { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/x-www-form-urlencoded' }, rawBody: `token=${b.token}`,
  }));

  // Error paths, each carrying a real token where it does not belong.
  const t = c.token;
  const mangled = `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`;
  const almost = t.slice(0, -2);
  tokens.add(mangled); tokens.add(almost);
  const errorCalls = [
    ['GET', `/api/v1/me?access_token=${t}`, {}],
    ['GET', `/api/v1/tokens/${t}`, { headers: { Authorization: `Bearer ${a.token}` } }],
    ['GET', `/api/v1/tokens?kind=api&q=${t}&cursor=${t}`, { headers: { Authorization: `Bearer ${a.token}` } }],
    ['GET', `/api/v1/tokens?kind=${t}`, { headers: { Authorization: `Bearer ${a.token}` } }],
    ['GET', `/no/such/route/${t}`, {}],
    ['GET', '/api/v1/me', { headers: { Authorization: `Bearer ${mangled}` } }],
    ['GET', '/api/v1/me', { headers: { Authorization: `Bearer ${almost}` } }],
    ['GET', '/api/v1/me', { headers: { Authorization: `Basic ${Buffer.from(`admin:${t}`).toString('base64')}` } }],
    ['GET', '/api/v1/me', { headers: { Authorization: `Bearer ${t} ${t}` } }],
    ['GET', '/api/v1/me', { headers: { Cookie: `tokend_session=${t}` } }],
    ['POST', '/api/v1/tokens', { headers: { Authorization: `Bearer ${a.token}` }, body: { name: t, token: t, expires_at: t } }],
    ['POST', '/api/v1/tokens', { headers: { Authorization: `Bearer ${a.token}` }, body: { name: 'n', expires_at: dateFromToday(9999), user_id: t, department_id: t, user_type_id: t } }],
    ['POST', '/api/v1/tokens/delete', { headers: { Authorization: `Bearer ${a.token}` }, body: { ids: [t] } }],
    ['POST', '/api/v1/auth/login', { body: { tenant: 'default', username: 'admin', password: t } }],
    ['POST', '/api/v1/auth/login', { body: { tenant: t, username: t, password: 'x' } }],
    ['POST', '/api/v1/mobile/login', { body: { tenant: 'default', username: user.username, password: t, device_name: t } }],
    ['POST', '/api/v1/users', { headers: { Authorization: `Bearer ${a.token}` }, body: { username: 'x y', password: t, email: 'bad' } }],
    ['PATCH', `/api/v1/users/${user.id}`, { headers: { Authorization: `Bearer ${a.token}` }, body: { password: 'short' } }],
    ['GET', '/auth/verify', { headers: { Authorization: `Bearer ${t}`, 'X-Request-Id': t } }],
  ];
  for (const [m, p, o] of errorCalls) {
    sum.tally('leak paths');
    keep(await request(server.url, m, p, o));
  }
  sum.tally('leak paths');
  keep(await rawRequest(server, `GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t}\x00\r\nConnection: close\r\n\r\n`));
  sum.tally('leak paths');
  keep(await rawRequest(server, `GET /api/v1/me?${t} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${t.repeat(400)}\r\nConnection: close\r\n\r\n`));
  sum.tally('leak paths');
  keep(await rawRequest(server, `POST /api/v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${a.token}\r\nContent-Type: application/json\r\nContent-Length: 60\r\nConnection: close\r\n\r\n{"name":"${t}`));

  // Revoke some (single, multi-select, mobile logout), then use them again.
  assert.equal((await bearerClient(server, a.token).delete(`/api/v1/tokens/${b.id}`)).status, 204);
  assert.equal((await admin.post('/api/v1/tokens/delete', { ids: [issued[3].id, issued[4].id] })).status, 200);
  const mob = issued[6];
  keep(await request(server.url, 'POST', '/api/v1/mobile/logout', { headers: { Authorization: `Bearer ${mob.token}` } }));
  for (const dead of [b, issued[3], issued[4], mob]) {
    sum.tally('leak paths');
    keep(await request(server.url, 'GET', '/api/v1/me', { headers: { Authorization: `Bearer ${dead.token}` } }));
  }
  // Sign-in sessions: a second one and a logout.
  const second = await login(server, { password: adminPassword });
  otherSecrets.set(second.cookie.split('=').slice(1).join('='), 'session id');
  otherSecrets.set(second.csrf, 'csrf token');
  assert.equal((await second.post('/api/v1/auth/logout', {})).status, 204);

  await new Promise((r) => setTimeout(r, 1500)); // let write-behind activity land
  const running = scan('running');
  await server.stop();
  const stopped = scan('after shutdown');
  // The CSRF token is stored with its session (it is no credential without the session id,
  // which is stored hashed): reported, not counted as a leak.
  const all = [...running.hits, ...stopped.hits];
  const hits = all.filter((h) => !h.startsWith('csrf token'));
  sum.set('csrf_tokens_in_db', all.length - hits.length);
  sum.set('secrets_scanned', tokens.size + otherSecrets.size);
  sum.set('token_strings_scanned', tokens.size);
  sum.set('bytes_scanned', running.bytes + stopped.bytes);
  sum.set('places_scanned', [...new Set([...running.places, ...stopped.places])].join(', '));
  sum.set('leaks_found', hits.length);
  sum.note(hits.length ? `leaks: ${hits.join('; ')}` : 'no secret found in logs, error bodies or database files');
  assert.deepEqual(observed.serverErrors, [], 'no 500s');
  sum.write();
  assert.deepEqual(hits, [], 'no secret anywhere');
});

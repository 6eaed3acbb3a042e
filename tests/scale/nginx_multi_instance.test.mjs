// Scale-out behind a load balancer (DESIGN.md §1 rules 4-5, §6): three `tokend serve` processes
// on one PostgreSQL database, sharing one server key file, behind nginx (tests/scale/nginx.mjs,
// the configuration docs/deployment.md documents).
//
// 1. Under continuous verification load through nginx (and directly on every instance), tokens
//    are revoked through instance A only — DELETE /api/v1/tokens/{id} and the multi-select
//    POST /api/v1/tokens/delete — and a permission is removed from a user type (PATCH). From
//    the acknowledgement plus PROPAGATION_BOUND_MS on, no request through nginx or to any
//    instance may accept them. The bound is far above what LISTEN/NOTIFY needs (milliseconds)
//    and far below the cache TTL (5 s), so a broken notifier fails this test.
// 2. One instance is SIGKILLed mid-load. nginx retries idempotent GETs on another instance, so
//    only requests in flight at the kill may fail (at most LOAD_CONCURRENCY of them, all
//    started before the process was gone), and no decision is ever wrong: a revoked token never
//    gets 204, a valid one never 401/403.
//
// Needs PostgreSQL (CTest fixture `postgres`, TOKEND_PG_FIXTURE_DIR) and nginx; skipped without.
// TOKEND_SCALE_BOUND_MS overrides the bound (set it to 0 to watch the propagation check fail).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { login, loginAdmin, observed, rememberSecret, startTokend } from '../lib/tokend.mjs';
import { bootstrapIds, createApiToken, createDepartment, createUser, createUserType } from '../lib/fixtures.mjs';
import { nginxBin, startNginx } from './nginx.mjs';

const pg = Boolean(process.env.TOKEND_PG_FIXTURE_DIR || process.env.TOKEND_TEST_DB?.startsWith('postgres'));
const skip = (!pg && 'needs PostgreSQL (TOKEND_PG_FIXTURE_DIR)') || (!nginxBin() && 'needs nginx');

// After a change is acknowledged, every instance applies it within this bound.
const PROPAGATION_BOUND_MS = Number(process.env.TOKEND_SCALE_BOUND_MS ?? 1000);
// Concurrent request loops through nginx, plus one loop per instance directly.
const LOAD_CONCURRENCY = 16;
// Every loop stops after this many requests or this long, whichever comes first.
const MAX_REQUESTS_PER_LOOP = 20_000;
const MAX_PHASE_MS = 20_000;
const REQUEST_TIMEOUT_MS = 5_000;

const S = { instances: [] };
after(async () => {
  if (S.lb) await S.lb.stop().catch(() => {});
  for (const inst of S.instances) await inst.stop().catch(() => {});
  if (S.killed) rmSync(S.killed.dataDir, { recursive: true, force: true });
});

// -------------------------------------------------------------------------------------------
// A lean keep-alive GET client (node:http: far cheaper per request than fetch on 2 cores).
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const t0 = performance.now();
const now = () => performance.now() - t0;

function get(baseUrl, pathname, token) {
  const u = new URL(pathname, baseUrl);
  return new Promise((resolve) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET', agent,
      headers: { Authorization: `Bearer ${token}` }, timeout: REQUEST_TIMEOUT_MS,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, upstream: res.headers['x-upstream'] ?? null }));
      res.on('error', (e) => resolve({ status: 0, error: e.code ?? String(e) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.code ?? e.message }));
    req.end();
  });
}

/**
 * Runs `loops` ({ base, name }) concurrently over `tokens` until stop() or the bounds. Each
 * answer is recorded as { tok, target, start, end, status, upstream, error }.
 */
function startLoad(loops, tokens) {
  const records = [];
  let stopping = false;
  const startedAt = now();
  const runLoop = async (loop, index) => {
    for (let i = 0; i < MAX_REQUESTS_PER_LOOP && !stopping && now() - startedAt < MAX_PHASE_MS; i++) {
      const tok = tokens[(i * loops.length + index) % tokens.length];
      const start = now();
      const r = await get(loop.base, tok.path, tok.secret);
      records.push({ tok, target: loop.name, start, end: now(), ...r });
    }
  };
  const done = Promise.all(loops.map(runLoop));
  return {
    records,
    async stop() { stopping = true; await done; return records; },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The decision rule. tok.kind: 'keep' (always valid: 204), 'revoke' (204 until revoked, 401
 * from ack + bound on), 'perm' (?permission=users:read: 204 until the permission is removed,
 * 403 from ack + bound on; never 401). tok.changeSentAt / tok.ackAt: when the change was sent
 * and acknowledged (Infinity before). Returns a reason when the answer is a wrong decision,
 * null when it is right or allowed (in the propagation window, or a failure: see isFailure).
 */
function wrongDecision(r) {
  const { tok, status } = r;
  if (isFailure(r)) return null;
  const refusal = tok.kind === 'revoke' ? 401 : 403;
  if (tok.kind === 'keep') return status === 204 ? null : `valid token got ${status}`;
  if (tok.kind === 'perm' && status === 401) return 'a token that only lost a permission got 401';
  if (r.end < tok.changeSentAt) return status === 204 ? null : `got ${status} before the change was sent`;
  if (r.start >= tok.ackAt + PROPAGATION_BOUND_MS) {
    return status === refusal ? null
      : `got ${status} ${Math.round(r.start - tok.ackAt)} ms after the change was acknowledged`;
  }
  return status === 204 || status === refusal ? null : `unexpected ${status}`;
}
/** Not a decision: the request did not reach a live tokend (nginx 502/504, reset, timeout) or the store was down (503). */
function isFailure(r) {
  return ![204, 401, 403].includes(r.status);
}
function describe(r) {
  return `${r.tok.kind} token ${r.tok.id} via ${r.target}${r.upstream ? ` (${r.upstream})` : ''} ` +
    `sent at ${Math.round(r.start)} ms: ${r.status}${r.error ? ` ${r.error}` : ''}`;
}

// -------------------------------------------------------------------------------------------

test('three instances on one database and key behind nginx', { skip }, async () => {
  const quiet = ['--log-level', 'warn'];
  const a = await startTokend({ args: quiet });
  S.instances.push(a);
  rememberSecret(a.adminPassword);
  const keyArgs = ['--key-file', path.join(a.dataDir, 'server.key'), ...quiet];
  const [b, c] = await Promise.all([
    startTokend({ dbUrl: a.dbUrl, args: keyArgs }),
    startTokend({ dbUrl: a.dbUrl, args: keyArgs }),
  ]);
  S.instances.push(b, c);
  S.byName = { A: a, B: b, C: c };
  S.lb = await startNginx(S.instances.map((i) => ({ host: i.host, port: i.port })));

  const admin = await loginAdmin(a);
  S.admin = admin;
  const ids = await bootstrapIds(admin);
  const dept = await createDepartment(admin, 'Scale', ids.rootId);
  const keepType = await createUserType(admin, 'Scale keep', ['tokens:read']);
  S.permType = await createUserType(admin, 'Scale perm', ['tokens:read', 'users:read']);
  const keeper = await createUser(admin, { memberships: [{ department_id: dept.id, user_type_id: keepType.id }] });
  const holder = await createUser(admin, { memberships: [{ department_id: dept.id, user_type_id: S.permType.id }] });
  const make = async (kind, user, typeId, pathname) => {
    const t = await createApiToken(admin, { user_id: user.id, department_id: dept.id, user_type_id: typeId });
    return { kind, id: t.id, secret: t.token, path: pathname, changeSentAt: Infinity, ackAt: Infinity };
  };
  S.tokens = [];
  for (let i = 0; i < 8; i++) S.tokens.push(await make('keep', keeper, keepType.id, '/auth/verify?permission=tokens:read'));
  for (let i = 0; i < 15; i++) S.tokens.push(await make('revoke', keeper, keepType.id, '/auth/verify'));
  for (let i = 0; i < 5; i++) S.tokens.push(await make('perm', holder, S.permType.id, '/auth/verify?permission=users:read'));

  // Every token verifies through nginx and on every instance (and is now cached everywhere).
  for (const tok of S.tokens) {
    for (const [name, base] of [['nginx', S.lb.url], ['A', a.url], ['B', b.url], ['C', c.url]]) {
      const r = await get(base, tok.path, tok.secret);
      assert.equal(r.status, 204, `${tok.kind} token verifies via ${name}: ${JSON.stringify(r)}`);
    }
  }
});

test('revocations and a permission removal on one instance apply everywhere within the bound, under load', { skip }, async () => {
  assert.ok(S.tokens, 'set up');
  const { A, B, C } = S.byName;
  const loops = [
    ...Array.from({ length: LOAD_CONCURRENCY }, () => ({ base: S.lb.url, name: 'nginx' })),
    { base: A.url, name: 'A' }, { base: B.url, name: 'B' }, { base: C.url, name: 'C' },
  ];
  const load = startLoad(loops, S.tokens);
  await sleep(1000);

  const revoke = S.tokens.filter((t) => t.kind === 'revoke');
  // One by one: DELETE /api/v1/tokens/{id} on A.
  for (const tok of revoke.slice(0, 5)) {
    tok.changeSentAt = now();
    const res = await S.admin.delete(`/api/v1/tokens/${tok.id}`);
    tok.ackAt = now();
    assert.equal(res.status, 204, `DELETE token on A: ${res.status} ${res.text}`);
    await sleep(150);
  }
  // The console's multi-select delete on A.
  const bulk = revoke.slice(5);
  const bulkSent = now();
  for (const tok of bulk) tok.changeSentAt = bulkSent;
  const res = await S.admin.post('/api/v1/tokens/delete', { ids: bulk.map((t) => t.id) });
  const bulkAck = now();
  assert.equal(res.status, 200, `POST /api/v1/tokens/delete on A: ${res.status} ${res.text}`);
  assert.deepEqual([...res.json.deleted].sort(), bulk.map((t) => t.id).sort(), 'all deleted');
  for (const tok of bulk) tok.ackAt = bulkAck;
  await sleep(150);
  // A permission removal on A: the user type loses users:read.
  const perm = S.tokens.filter((t) => t.kind === 'perm');
  const permSent = now();
  for (const tok of perm) tok.changeSentAt = permSent;
  const patched = await S.admin.patch(`/api/v1/user-types/${S.permType.id}`, { permissions: ['tokens:read'] });
  const permAck = now();
  assert.equal(patched.status, 200, `PATCH user type on A: ${patched.status} ${patched.text}`);
  for (const tok of perm) tok.ackAt = permAck;

  // Keep loading for the bound plus a margin after the last acknowledgement.
  await sleep(PROPAGATION_BOUND_MS + 1500);
  const records = await load.stop();

  // The load must have exercised what the assertions claim: every instance answered through
  // nginx, and the revoked tokens were accepted everywhere before (so they were cached).
  const via = { nginx: 0, A: 0, B: 0, C: 0 };
  for (const r of records) via[r.target]++;
  for (const inst of Object.keys(S.byName)) {
    const port = String(S.byName[inst].port);
    assert.ok(records.some((r) => r.target === 'nginx' && r.upstream?.endsWith(`:${port}`)),
      `nginx sent requests to instance ${inst}`);
    for (const kind of ['revoke', 'perm']) {
      assert.ok(records.some((r) => r.target === inst && r.tok.kind === kind && r.status === 204 && r.end < r.tok.changeSentAt),
        `instance ${inst} accepted ${kind} tokens before the change (cache warm)`);
    }
  }
  const afterBound = records.filter((r) => r.tok.kind !== 'keep' && r.start >= r.tok.ackAt + PROPAGATION_BOUND_MS);
  assert.ok(afterBound.length >= 100, `enough requests after the bound to mean something: ${afterBound.length}`);
  const wrong = records.map((r) => [r, wrongDecision(r)]).filter(([, why]) => why);
  assert.deepEqual(wrong.slice(0, 10).map(([r, why]) => `${describe(r)}: ${why}`), [],
    `${wrong.length} wrong decisions of ${records.length} requests (${JSON.stringify(via)})`);
  const failures = records.filter(isFailure);
  assert.deepEqual(failures.slice(0, 10).map(describe), [], 'no failed requests while every instance is up');
  console.log(`# propagation phase: ${records.length} requests ${JSON.stringify(via)}, ` +
    `${afterBound.length} on changed tokens after the ${PROPAGATION_BOUND_MS} ms bound, 0 wrong`);

  // Deleting again (a client retrying after a lost answer) finds nothing, on another instance too.
  const again = await login(B, { password: A.adminPassword });
  assert.equal((await again.delete(`/api/v1/tokens/${revoke[0].id}`)).status, 404, 'a second DELETE answers 404');
  const againBulk = await again.post('/api/v1/tokens/delete', { ids: [bulk[0].id] });
  assert.equal(againBulk.status, 200, againBulk.text);
  assert.deepEqual(againBulk.json, { deleted: [], not_found: [bulk[0].id] }, 'a second multi-select delete reports not_found');

  // And a final sweep, directly on every instance and through nginx.
  for (const tok of S.tokens) {
    const expected = { keep: 204, revoke: 401, perm: 403 }[tok.kind];
    for (const [name, base] of [['nginx', S.lb.url], ['A', A.url], ['B', B.url], ['C', C.url]]) {
      for (let i = 0; i < 2; i++) {
        const r = await get(base, tok.path, tok.secret);
        assert.equal(r.status, expected, `${tok.kind} token ${tok.id} via ${name}`);
      }
    }
  }
});

test('an instance killed mid-load: only requests in flight fail, no decision is wrong', { skip }, async () => {
  assert.ok(S.tokens, 'set up');
  const { C } = S.byName;
  const loops = Array.from({ length: LOAD_CONCURRENCY }, () => ({ base: S.lb.url, name: 'nginx' }));
  const load = startLoad(loops, S.tokens);
  await sleep(1500);
  const killSentAt = now();
  C.proc.kill('SIGKILL');
  await C.exited;
  const killedAt = now();
  S.instances = S.instances.filter((i) => i !== C);
  S.killed = C;
  await sleep(2500);
  const records = await load.stop();

  const wrong = records.map((r) => [r, wrongDecision(r)]).filter(([, why]) => why);
  assert.deepEqual(wrong.slice(0, 10).map(([r, why]) => `${describe(r)}: ${why}`), [],
    `${wrong.length} wrong decisions of ${records.length} requests`);
  assert.ok(!records.some((r) => r.status === 500), 'no 500');
  const failures = records.filter(isFailure);
  // Only requests in flight when C died may fail: at most one per loop, and each one started
  // before the process was gone.
  assert.ok(failures.length <= LOAD_CONCURRENCY,
    `at most ${LOAD_CONCURRENCY} failures (requests in flight), got ${failures.length}: ${failures.slice(0, 5).map(describe)}`);
  const late = failures.filter((r) => r.start >= killedAt);
  assert.deepEqual(late.map(describe), [], 'no request started after the kill fails');
  const cPort = `:${C.port}`;
  const afterKill = records.filter((r) => r.start >= killedAt + 200);
  assert.ok(afterKill.length >= 100, `the survivors kept serving: ${afterKill.length} requests after the kill`);
  assert.ok(afterKill.every((r) => !(r.upstream ?? '').split(', ').at(-1).endsWith(cPort)),
    'nothing is answered by the dead instance');
  console.log(`# kill phase: ${records.length} requests, SIGKILL at ${Math.round(killSentAt)} ms ` +
    `(gone ${Math.round(killedAt - killSentAt)} ms later), ${failures.length} failed, 0 wrong; ` +
    `retried by nginx: ${records.filter((r) => (r.upstream ?? '').includes(',')).length}`);
});

test('the survivors and nginx are alive, never answered 500, and exit 0 on SIGTERM', { skip }, async () => {
  assert.ok(S.lb.alive(), `nginx alive; error log:\n${S.lb.errorLog().slice(-2000)}`);
  assert.deepEqual(observed.serverErrors, [], 'no 5xx answers other than 503 to the API calls');
  for (const inst of S.instances) {
    assert.ok(inst.alive(), `instance alive; output:\n${inst.output().slice(-2000)}`);
    const leaked = [...observed.secrets].filter((s) => inst.output().includes(s));
    assert.deepEqual(leaked.map((s) => `${s.slice(0, 6)}…`), [], 'no secret in the output');
  }
  await S.lb.stop();
  for (const inst of S.instances) await inst.stop();
});

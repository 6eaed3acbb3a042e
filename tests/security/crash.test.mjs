// Crash durability: creates, deletes and multi-select deletes under load, SIGKILL at random
// moments (KILL_RUNS times), restart on the same data dir, then check:
//   - every acknowledged create exists and verifies (GET /auth/verify → 204),
//   - every acknowledged delete stays deleted (401),
//   - no half-written state: every live token has its token.create audit event, every
//     token.create event of an acknowledged create names a token that is live or was deleted
//     (with its token.delete event), and no list shows a token that does not verify.
// Operations in flight at the kill have no answer: they may or may not have happened, and are
// resolved after the restart (a pending delete either verifies or is gone — both are allowed).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { startTokend, login, bearerClient, dateFromToday, request, rememberSecret, observed } from '../lib/tokend.mjs';
import { bootstrapIds } from '../lib/fixtures.mjs';
import { summary } from './summary.mjs';

const KILL_RUNS = Number(process.env.TOKEND_CRASH_RUNS ?? 20);
const WORKERS = 4;
const sum = summary('crash');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tokend-crash-'));
const adminPassword = `Adm1n-${randomBytes(12).toString('hex')}`;
let server = null;
const outputs = [];

after(async () => {
  if (server && server.alive()) { server.proc.kill('SIGKILL'); await server.exited; }
  if (process.env.TOKEND_TEST_KEEP !== '1') rmSync(dataDir, { recursive: true, force: true });
});

async function start() {
  server = await startTokend({ dataDir, adminPassword, dbUrl: null });
  return server;
}

async function kill() {
  server.proc.kill('SIGKILL');
  const e = await server.exited;
  assert.equal(e.signal, 'SIGKILL');
  outputs.push(server.output());
}

// State as the client knows it.
const live = new Map();        // id -> token string: create acknowledged, no delete attempted
const deleted = new Map();     // id -> token string: delete acknowledged
const pendingDelete = new Map(); // id -> token string: delete sent, no answer (killed)
let pendingCreates = 0;        // creates sent without an answer
let acknowledged = { creates: 0, deletes: 0, multiDeletes: 0 };

function pickLive(n) {
  const ids = [...live.keys()];
  const out = [];
  while (out.length < n && ids.length) out.push(ids.splice(randomInt(ids.length), 1)[0]);
  return out;
}

async function worker(client, ids, stopAt, counters) {
  while (Date.now() < stopAt && server.alive()) {
    const r = randomInt(10);
    try {
      if (r < 6 || live.size < 4) {
        pendingCreates += 1;
        const res = await client.post('/api/v1/tokens', {
          name: `crash-${randomBytes(4).toString('hex')}`, expires_at: dateFromToday(30),
          user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId,
        }, { timeoutMs: 5000 });
        pendingCreates -= 1;
        if (res.status === 201) {
          live.set(res.json.id, res.json.token);
          acknowledged.creates += 1;
        } else {
          counters.unexpected.push(`create ${res.status} ${res.text.slice(0, 200)}`);
        }
      } else if (r < 8) {
        const [id] = pickLive(1);
        const tok = live.get(id);
        live.delete(id);
        pendingDelete.set(id, tok);
        const res = await client.delete(`/api/v1/tokens/${id}`, { timeoutMs: 5000 });
        pendingDelete.delete(id);
        if (res.status === 204) { deleted.set(id, tok); acknowledged.deletes += 1; } else counters.unexpected.push(`delete ${res.status}`);
      } else {
        const chosen = pickLive(3);
        const toks = new Map(chosen.map((id) => [id, live.get(id)]));
        for (const id of chosen) { live.delete(id); pendingDelete.set(id, toks.get(id)); }
        const res = await client.post('/api/v1/tokens/delete', { ids: chosen }, { timeoutMs: 5000 });
        if (res.status === 200) {
          for (const id of chosen) pendingDelete.delete(id);
          for (const id of res.json.deleted) { deleted.set(id, toks.get(id)); acknowledged.multiDeletes += 1; }
          if (res.json.not_found.length) counters.unexpected.push(`multi-delete not_found ${res.json.not_found}`);
        } else {
          counters.unexpected.push(`multi-delete ${res.status}`);
        }
      }
    } catch {
      // The connection died with the server: the operation stays pending.
      return;
    }
  }
}

async function verify(token) {
  const res = await request(server.url, 'GET', '/auth/verify', { headers: { Authorization: `Bearer ${token}` } });
  return res.status;
}

async function listAll(client, pathname) {
  const items = [];
  let cursor = null;
  for (;;) {
    const sep = pathname.includes('?') ? '&' : '?';
    const res = await client.get(`${pathname}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(res.status, 200, `${pathname}: ${res.status} ${res.text}`);
    items.push(...res.json.items);
    cursor = res.json.next_cursor;
    if (!cursor) return items;
  }
}

const checkedDeleted = new Set();
async function checkConsistency(client, label, full = false) {
  // Resolve deletes that were in flight at the kill.
  for (const [id, tok] of pendingDelete) {
    const s = await verify(tok);
    assert.ok(s === 204 || s === 401, `${label}: in-flight delete of ${id}: ${s}`);
    if (s === 401) deleted.set(id, tok); else live.set(id, tok);
    pendingDelete.delete(id);
  }
  let lost = 0;
  for (const [id, tok] of live) {
    const s = await verify(tok);
    if (s !== 204) lost += 1;
    assert.equal(s, 204, `${label}: acknowledged create ${id} verifies`);
  }
  let resurrected = 0;
  // Every new delete, plus a sample of older ones (all of them on the final check).
  const older = [...deleted.keys()].filter((id) => checkedDeleted.has(id));
  const sample = new Set(full ? older : older.sort(() => Math.random() - 0.5).slice(0, 30));
  for (const [id, tok] of deleted) {
    if (checkedDeleted.has(id) && !sample.has(id)) continue;
    checkedDeleted.add(id);
    const s = await verify(tok);
    if (s !== 401) resurrected += 1;
    assert.equal(s, 401, `${label}: acknowledged delete ${id} stays deleted`);
  }
  const listed = await listAll(client, '/api/v1/tokens?kind=api');
  const listedIds = new Set(listed.map((t) => t.id));
  for (const id of live.keys()) assert.ok(listedIds.has(id), `${label}: acknowledged ${id} is listed`);
  for (const id of deleted.keys()) assert.ok(!listedIds.has(id), `${label}: deleted ${id} is not listed`);
  const events = await listAll(client, '/api/v1/audit-events?action=token.create');
  const created = new Set(events.filter((e) => e.action === 'token.create').map((e) => e.target?.id));
  const delEvents = await listAll(client, '/api/v1/audit-events?action=token.delete');
  const deletedEv = new Set(delEvents.map((e) => e.target?.id));
  for (const id of listedIds) assert.ok(created.has(id), `${label}: live token ${id} has its token.create event`);
  for (const id of [...live.keys(), ...deleted.keys()]) {
    assert.ok(created.has(id), `${label}: acknowledged create ${id} has its event`);
  }
  for (const id of created) {
    if (live.has(id) || deleted.has(id)) {
      assert.ok(listedIds.has(id) || deletedEv.has(id), `${label}: token.create of ${id} names a live or deleted token`);
    } else {
      // An unacknowledged create: if it committed, the token is listed (or was deleted via a list).
      assert.ok(listedIds.has(id) || deletedEv.has(id), `${label}: token.create of ${id} (in flight) names a token that exists`);
    }
  }
  for (const id of deleted.keys()) assert.ok(deletedEv.has(id), `${label}: acknowledged delete ${id} has its token.delete event`);
  return { lost, resurrected, listed: listed.length };
}

test(`${KILL_RUNS} kill -9 runs under create/delete load lose no acknowledged operation`, { timeout: 240_000 }, async () => {
  const t0 = Date.now();
  await start();
  const admin = await login(server, { password: adminPassword });
  const ids = await bootstrapIds(admin);
  // A bearer token for the workers: survives restarts, no CSRF.
  const boot = await admin.post('/api/v1/tokens', {
    name: 'crash-driver', expires_at: dateFromToday(30), user_id: ids.adminUserId,
    department_id: ids.rootId, user_type_id: ids.administratorTypeId,
  });
  assert.equal(boot.status, 201, boot.text);
  rememberSecret(boot.json.token);
  const driverToken = boot.json.token;
  const counters = { unexpected: [] };
  let totalLost = 0;
  let totalResurrected = 0;
  for (let run = 0; run < KILL_RUNS; run++) {
    const client = bearerClient(server, driverToken);
    const loadMs = 300 + randomInt(900);
    const stopAt = Date.now() + 5000;
    const workers = Array.from({ length: WORKERS }, () => worker(client, ids, stopAt, counters));
    await new Promise((r) => setTimeout(r, loadMs));
    await kill();
    await Promise.allSettled(workers);
    await start();
    const res = await checkConsistency(bearerClient(server, driverToken), `run ${run + 1}`);
    totalLost += res.lost;
    totalResurrected += res.resurrected;
  }
  const final = await checkConsistency(bearerClient(server, driverToken), 'final (every token)', true);
  totalLost += final.lost;
  totalResurrected += final.resurrected;
  assert.deepEqual(counters.unexpected, [], 'no unexpected answers under load');
  sum.set('kill9_runs', KILL_RUNS);
  sum.set('acknowledged_creates', acknowledged.creates);
  sum.set('acknowledged_deletes', acknowledged.deletes + acknowledged.multiDeletes);
  sum.set('acknowledged_operations_lost', totalLost + totalResurrected);
  sum.set('unacknowledged_creates', pendingCreates);
  sum.set('live_tokens_at_end', live.size);
  sum.set('seconds', Math.round((Date.now() - t0) / 1000));
  sum.tally('kill -9 runs', KILL_RUNS);
  assert.ok(acknowledged.creates >= KILL_RUNS * 3, `enough load: ${acknowledged.creates} creates`);
  assert.ok(acknowledged.deletes + acknowledged.multiDeletes >= KILL_RUNS, `enough deletes: ${acknowledged.deletes}+${acknowledged.multiDeletes}`);

  // No token string in any run's output.
  const all = outputs.join('\n') + server.output();
  const leaked = [...live.values(), ...deleted.values(), driverToken].filter((t) => all.includes(t));
  assert.equal(leaked.length, 0, 'no token string in the server output');
  assert.deepEqual(observed.serverErrors, [], 'no 5xx other than 503');
  await server.stop();
  server = null;
  sum.write();
});

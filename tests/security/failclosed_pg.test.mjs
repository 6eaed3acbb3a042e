// Fail-closed drill on PostgreSQL (DESIGN.md rule 5): a tokend on a throwaway cluster of its
// own (tests/pg/pg_fixture.sh in a temp dir, so the shared `postgres` fixture is never stopped
// under other tests), then the cluster is stopped. Verification must answer 503, never 204:
// at once for a token the server has not cached, and within the cache TTL (5 s) for one it has.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTokend, loginAdmin, request, dateFromToday, observed } from '../lib/tokend.mjs';
import { bootstrapIds, createApiToken } from '../lib/fixtures.mjs';
import { summary } from './summary.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '..', 'pg', 'pg_fixture.sh');
const pgBin = process.env.TOKEND_PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const havePg = existsSync(path.join(pgBin, 'initdb'));
const sum = summary('failclosed_pg');
const clusterDir = mkdtempSync(path.join(os.tmpdir(), 'tokend-sec-pg-'));
let server = null;

after(() => {
  if (server?.alive()) server.proc.kill('SIGKILL');
  try { execFileSync(fixture, ['stop', clusterDir], { stdio: 'ignore' }); } catch { /* already gone */ }
  rmSync(clusterDir, { recursive: true, force: true });
});

const verify = (token) => request(server.url, 'GET', '/auth/verify', { headers: { Authorization: `Bearer ${token}` } });

test('PostgreSQL stopped: verification answers 503, never 204; writes answer 503', { skip: !havePg && 'PostgreSQL 15 not installed', timeout: 120_000 }, async () => {
  execFileSync(fixture, ['start', clusterDir], { stdio: 'ignore' });
  const url = readFileSync(path.join(clusterDir, 'url'), 'utf8').trim();
  server = await startTokend({ dbUrl: url });
  const admin = await loginAdmin(server);
  const ids = await bootstrapIds(admin);
  const mk = () => createApiToken(admin, { user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId });
  const cached = await mk();
  const cold = await mk();
  const deletedTok = await mk();
  assert.equal((await verify(cached.token)).status, 204, 'verifies while the database is up');
  assert.equal((await admin.delete(`/api/v1/tokens/${deletedTok.id}`)).status, 204);
  assert.equal((await verify(deletedTok.token)).status, 401);

  execFileSync(fixture, ['stop', clusterDir], { stdio: 'ignore' });
  const down = Date.now();

  // A token the server never verified: nothing cached, so it cannot be verified: 503.
  sum.tally('fail-closed');
  const coldRes = await verify(cold.token);
  assert.equal(coldRes.status, 503, `uncached token with the database down: ${coldRes.status} ${coldRes.text}`);
  sum.tally('fail-closed');
  const introspect = await request(server.url, 'POST', '/oauth2/introspect', {
    headers: { Authorization: `Bearer ${cached.token}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    rawBody: `token=${cold.token}`,
  });
  assert.ok(introspect.status === 503 || (introspect.status === 200 && introspect.json?.active === false) || introspect.status === 401,
    `introspection never says active: ${introspect.status} ${introspect.text}`);
  assert.ok(!(introspect.json?.active === true), 'never active while the store is down');
  // A revoked token stays refused (401 or 503, never 204).
  sum.tally('fail-closed');
  const del = await verify(deletedTok.token);
  assert.ok([401, 503].includes(del.status), `revoked token: ${del.status}`);
  // The cached token: the notifier's listening connection breaks with the database and drops
  // the whole cache at once, so 204 is allowed only for the moment that takes (1 s bound,
  // generous for an ASan build); then 503.
  let cachedStatuses = [];
  let firstRefusalMs = null;
  while (Date.now() - down < 9000) {
    sum.tally('fail-closed');
    const s = (await verify(cached.token)).status;
    cachedStatuses.push(s);
    assert.ok(s === 204 || s === 503, `cached token: ${s}`);
    if (s === 204) assert.ok(Date.now() - down < 1000, `a cached token verified ${Date.now() - down} ms after the database went down`);
    if (s === 503 && firstRefusalMs === null) firstRefusalMs = Date.now() - down;
    await new Promise((r) => setTimeout(r, 250));
  }
  cachedStatuses = [...new Set(cachedStatuses)];
  assert.equal((await verify(cached.token)).status, 503, 'after the TTL: 503');
  sum.set('pg_down_cached_token_first_503_ms', firstRefusalMs);
  sum.note(`PostgreSQL down: uncached token 503 at once; cached token statuses ${cachedStatuses.join('/')}, first 503 after ${firstRefusalMs} ms; revoked token ${del.status}.`);

  // Writes: 503.
  sum.tally('fail-closed');
  const bearer = { Authorization: `Bearer ${cached.token}` };
  const create = await request(server.url, 'POST', '/api/v1/tokens', {
    headers: bearer,
    body: { name: 'x', expires_at: dateFromToday(10), user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId },
  });
  assert.equal(create.status, 503, `create with the database down: ${create.status} ${create.text}`);
  sum.tally('fail-closed');
  const ready = await request(server.url, 'GET', '/readyz');
  assert.equal(ready.status, 503, `/readyz with the database down: ${ready.status}`);
  sum.tally('fail-closed');
  const health = await request(server.url, 'GET', '/healthz');
  assert.equal(health.status, 200, '/healthz (liveness) stays 200');
  assert.ok(server.alive(), 'the server survives the outage');
  assert.deepEqual(observed.serverErrors, [], 'no 500s, only 503s');

  server.proc.kill('SIGTERM');
  const e = await server.exited;
  sum.note(`SIGTERM with the database down: exit code ${e.code}, signal ${e.signal}.`);
  sum.write();
});

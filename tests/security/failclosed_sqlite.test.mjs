// Fail-closed drill on SQLite: the store becomes read-only. The tests run as root (CI), where
// chmod does not stop writes, so the drill opens the same database file read-only instead
// (`--db sqlite://file:<dir>/tokend.db?mode=ro`, SQLite URI syntax) on the same data dir and
// server key. Expected: every write answers 503 (never 500, never a false success), while
// verification of known tokens continues (reads need no write).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTokend, loginAdmin, request, dateFromToday, observed, rememberSecret } from '../lib/tokend.mjs';
import { bootstrapIds, createApiToken } from '../lib/fixtures.mjs';
import { summary } from './summary.mjs';

const sum = summary('failclosed_sqlite');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tokend-sec-ro-'));
const adminPassword = `Adm1n-${randomBytes(12).toString('hex')}`;
let server = null;

after(() => {
  if (server?.alive()) server.proc.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const verify = (token) => request(server.url, 'GET', '/auth/verify', { headers: { Authorization: `Bearer ${token}` } });

test('SQLite read-only: writes answer 503, verification of known tokens continues', { timeout: 120_000 }, async () => {
  server = await startTokend({ dataDir, adminPassword, dbUrl: null });
  const admin = await loginAdmin(server);
  const ids = await bootstrapIds(admin);
  const mk = () => createApiToken(admin, { user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId });
  const known = await mk();
  const other = await mk();
  const gone = await mk();
  assert.equal((await admin.delete(`/api/v1/tokens/${gone.id}`)).status, 204);
  assert.equal((await verify(known.token)).status, 204);
  await server.stop();

  const db = path.join(dataDir, 'tokend.db');
  const sizeBefore = statSync(db).size;
  server = await startTokend({ dataDir, adminPassword, dbUrl: `sqlite://file:${db}?mode=ro` });
  const bearer = { Authorization: `Bearer ${known.token}` };
  // Reads: verification (never verified by this process, so from the store), lists, detail.
  for (const tok of [known, other]) {
    sum.tally('fail-closed');
    assert.equal((await verify(tok.token)).status, 204, 'a known token verifies on a read-only store');
  }
  sum.tally('fail-closed');
  assert.equal((await verify(gone.token)).status, 401, 'a deleted token stays refused');
  sum.tally('fail-closed');
  const list = await request(server.url, 'GET', '/api/v1/tokens?kind=api', { headers: bearer });
  assert.equal(list.status, 200, list.text);
  // Writes: 503, and nothing was written.
  const writes = [
    ['POST', '/api/v1/tokens', { name: 'ro', expires_at: dateFromToday(10), user_id: ids.adminUserId, department_id: ids.rootId, user_type_id: ids.administratorTypeId }],
    ['DELETE', `/api/v1/tokens/${other.id}`],
    ['POST', '/api/v1/tokens/delete', { ids: [other.id] }],
    ['POST', `/api/v1/tokens/${other.id}/reveal`, {}],
    ['POST', '/api/v1/departments', { name: 'ro', parent_id: ids.rootId }],
  ];
  for (const [m, p, body] of writes) {
    sum.tally('fail-closed');
    const res = await request(server.url, m, p, { headers: bearer, body });
    assert.equal(res.status, 503, `${m} ${p} on a read-only store: ${res.status} ${res.text}`);
    assert.ok(!res.text.includes(other.token), 'reveal revealed nothing (its audit write failed)');
  }
  sum.tally('fail-closed');
  const signIn = await request(server.url, 'POST', '/api/v1/auth/login', { body: { tenant: 'default', username: 'admin', password: adminPassword } });
  sum.note(`SQLite read-only: console sign-in answered ${signIn.status} (a session is a write).`);
  assert.ok([503].includes(signIn.status), `sign-in needs a session write: ${signIn.status}`);
  sum.tally('fail-closed');
  assert.equal((await verify(other.token)).status, 204, 'the failed deletes did not revoke the token');
  sum.tally('fail-closed');
  const ready = await request(server.url, 'GET', '/readyz');
  sum.note(`SQLite read-only: /readyz answered ${ready.status}; verification of known tokens kept answering 204; every write 503.`);
  assert.ok(server.alive());
  assert.deepEqual(observed.serverErrors, [], 'no 500s');
  rememberSecret(known.token);
  const leaked = [known, other, gone].filter((t) => server.output().includes(t.token));
  assert.equal(leaked.length, 0, 'no token in the output');
  await server.stop();
  sum.set('sqlite_ro_db_bytes_unchanged', statSync(db).size === sizeBefore);
  sum.write();
});

// Fail-closed drill: the disk fills up under the SQLite store. The data dir is a small tmpfs
// mounted by the test (needs root, as CI runs; skipped with the reason otherwise). Expected:
// writes answer 503 (never 500, never a false success), verification and reads continue, the
// server stays up, and after the space comes back every acknowledged create is still there and
// nothing refused was half-written.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTokend, loginAdmin, request, dateFromToday, observed, rememberSecret, sleep } from '../lib/tokend.mjs';
import { bootstrapIds } from '../lib/fixtures.mjs';
import { summary } from './summary.mjs';

const sum = summary('diskfull');
const mountPoint = mkdtempSync(path.join(os.tmpdir(), 'tokend-sec-full-'));
const adminPassword = `Adm1n-${randomBytes(12).toString('hex')}`;
// Small enough to fill in a few hundred creations (each writes ~100 KB of WAL), large enough
// for the bootstrap.
const SIZE = '6m';
// Bounds the fill loop whatever happens.
const MAX_CREATES = 5000;

function mountTmpfs(size) {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', mountPoint]);
}
let mounted = false;
try {
  if (process.getuid?.() === 0) {
    mountTmpfs(SIZE);
    mounted = true;
  }
} catch {
  mounted = false;
}
let server = null;

after(() => {
  if (server?.alive()) server.proc.kill('SIGKILL');
  if (mounted) {
    try { execFileSync('umount', ['-l', mountPoint]); } catch { /* already gone */ }
  }
  rmSync(mountPoint, { recursive: true, force: true });
});

const verify = (token) => request(server.url, 'GET', '/auth/verify', { headers: { Authorization: `Bearer ${token}` } });

test('disk full: writes answer 503, reads and verification continue, nothing acknowledged is lost',
  { timeout: 180_000, skip: !mounted && 'needs root to mount a small tmpfs' }, async () => {
    const dataDir = path.join(mountPoint, 'data');
    server = await startTokend({ dataDir, adminPassword, dbUrl: null });
    const admin = await loginAdmin(server);
    const ids = await bootstrapIds(admin);
    const body = (i) => ({ name: `fill ${i}`, expires_at: dateFromToday(30), user_id: ids.adminUserId,
      department_id: ids.rootId, user_type_id: ids.administratorTypeId });

    const acknowledged = [];
    let refusal = null;
    for (let i = 0; i < MAX_CREATES && !refusal; i++) {
      const res = await admin.post('/api/v1/tokens', body(i));
      sum.tally('disk-full');
      if (res.status === 201) {
        acknowledged.push(res.json);
        rememberSecret(res.json.token);
      } else {
        refusal = res;
      }
    }
    assert.ok(refusal, `the ${SIZE} disk never filled in ${MAX_CREATES} creations`);
    assert.equal(refusal.status, 503, `a create on a full disk: ${refusal.status} ${refusal.text}`);
    assert.ok(refusal.headers.get('retry-after'), '503 carries Retry-After');
    assert.ok(acknowledged.length > 0);
    sum.set('diskfull_acknowledged_before_full', acknowledged.length);

    // A token creation writes ~100 KB; smaller writes may still fit in what is left. Take the
    // rest of the space so that every write meets a full disk.
    const filler = openSync(path.join(mountPoint, 'filler'), 'w');
    try {
      const chunk = Buffer.alloc(4096);
      for (let i = 0; i < 4096; i++) writeSync(filler, chunk);  // bounded: 16 MiB > the disk
    } catch (error) {
      assert.equal(error.code, 'ENOSPC', `filling the disk: ${error.message}`);
    } finally {
      closeSync(filler);
    }

    // Other writes: SQLite may still fit a small one into WAL space it already holds, so each
    // answers either 503 having changed nothing or success having done all of it; never 500.
    const victim = acknowledged[0];
    let victimRevoked = false;
    for (const [m, p, b] of [
      ['DELETE', `/api/v1/tokens/${victim.id}`],
      ['POST', '/api/v1/tokens/delete', { ids: [victim.id] }],
      ['POST', '/api/v1/departments', { name: 'full', parent_id: ids.rootId }],
    ]) {
      sum.tally('disk-full');
      const res = await (m === 'DELETE' ? admin.delete(p) : admin.post(p, b));
      assert.ok([503, 200, 201, 204].includes(res.status), `${m} ${p} on a full disk: ${res.status} ${res.text}`);
      if (p.includes('/tokens') && res.status !== 503) {
        victimRevoked ||= res.status === 204 || res.json?.deleted?.includes(victim.id);
      }
    }

    // Reads continue: from the cache at once, and from the store once cached entries are gone
    // (the default cache lifetime is 5 s).
    sum.tally('disk-full');
    assert.equal((await verify(victim.token)).status, victimRevoked ? 401 : 204,
      'a delete took effect exactly when it was acknowledged');
    if (victimRevoked) acknowledged.shift();
    await sleep(6000);
    for (const tok of [acknowledged[0], acknowledged[acknowledged.length - 1]]) {
      sum.tally('disk-full');
      assert.equal((await verify(tok.token)).status, 204, 'verification reads the full store');
    }
    sum.tally('disk-full');
    const list = await admin.get('/api/v1/tokens?kind=api&limit=5');
    assert.equal(list.status, 200, list.text);
    sum.tally('disk-full');
    assert.equal((await request(server.url, 'GET', '/healthz')).status, 200);
    assert.ok(server.alive(), 'the server survived the full disk');
    assert.deepEqual(observed.serverErrors, [], 'no 500s');
    await server.stop();

    // Space comes back: every acknowledged create is there and verifies; the refused one and
    // the refused deletes left no trace.
    rmSync(path.join(mountPoint, 'filler'));
    execFileSync('mount', ['-o', 'remount,size=64m', mountPoint]);
    server = await startTokend({ dataDir, adminPassword, dbUrl: null });
    const again = await loginAdmin(server);
    let lost = 0;
    for (const tok of acknowledged) {
      if ((await verify(tok.token)).status !== 204) lost++;
    }
    sum.set('diskfull_acknowledged_lost', lost);
    assert.equal(lost, 0, 'acknowledged creations lost after the disk filled');
    let listed = 0;
    for (let cursor = null, first = true; first || cursor; first = false) {
      const page = await again.get(`/api/v1/tokens?kind=api&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200, page.text);
      listed += page.json.items.filter((t) => t.name.startsWith('fill ')).length;
      cursor = page.json.next_cursor;
    }
    assert.equal(listed, acknowledged.length, 'exactly the acknowledged creations exist');
    const created = await again.post('/api/v1/tokens', body('after'));
    assert.equal(created.status, 201, 'writes work again once there is space');
    rememberSecret(created.json.token);
    sum.note(`Disk full (tmpfs ${SIZE}): ${acknowledged.length} creations acknowledged, then 503 for ` +
      'creates, deletes and directory writes; verification and lists kept working; after the ' +
      `space came back ${lost} acknowledged creations were missing.`);
    await server.stop();
    sum.write();
  });

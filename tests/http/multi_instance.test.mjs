// Scale-out (DESIGN.md §1 rule 4, §6): two tokend instances on one PostgreSQL database. A token
// issued on one verifies on the other; a revocation or a permission change on one takes effect on
// the other at once (LISTEN/NOTIFY drops the other instance's cache entry). Runs only in the
// PostgreSQL run (http-pg/multi_instance); the SQLite run skips it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { useServer, finalChecks } from '../lib/harness.mjs';
import { bearerClient, startTokend, waitFor } from '../lib/tokend.mjs';
import { createApiToken, createDepartment, createUser, createUserType } from '../lib/fixtures.mjs';

const pg = Boolean(process.env.TOKEND_PG_FIXTURE_DIR || process.env.TOKEND_TEST_DB?.startsWith('postgres'));
// "At once": a notification crosses instances in milliseconds; allow for a slow (ASan) build.
const PROPAGATION_MS = 1500;

const ctx = useServer();
const S = {};
after(async () => { if (S.b) await S.b.stop().catch(() => {}); });

test('a second instance on the same database and key serves the same tokens', { skip: !pg && 'needs PostgreSQL' }, async () => {
  S.b = await startTokend({ dbUrl: ctx.server.dbUrl, args: ['--key-file', path.join(ctx.server.dataDir, 'server.key')] });
  const { admin, ids } = ctx;
  S.dept = await createDepartment(admin, 'Scale', ids.rootId);
  S.type = await createUserType(admin, 'Scale type', ['tokens:read', 'users:read']);
  S.user = await createUser(admin, { memberships: [{ department_id: S.dept.id, user_type_id: S.type.id }] });
  S.tok = await createApiToken(admin, { user_id: S.user.id, department_id: S.dept.id, user_type_id: S.type.id });
  const onB = bearerClient(S.b, S.tok.token);
  for (let i = 0; i < 3; i++) assert.equal((await onB.get('/auth/verify')).status, 204, 'verifies on instance B (cache warm)');
});

test('a permission removed on instance A applies on instance B at once', { skip: !pg && 'needs PostgreSQL' }, async () => {
  const onB = bearerClient(S.b, S.tok.token);
  assert.equal((await onB.get('/auth/verify?permission=users:read')).status, 204);
  assert.equal((await ctx.admin.patch(`/api/v1/user-types/${S.type.id}`, { permissions: ['tokens:read'] })).status, 200);
  const started = Date.now();
  await waitFor(async () => (await onB.get('/auth/verify?permission=users:read')).status === 403,
    { timeoutMs: PROPAGATION_MS, intervalMs: 20, message: 'instance B to drop users:read' });
  assert.ok(Date.now() - started < PROPAGATION_MS);
});

test('a token deleted on instance A is refused on instance B at once', { skip: !pg && 'needs PostgreSQL' }, async () => {
  const onB = bearerClient(S.b, S.tok.token);
  assert.equal((await onB.get('/auth/verify')).status, 204);
  assert.equal((await ctx.admin.delete(`/api/v1/tokens/${S.tok.id}`)).status, 204);
  await waitFor(async () => (await onB.get('/auth/verify')).status === 401,
    { timeoutMs: PROPAGATION_MS, intervalMs: 20, message: 'instance B to refuse the deleted token' });
  for (let i = 0; i < 5; i++) assert.equal((await onB.get('/auth/verify')).status, 401, 'and stays refused');
  assert.ok(S.b.alive());
  await S.b.stop();
});

finalChecks(ctx);

// The directory (/api/v1/users, /departments, /user-types: list, create, read, update, delete),
// keyset pagination of lists, and the audit trail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import { assertFieldError, assertProblem, dateFromToday } from '../lib/tokend.mjs';
import { ALL_PERMISSIONS, createApiToken, createDepartment, createUser, createUserType } from '../lib/fixtures.mjs';

const ctx = useServer();
const S = {};

test('bootstrap: tenant default with a root department, Administrator (all) and Member (read-only)', async () => {
  const { admin, ids } = ctx;
  const root = await admin.get(`/api/v1/departments/${ids.rootId}`);
  assert.equal(root.status, 200);
  assert.equal(root.json.parent_id, null);
  const types = (await admin.get('/api/v1/user-types')).json.items;
  const administrator = types.find((t) => t.name === 'Administrator');
  assert.deepEqual([...administrator.permissions].sort(), [...ALL_PERMISSIONS].sort());
  const member = types.find((t) => t.name === 'Member');
  assert.ok(member.permissions.length > 0, 'Member has read permissions');
  assert.ok(member.permissions.every((p) => p.endsWith(':read')), `Member is read-only: ${member.permissions}`);
  const adminUser = await admin.get(`/api/v1/users/${ids.adminUserId}`);
  assert.equal(adminUser.status, 200);
  assert.equal(adminUser.json.username, 'admin');
  assert.equal(adminUser.json.active, true);
  assert.deepEqual(adminUser.json.memberships, [{ department_id: ids.rootId, user_type_id: ids.administratorTypeId }]);
  assert.ok(!('password' in adminUser.json) && !('password_hash' in adminUser.json));
});

test('departments: create (201 + Location), read, rename, move, list, delete (204)', async () => {
  const { admin, ids } = ctx;
  const res = await admin.post('/api/v1/departments', { name: 'Engineering', parent_id: ids.rootId });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('location'), new RegExp(`/api/v1/departments/${res.json.id}$`));
  assert.deepEqual(res.json, { id: res.json.id, name: 'Engineering', parent_id: ids.rootId });
  S.eng = res.json;
  S.backend = await createDepartment(admin, 'Backend', S.eng.id);
  S.sales = await createDepartment(admin, 'Sales', ids.rootId);
  const got = await admin.get(`/api/v1/departments/${S.backend.id}`);
  assert.deepEqual(got.json, S.backend);
  const renamed = await admin.patch(`/api/v1/departments/${S.backend.id}`, { name: 'Back end' });
  assert.equal(renamed.status, 200, renamed.text);
  assert.deepEqual(renamed.json, { ...S.backend, name: 'Back end' });
  const moved = await admin.patch(`/api/v1/departments/${S.backend.id}`, { parent_id: S.sales.id });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json.parent_id, S.sales.id);
  assert.equal(moved.json.name, 'Back end', 'a partial update keeps the other fields');
  const cycle = await admin.patch(`/api/v1/departments/${S.sales.id}`, { parent_id: S.backend.id });
  assert.ok([409, 422].includes(cycle.status), `moving a department under its own subtree: ${cycle.status}`);
  const list = await admin.get('/api/v1/departments');
  assert.equal(list.status, 200);
  assert.ok('next_cursor' in list.json);
  for (const d of [S.eng, S.backend, S.sales]) assert.ok(list.json.items.some((x) => x.id === d.id));
  const tmp = await createDepartment(admin, 'Temporary', S.eng.id);
  const del = await admin.delete(`/api/v1/departments/${tmp.id}`);
  assert.equal(del.status, 204, del.text);
  assert.equal((await admin.get(`/api/v1/departments/${tmp.id}`)).status, 404);
  const rootDel = await admin.delete(`/api/v1/departments/${ids.rootId}`);
  assert.ok([403, 409, 422].includes(rootDel.status), `deleting the root department: ${rootDel.status}`);
  const noParent = await admin.post('/api/v1/departments', { name: 'Orphan', parent_id: 'nope' });
  assert.ok([404, 422].includes(noParent.status), `unknown parent: ${noParent.status}`);
});

test('user types: create, read, update, list, delete', async () => {
  const { admin } = ctx;
  const res = await admin.post('/api/v1/user-types', { name: 'Auditor', permissions: ['audit:read', 'tokens:read'] });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('location'), new RegExp(`/api/v1/user-types/${res.json.id}$`));
  assert.equal(res.json.name, 'Auditor');
  assert.deepEqual([...res.json.permissions].sort(), ['audit:read', 'tokens:read']);
  S.auditor = res.json;
  const up = await admin.patch(`/api/v1/user-types/${S.auditor.id}`, { name: 'Auditors' });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.json.name, 'Auditors');
  assert.deepEqual([...up.json.permissions].sort(), ['audit:read', 'tokens:read'], 'partial update keeps permissions');
  assert.deepEqual((await admin.get(`/api/v1/user-types/${S.auditor.id}`)).json, up.json);
  const tmp = await createUserType(admin, 'Temp type', []);
  assert.deepEqual(tmp.permissions, []);
  assert.equal((await admin.delete(`/api/v1/user-types/${tmp.id}`)).status, 204);
  assert.equal((await admin.get(`/api/v1/user-types/${tmp.id}`)).status, 404);
});

test('users: create (201 + Location), read, update, list with q, delete; passwords never returned', async () => {
  const { admin } = ctx;
  const res = await admin.post('/api/v1/users', {
    username: 'carol', email: 'carol@example.test', display_name: 'Carol C', password: 'Carol-pass-1234',
    memberships: [{ department_id: S.eng.id, user_type_id: S.auditor.id }],
  });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('location'), new RegExp(`/api/v1/users/${res.json.id}$`));
  assert.deepEqual(res.json, { id: res.json.id, username: 'carol', email: 'carol@example.test', display_name: 'Carol C',
    active: true, memberships: [{ department_id: S.eng.id, user_type_id: S.auditor.id }] });
  assert.ok(!res.text.includes('Carol-pass-1234'));
  S.carol = res.json;
  const up = await admin.patch(`/api/v1/users/${S.carol.id}`, { display_name: 'Carol Cooper', password: 'Carol-pass-5678' });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.json.display_name, 'Carol Cooper');
  assert.equal(up.json.email, 'carol@example.test');
  assert.ok(!up.text.includes('Carol-pass-5678'));
  const signIn = await admin.request('POST', '/api/v1/auth/login', { body: { tenant: 'default', username: 'carol', password: 'Carol-pass-5678' } });
  assert.equal(signIn.status, 200, 'the new password works');
  const list = await admin.get('/api/v1/users?q=COOP');
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.items.map((u) => u.id), [S.carol.id], 'q matches display name, case-insensitively');
  const noMembership = await admin.post('/api/v1/users', { username: 'nomember', email: 'n@example.test',
    display_name: 'N', password: 'Nomember-pass-1', memberships: [] });
  assert.ok([400, 422].includes(noMembership.status), `a user needs a membership: ${noMembership.status}`);
  const badMembership = await admin.post('/api/v1/users', { username: 'badmember', email: 'b@example.test',
    display_name: 'B', password: 'Badmember-pass-1', memberships: [{ department_id: 'nope', user_type_id: S.auditor.id }] });
  assert.ok([404, 422].includes(badMembership.status), `unknown department in a membership: ${badMembership.status}`);
  const tmp = await createUser(admin, { memberships: [{ department_id: S.eng.id, user_type_id: S.auditor.id }] });
  assert.equal((await admin.delete(`/api/v1/users/${tmp.id}`)).status, 204);
  assert.equal((await admin.get(`/api/v1/users/${tmp.id}`)).status, 404);
  const empty = await admin.post('/api/v1/users', { username: '', email: 'e@example.test', display_name: 'E',
    password: 'Empty-pass-123', memberships: [{ department_id: S.eng.id, user_type_id: S.auditor.id }] });
  assertFieldError(empty, 'username', 'empty username');
});

test('token lists page with a keyset cursor: no duplicates, no gaps, null at the end', async () => {
  const { admin } = ctx;
  const created = [];
  for (let i = 0; i < 7; i++) {
    created.push(await createApiToken(admin, { name: `page-${i}`, user_id: S.carol.id, department_id: S.eng.id,
      user_type_id: S.auditor.id, expires_at: dateFromToday(10 + i) }));
  }
  for (const sort of ['-created_at', 'name', '-expires_at']) {
    const seen = [];
    let cursor = null;
    for (let page = 0; page < 10; page++) {
      const res = await admin.get(`/api/v1/tokens?kind=api&user_id=${S.carol.id}&limit=3&sort=${sort}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json.items.length <= 3);
      seen.push(...res.json.items.map((i) => i.name));
      cursor = res.json.next_cursor;
      if (cursor === null) break;
      assert.equal(typeof cursor, 'string');
    }
    assert.equal(cursor, null, `${sort}: pagination ends with next_cursor null`);
    assert.equal(seen.length, 7, `${sort}: every token once: ${seen}`);
    assert.equal(new Set(seen).size, 7, `${sort}: no duplicates`);
    const expected = created.map((t) => t.name);
    if (sort === 'name') assert.deepEqual(seen, [...expected].sort());
    else if (sort === '-expires_at') assert.deepEqual(seen, [...expected].reverse(), `${sort}: latest first`);
    // -created_at: times are whole seconds, so ties are broken by id; completeness is checked above.
  }
  const res = await admin.get(`/api/v1/tokens?kind=api&user_id=${S.carol.id}&limit=7`);
  assert.equal(res.json.items.length, 7);
  const after = await admin.get(`/api/v1/tokens?kind=api&user_id=${S.carol.id}&limit=200&user_type_id=${S.auditor.id}&department_id=${S.eng.id}`);
  assert.equal(after.json.items.length, 7, 'combined filters');
  assert.equal(after.json.next_cursor, null);
});

test('the audit trail records directory and token changes, newest first, without secrets', async () => {
  const { admin } = ctx;
  const res = await admin.get('/api/v1/audit-events?limit=200');
  assert.equal(res.status, 200, res.text);
  assert.ok(Array.isArray(res.json.items) && res.json.items.length > 0);
  assert.ok('next_cursor' in res.json);
  const e = res.json.items[0];
  for (const f of ['id', 'time', 'action', 'actor', 'target', 'client_ip', 'details']) {
    assert.ok(Object.hasOwn(e, f), `audit event field ${f}: ${JSON.stringify(e)}`);
  }
  const times = res.json.items.map((x) => Date.parse(x.time));
  assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  assert.ok(res.json.items.some((x) => x.target?.id === S.carol.id && x.target.type === 'user'), 'the user creation is audited');
  assert.ok(!res.text.includes('Carol-pass'), 'no password in the audit trail');
  const page = await admin.get('/api/v1/audit-events?limit=2');
  assert.equal(page.json.items.length, 2);
  assert.equal(typeof page.json.next_cursor, 'string');
  const next = await admin.get(`/api/v1/audit-events?limit=2&cursor=${encodeURIComponent(page.json.next_cursor)}`);
  assert.equal(next.status, 200);
  assert.ok(!next.json.items.some((x) => page.json.items.some((y) => y.id === x.id)), 'the next page has other events');
  const filtered = await admin.get(`/api/v1/audit-events?target=${S.carol.id}`);
  assert.ok(filtered.json.items.length >= 1 && filtered.json.items.every((x) => x.target?.id === S.carol.id));
  const failed = await admin.request('POST', '/api/v1/auth/login', { body: { tenant: 'default', username: 'carol', password: 'wrong-Password-x' } });
  assert.equal(failed.status, 401);
  const after = await admin.get('/api/v1/audit-events?limit=5');
  assert.ok(!after.text.includes('wrong-Password-x'), 'a mistyped password never reaches the audit trail');
  assertProblem(await admin.get('/api/v1/audit-events?limit=0'), 400, 'limit=0');
});

finalChecks(ctx);

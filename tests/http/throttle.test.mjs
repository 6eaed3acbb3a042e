// Throttling (429 with Retry-After): failed console and mobile sign-ins, and reveal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import { assertProblem, request } from '../lib/tokend.mjs';
import { createApiToken, createUser } from '../lib/fixtures.mjs';

const ctx = useServer();
const MAX_ATTEMPTS = 30;

async function hammer(send) {
  const seen = [];
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const res = await send();
    seen.push(res.status);
    if (res.status === 429) return { res, seen };
  }
  return { res: null, seen };
}

function assertThrottled(res, seen, label) {
  assert.ok(res, `${label}: no 429 within ${MAX_ATTEMPTS} attempts (${seen.join(',')})`);
  assertProblem(res, 429, label);
  const ra = res.headers.get('retry-after');
  assert.match(ra ?? '', /^\d+$/, `${label}: Retry-After is a number of seconds: ${ra}`);
  assert.ok(Number(ra) >= 1 && Number(ra) <= 3600, `${label}: Retry-After ${ra}`);
}

test('repeated failed console sign-ins are throttled with 429 and Retry-After', async () => {
  const { res, seen } = await hammer(() => request(ctx.server.url, 'POST', '/api/v1/auth/login', {
    body: { tenant: 'default', username: 'admin', password: 'definitely-wrong' } }));
  assertThrottled(res, seen, 'console sign-in');
  assert.ok(seen.slice(0, -1).every((s) => s === 401), `401 until throttled: ${seen.join(',')}`);
  assert.ok(seen.length >= 3, 'a couple of typos are not throttled at once');
  // while throttled, even the right password is refused: throttling must not be an oracle
  const right = await request(ctx.server.url, 'POST', '/api/v1/auth/login', {
    body: { tenant: 'default', username: 'admin', password: ctx.server.adminPassword } });
  assert.equal(right.status, 429, `the right password while throttled: ${right.status}`);
  assert.equal(right.headers.get('set-cookie'), null, 'no session while throttled');
  // an existing session is not affected
  assert.equal((await ctx.admin.get('/api/v1/me')).status, 200);
});

test('repeated failed mobile sign-ins are throttled with 429 and Retry-After', async () => {
  const u = await createUser(ctx.admin, { memberships: [{ department_id: ctx.ids.rootId, user_type_id: ctx.ids.memberTypeId }] });
  const { res, seen } = await hammer(() => request(ctx.server.url, 'POST', '/api/v1/mobile/login', {
    body: { tenant: 'default', username: u.username, password: 'definitely-wrong', device_name: 'brute' } }));
  assertThrottled(res, seen, 'mobile sign-in');
  const right = await request(ctx.server.url, 'POST', '/api/v1/mobile/login', {
    body: { tenant: 'default', username: u.username, password: u.password, device_name: 'brute' } });
  assert.equal(right.status, 429, `the right password while throttled: ${right.status}`);
  assert.ok(!right.text.includes('tkm_'), 'no token while throttled');
});

test('reveal is rate-limited (429 with Retry-After) and reveals nothing then', async () => {
  const t = await createApiToken(ctx.admin, { user_id: ctx.ids.adminUserId, department_id: ctx.ids.rootId,
    user_type_id: ctx.ids.administratorTypeId });
  let throttled = null;
  const seen = [];
  for (let i = 0; i < 120 && !throttled; i++) {
    const res = await ctx.admin.post(`/api/v1/tokens/${t.id}/reveal`);
    seen.push(res.status);
    if (res.status === 429) throttled = res;
    else assert.equal(res.json.token, t.token);
  }
  assert.ok(throttled, `no 429 within 120 reveals (${[...new Set(seen)]})`);
  assertProblem(throttled, 429, 'reveal');
  assert.match(throttled.headers.get('retry-after') ?? '', /^\d+$/);
  assert.ok(!throttled.text.includes(t.token));
});

finalChecks(ctx);

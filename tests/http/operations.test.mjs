// Operations: /healthz, /readyz, /metrics (Prometheus text), /api/v1/openapi.json; concurrent
// verification; errors are problem+json; no secret in the server's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, finalChecks } from '../lib/harness.mjs';
import { anonClient, assertProblem, bearerClient, wellFormedUnknownToken } from '../lib/tokend.mjs';
import { createApiToken } from '../lib/fixtures.mjs';

const ctx = useServer();

test('/healthz and /readyz answer 200 without credentials', async () => {
  const c = anonClient(ctx.server);
  for (const p of ['/healthz', '/readyz']) {
    const res = await c.get(p);
    assert.equal(res.status, 200, `${p}: ${res.text}`);
  }
});

test('/metrics is Prometheus text with request and token counters', async () => {
  const tok = await createApiToken(ctx.admin, { user_id: ctx.ids.adminUserId, department_id: ctx.ids.rootId,
    user_type_id: ctx.ids.administratorTypeId });
  assert.equal((await bearerClient(ctx.server, tok.token).get('/auth/verify')).status, 204);
  const res = await anonClient(ctx.server).get('/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(res.text, /^# (HELP|TYPE) /m, 'Prometheus exposition format');
  const samples = res.text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(samples.length > 0);
  for (const l of samples) assert.match(l, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( -?\d+)?$/, `sample line: ${l}`);
  assert.ok(!res.text.includes(tok.token), 'no secret in metrics');
  assert.ok(!res.text.includes(tok.token.slice(4, 20)), 'no part of a secret in metrics');
});

test('/api/v1/openapi.json is the OpenAPI 3.1 document', async () => {
  const res = await anonClient(ctx.server).get('/api/v1/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.match(res.json.openapi, /^3\.1\./);
  for (const p of ['/api/v1/tokens', '/api/v1/tokens/{id}', '/api/v1/tokens/delete', '/oauth2/introspect', '/auth/verify']) {
    assert.ok(res.json.paths[p], `documents ${p}`);
  }
});

test('every error is application/problem+json, also for unknown routes', async () => {
  const c = anonClient(ctx.server);
  assertProblem(await c.get('/api/v1/nothing-here'), 404, 'unknown route');
  assertProblem(await c.get('/api/v1/me'), 401, 'no credentials');
  const r = await ctx.admin.get('/api/v1/tokens/does-not-exist');
  assertProblem(r, 404, 'unknown token');
});

test('concurrent verification of valid and invalid tokens stays correct', async () => {
  const tok = await createApiToken(ctx.admin, { user_id: ctx.ids.adminUserId, department_id: ctx.ids.rootId,
    user_type_id: ctx.ids.administratorTypeId });
  const bad = wellFormedUnknownToken();
  const jobs = [];
  for (let i = 0; i < 300; i++) {
    const good = i % 3 !== 0;
    jobs.push(bearerClient(ctx.server, good ? tok.token : bad).get('/auth/verify').then((r) => [good, r.status]));
    if (jobs.length % 30 === 0) await Promise.all(jobs.slice(-30));
  }
  const results = await Promise.all(jobs);
  for (const [good, status] of results) assert.equal(status, good ? 204 : 401);
  const del = await ctx.admin.delete(`/api/v1/tokens/${tok.id}`);
  assert.equal(del.status, 204);
  const after = await Promise.all(Array.from({ length: 20 }, () => bearerClient(ctx.server, tok.token).get('/auth/verify')));
  assert.ok(after.every((r) => r.status === 401), 'revocation is immediate even with a warm verification cache');
});

finalChecks(ctx);

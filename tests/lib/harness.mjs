// tests/lib/harness.mjs — one fresh tokend per test file, for node:test suites.
//
//   import { useServer, finalChecks } from '../lib/harness.mjs';
//   const ctx = useServer();        // before(): start tokend, sign in as admin, read bootstrap ids
//   test('…', async () => { ctx.server, ctx.admin, ctx.ids });
//   finalChecks(ctx);               // last test: alive, no 500s, no secrets in logs, exit 0
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loginAdmin, observed, rememberSecret, startTokend } from './tokend.mjs';
import { bootstrapIds } from './fixtures.mjs';

export function useServer(options = {}) {
  const ctx = {};
  before(async () => {
    ctx.server = await startTokend(options);
    rememberSecret(ctx.server.adminPassword);
    ctx.admin = await loginAdmin(ctx.server);
    ctx.ids = await bootstrapIds(ctx.admin);
  });
  after(async () => {
    // Cleanup after a failure; finalChecks() already stopped (and asserted) on success.
    if (ctx.server) await ctx.server.stop().catch(() => {});
  });
  return ctx;
}

/** Registers the end-of-file test. Must be the last test() call of the file. */
export function finalChecks(ctx) {
  test('the server is still alive, never answered 500, kept secrets out of its output and exits 0 on SIGTERM', async () => {
    assert.ok(ctx.server, 'the server started');
    assert.ok(ctx.server.alive(), `tokend is still running; output:\n${ctx.server.output().slice(-4000)}`);
    assert.deepEqual(observed.serverErrors, [], 'no 5xx answers other than 503');
    const out = ctx.server.output();
    const leaked = [...observed.secrets].filter((s) => out.includes(s));
    assert.deepEqual(leaked.map((s) => `${s.slice(0, 6)}…`), [], 'no token or password appears in the server output');
    await ctx.server.stop();
  });
}

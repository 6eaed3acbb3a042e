// Black-box tests of the `tokend` command line: every subcommand against one fresh store,
// the server's own store shared with the CLI, and bad input refused without changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = process.env.TOKEND_BIN;
if (!bin) throw new Error('TOKEND_BIN must name the tokend binary');

const dataDir = mkdtempSync(join(tmpdir(), 'tokend-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

// Runs `tokend ARGS` on the shared data dir; returns {status, stdout, stderr}.
function tokend(args, { input } = {}) {
  const result = spawnSync(bin, ['--data-dir', dataDir, ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, TOKEND_BOOTSTRAP_ADMIN_PASSWORD: 'correct horse battery' },
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// "key: value" lines → object.
function fields(stdout) {
  const out = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf(': ');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 2);
  }
  return out;
}

function countTokenRows(kind = 'api') {
  const r = tokend(['token', 'list', '--kind', kind]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').length - 1;  // minus the header
}

let server;
let serverUrl;

before(async () => {
  // The server bootstraps the empty store; the CLI then works on the same store while it runs.
  server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, TOKEND_BOOTSTRAP_ADMIN_PASSWORD: 'correct horse battery' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  serverUrl = await new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${seen}`)), 60_000);
    server.stdout.on('data', (chunk) => {
      seen += chunk;
      const match = /tokend listening on (http:\/\/\S+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${seen}`)));
  });
});

after(async () => {
  if (!server) return;
  const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
  server.kill('SIGTERM');
  assert.equal(await exited, 0, 'serve exits 0 on SIGTERM');
});

test('serve creates the server key with mode 0600 and answers /healthz', async () => {
  const mode = statSync(join(dataDir, 'server.key')).mode & 0o777;
  assert.equal(mode, 0o600);
  const response = await fetch(`${serverUrl}/healthz`);
  assert.equal(response.status, 200);
});

test('tenant list shows the bootstrapped default tenant', () => {
  const r = tokend(['tenant', 'list']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\tdefault\t/);
});

test('token create, list, show, verify, revoke: a revoked token fails verification', () => {
  const created = tokend(['token', 'create', '--name', 'ci deploy', '--user', 'admin',
    '--department', rootDepartment(),
    '--user-type', 'Administrator', '--expires', futureDate(30)]);
  assert.equal(created.status, 0, created.stderr);
  const token = fields(created.stdout);
  assert.match(token.token, /^tka_[0-9A-Za-z]{49}$/);
  assert.equal(token.name, 'ci deploy');

  const list = tokend(['token', 'list']);
  assert.equal(list.status, 0, list.stderr);
  assert.ok(list.stdout.includes(token.id), 'the new token is listed');
  assert.ok(!list.stdout.includes(token.token), 'the secret is never listed');

  const shown = tokend(['token', 'show', token.id]);
  assert.equal(shown.status, 0, shown.stderr);
  assert.equal(fields(shown.stdout).status, 'active');
  assert.ok(!shown.stdout.includes(token.token), 'show never prints the secret');

  const verified = tokend(['token', 'verify'], { input: `${token.token}\n` });
  assert.equal(verified.status, 0, verified.stderr);
  assert.equal(fields(verified.stdout).username, 'admin');

  const revoked = tokend(['token', 'revoke', token.id]);
  assert.equal(revoked.status, 0, revoked.stderr);
  assert.match(revoked.stdout, new RegExp(`revoked ${token.id}`));

  const refused = tokend(['token', 'verify'], { input: `${token.token}\n` });
  assert.equal(refused.status, 7, 'verification of a revoked token fails with exit code 7');
  assert.ok(!refused.stderr.includes(token.token), 'the secret is not echoed');

  const again = tokend(['token', 'revoke', token.id]);
  assert.equal(again.status, 3, 'revoking an unknown (already revoked) id exits 3');
});

test('a token created by the CLI is accepted by the running server, and refused once revoked', async () => {
  const created = tokend(['token', 'create', '--name', 'server check', '--user', 'admin',
    '--department', rootDepartment(), '--user-type', 'Administrator']);
  assert.equal(created.status, 0, created.stderr);
  const { id, token } = fields(created.stdout);
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  // Twice: the second answer comes from the server's verification cache.
  for (let i = 0; i < 2; i++) assert.equal((await fetch(`${serverUrl}/auth/verify`, auth)).status, 204);
  assert.equal(tokend(['token', 'revoke', id]).status, 0);
  // The CLI is another process: the server's own invalidations never see its change. The
  // server polls the SQLite file's data_version every 100 ms and drops its cache when another
  // process has committed, so the refusal comes long before the cache TTL (60 s on SQLite).
  const revokedAt = Date.now();
  let status;
  do {
    status = (await fetch(`${serverUrl}/auth/verify`, auth)).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 20));
  } while (Date.now() - revokedAt < 2_000);
  assert.equal(status, 401, 'refused within 2 s of the CLI revocation');
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${serverUrl}/auth/verify`, auth)).status, 401, 'and stays refused');
});

test('user add and user list', () => {
  const added = tokend(['user', 'add', '--username', 'integrator', '--email', 'int@example.com',
    '--display-name', 'Integration user', '--membership', `${rootDepartment()}:Member`,
    '--password-stdin'], { input: 'a long enough password\n' });
  assert.equal(added.status, 0, added.stderr);
  const list = tokend(['user', 'list']);
  assert.match(list.stdout, /\tintegrator\tint@example.com\tyes\t/);
  const duplicate = tokend(['user', 'add', '--username', 'integrator', '--email', 'x@example.com',
    '--membership', `${rootDepartment()}:Member`, '--password-stdin'], { input: 'another password\n' });
  assert.equal(duplicate.status, 5, 'a duplicate username is a conflict');
});

test('tenant create makes a second, isolated tenant', () => {
  const created = tokend(['tenant', 'create', 'acme', '--admin-password', 'acme admin password']);
  assert.equal(created.status, 0, created.stderr);
  assert.match(tokend(['tenant', 'list']).stdout, /\tacme\t/);
  const list = tokend(['token', 'list', '--tenant', 'acme']);
  assert.equal(list.status, 0, list.stderr);
  assert.equal(list.stdout.trim().split('\n').length, 1, 'only the header: no token crosses tenants');
  const dup = tokend(['tenant', 'create', 'acme']);
  assert.equal(dup.status, 5);
});

test('tenant settings shows and changes a tenant\'s settings, refusing bad values', () => {
  const shown = tokend(['tenant', 'settings', 'acme']);
  assert.equal(shown.status, 0, shown.stderr);
  assert.equal(fields(shown.stdout).api_token_reveal, 'on');
  assert.equal(fields(shown.stdout).api_token_max_days, '365');

  const changed = tokend(['tenant', 'settings', 'acme', '--api-token-reveal', 'off',
    '--api-token-max-days', '180', '--api-token-default-days', '30']);
  assert.equal(changed.status, 0, changed.stderr);
  const after = fields(tokend(['tenant', 'settings', 'acme']).stdout);
  assert.equal(after.api_token_reveal, 'off');
  assert.equal(after.api_token_max_days, '180');
  assert.equal(after.api_token_default_days, '30');

  const refused = tokend(['tenant', 'settings', 'acme', '--api-token-default-days', '200']);
  assert.equal(refused.status, 4, 'a default beyond the maximum is refused');
  assert.match(refused.stderr, /api_token_default_lifetime_days/);
  assert.equal(fields(tokend(['tenant', 'settings', 'acme']).stdout).api_token_default_days, '30',
    'nothing changed');
  assert.equal(fields(tokend(['tenant', 'settings']).stdout).api_token_reveal, 'on',
    'the default tenant is untouched');
});

test('bad input gets a clear message, a non-zero exit code, and changes nothing', () => {
  const before = countTokenRows();
  const cases = [
    { args: ['token', 'create', '--name', 'x', '--user', 'admin', '--department', rootDepartment(),
      '--user-type', 'Administrator', '--expires', '2025-02-30'], status: 4, message: /expires_at/ },
    { args: ['token', 'create', '--name', 'x', '--user', 'admin', '--department', rootDepartment(),
      '--user-type', 'Administrator', '--expires', futureDate(400)], status: 4, message: /expires_at/ },
    { args: ['token', 'create', '--name', 'x', '--user', 'admin', '--department', rootDepartment(),
      '--user-type', 'Administrator', '--expires', '2001-01-01'], status: 4, message: /expires_at/ },
    { args: ['token', 'create', '--name', '', '--user', 'admin', '--department', rootDepartment(),
      '--user-type', 'Administrator'], status: 4, message: /name/ },
    { args: ['token', 'create', '--name', 'x', '--user', 'nobody', '--department', rootDepartment(),
      '--user-type', 'Administrator'], status: 3, message: /nobody/ },
    { args: ['token', 'create', '--name', 'x', '--user', 'admin', '--department', 'Nowhere',
      '--user-type', 'Administrator'], status: 3, message: /Nowhere/ },
    { args: ['token', 'create', '--name', 'x', '--user', 'admin', '--department', rootDepartment(),
      '--user-type', 'Member'], status: 4, message: /user_type_id|department_id|membership/ },
    { args: ['token', 'create', '--tenant', 'no-such-tenant', '--name', 'x', '--user', 'admin',
      '--department', 'd', '--user-type', 't'], status: 3, message: /no-such-tenant/ },
    { args: ['token', 'list', '--kind', 'bogus'], status: 2, message: /kind/ },
    { args: ['token', 'frobnicate'], status: 2, message: /frobnicate|subcommand/i },
    { args: ['token', 'show', 'not-an-id'], status: 3, message: /not found|no token/i },
    { args: ['user', 'add', '--username', 'bad', '--email', 'b@example.com', '--membership',
      'no-colon'], status: 2, message: /DEPARTMENT:USER_TYPE/ },
    { args: ['serve', '--listen', 'nonsense'], status: 2, message: /--listen/ },
  ];
  for (const c of cases) {
    const r = tokend(c.args);
    assert.equal(r.status, c.status, `tokend ${c.args.join(' ')}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, c.message, `tokend ${c.args.join(' ')} explains itself`);
  }
  assert.equal(countTokenRows(), before, 'no token was created by any refused command');
});

// The root department's name, from the bootstrap.
function rootDepartment() {
  const r = tokend(['user', 'list']);
  assert.equal(r.status, 0, r.stderr);
  const adminRow = r.stdout.split('\n').find((line) => line.includes('\tadmin\t'));
  return adminRow.split('\t')[4].split(':')[0];  // the admin's first membership's department id
}

function futureDate(days) {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

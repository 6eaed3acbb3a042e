// tests/lib/tokend.mjs — start a real tokend on loopback and talk to it (black-box tests).
//
// Used by tests/http/*.test.mjs and the console's browser tests. Node 18.20+ only, no
// dependencies (global fetch, node:net, node:child_process).
//
//   import { startTokend, loginAdmin, bearerClient, rawRequest } from '../lib/tokend.mjs';
//   const server = await startTokend();          // fresh data dir, bootstrap admin password
//   const admin = await loginAdmin(server);      // cookie session + X-CSRF-Token
//   const res = await admin.post('/api/v1/departments', { name: 'A', parent_id: root });
//   res.status, res.headers (a fetch Headers), res.json (parsed or null), res.text
//   await server.stop();                          // SIGTERM, waits, asserts exit code 0
//
// Environment:
//   TOKEND_BIN      the tokend binary (required; CTest passes $<TARGET_FILE:tokend>)
//   TOKEND_TEST_DB  optional store URL passed as `--db`; it must name an empty database, since
//                   bootstrap only happens on an empty store (so: one server per URL)
//   TOKEND_PG_FIXTURE_DIR  (the PostgreSQL run, CTest fixture `postgres` of tests/pg) each
//                   server gets a fresh empty database from `tests/pg/pg_fixture.sh newdb`
//   TOKEND_TEST_KEEP=1  keep the temporary data dirs (debugging)
//   TOKEND_TEST_VERBOSE=1  echo the server's output to stderr
//
// startTokend() returns:
//   { url, host, port, adminPassword, dataDir, dbUrl (null = SQLite), proc,
//     stop(): Promise<{code, signal}>   (asserts a clean exit 0 after SIGTERM),
//     alive(): boolean                  (the process has not exited),
//     output(): string                  (stdout + stderr so far: for "no secrets in logs"),
//     cli(args): Promise<{code, stdout, stderr}>  (runs `tokend <args>` on the same store) }
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

const LISTEN_RE = /tokend listening on (http:\/\/([0-9.]+|\[[0-9a-f:]+\]):(\d+))/;
// ASan builds start slowly (and Argon2id for the bootstrap admin costs time on 2 cores).
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
export const REQUEST_TIMEOUT_MS = 20_000;

export function tokendBin() {
  const bin = process.env.TOKEND_BIN;
  if (!bin) throw new Error('TOKEND_BIN is not set (path to the tokend binary)');
  return bin;
}

/**
 * The store URL for a new server: TOKEND_TEST_DB as given; else, with TOKEND_PG_FIXTURE_DIR (the
 * CTest `postgres` fixture of tests/pg), a fresh empty database from `pg_fixture.sh newdb`;
 * else null (SQLite in the data dir).
 */
function newStoreUrl() {
  if (process.env.TOKEND_TEST_DB) return process.env.TOKEND_TEST_DB;
  if (process.env.TOKEND_PG_FIXTURE_DIR) {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'pg', 'pg_fixture.sh');
    return execFileSync(script, ['newdb', process.env.TOKEND_PG_FIXTURE_DIR], { encoding: 'utf8' }).trim();
  }
  return null;
}

/**
 * Starts `tokend serve --listen 127.0.0.1:0 --data-dir <fresh temp dir>`.
 * options: { adminPassword, args: [...extra flags], env: {...extra env}, dataDir }
 */
export async function startTokend(options = {}) {
  const bin = tokendBin();
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'tokend-test-'));
  const adminPassword = options.adminPassword ?? `Adm1n-${randomBytes(12).toString('hex')}`;
  const dbUrl = options.dbUrl ?? newStoreUrl();
  const dbArgs = dbUrl ? ['--db', dbUrl] : [];
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...dbArgs, ...(options.args ?? [])];
  const env = { ...process.env, TOKEND_BOOTSTRAP_ADMIN_PASSWORD: adminPassword, ...(options.env ?? {}) };
  // Flags win over these, but keep the environment from steering the server elsewhere.
  delete env.TOKEND_LISTEN;
  delete env.TOKEND_DATA_DIR;
  delete env.TOKEND_DB;

  const proc = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exit = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); });
  });
  const verbose = process.env.TOKEND_TEST_VERBOSE === '1';
  const onData = (chunk) => {
    const s = chunk.toString('utf8');
    out += s;
    if (verbose) process.stderr.write(s);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`tokend did not print "tokend listening on" within ${START_TIMEOUT_MS} ms; output:\n${out}`));
    }, START_TIMEOUT_MS);
    const check = () => {
      const m = LISTEN_RE.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    proc.stdout.on('data', check);
    proc.stderr.on('data', check);
    exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`tokend exited before listening (code ${e.code}, signal ${e.signal}); output:\n${out}`));
    });
  });
  const u = new URL(url);

  let stopped = null;
  const server = {
    url,
    host: u.hostname,
    port: Number(u.port),
    adminPassword,
    dataDir,
    dbUrl,
    proc,
    alive: () => exit === null,
    output: () => out,
    exited,
    /** SIGTERM, wait, assert exit code 0. Idempotent. */
    async stop() {
      if (stopped) return stopped;
      stopped = (async () => {
        if (exit === null) proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
        const e = await exited;
        clearTimeout(timer);
        if (process.env.TOKEND_TEST_KEEP !== '1' && !options.dataDir) {
          rmSync(dataDir, { recursive: true, force: true });
        }
        assert.equal(e.signal, null, `tokend died from signal ${e.signal}; output:\n${out.slice(-4000)}`);
        assert.equal(e.code, 0, `tokend exited with ${e.code} after SIGTERM; output:\n${out.slice(-4000)}`);
        return e;
      })();
      return stopped;
    },
    /** Runs `tokend <args...> --data-dir <same dir>` (and --db) and collects its output. */
    cli(cliArgs, cliOptions = {}) {
      return runCli([...cliArgs, '--data-dir', dataDir, ...dbArgs], cliOptions);
    },
  };
  return server;
}

/** Runs the tokend binary with `args`; resolves {code, stdout, stderr}. */
export function runCli(args, { env = {}, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(tokendBin(), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => { stdout += c; });
    proc.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`tokend ${args[0]} timed out`)); }, timeoutMs);
    proc.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/**
 * Creates a second tenant through the CLI on the server's store:
 *   tokend tenant create <name> --admin-username admin --admin-password <pw> --data-dir <dir>
 * Resolves { name, adminPassword, result }.
 */
export async function createTenant(server, name, adminPassword = `Ten-${randomBytes(12).toString('hex')}`) {
  const result = await server.cli(['tenant', 'create', name, '--admin-username', 'admin',
    '--admin-password', adminPassword]);
  assert.equal(result.code, 0, `tokend tenant create failed: ${result.stdout}\n${result.stderr}`);
  return { name, adminPassword, result };
}

// ---------------------------------------------------------------------------------------------
// HTTP clients

/**
 * One request. `body` is sent as JSON unless `rawBody` (string/Buffer) is given.
 * Resolves { status, headers, text, json } (json = parsed body or null).
 */
export async function request(baseUrl, method, pathname, opts = {}) {
  const headers = { ...(opts.headers ?? {}) };
  let body;
  if (opts.rawBody !== undefined) {
    body = opts.rawBody;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(new URL(pathname, baseUrl), {
    method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs ?? REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let json = null;
  const ct = res.headers.get('content-type') ?? '';
  if (text && /json/.test(ct)) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  observe(method, pathname, res.status, json);
  return { status: res.status, headers: res.headers, text, json, res };
}

/**
 * What the tests saw, for the end-of-file checks: every 5xx answer other than 503 (never
 * acceptable), and every secret that crossed the wire (must never appear in the server's logs).
 */
export const observed = { serverErrors: [], secrets: new Set() };
export function rememberSecret(s) { if (s) observed.secrets.add(s); }
function observe(method, pathname, status, json) {
  if (status >= 500 && status !== 503) observed.serverErrors.push(`${method} ${pathname} -> ${status}`);
  if (json && typeof json.token === 'string' && json.token.length >= 8) rememberSecret(json.token);
}

/** All Set-Cookie header values (Node 18 and 20). */
export function setCookies(headers) {
  if (typeof headers.getSetCookie === 'function') return headers.getSetCookie();
  const v = headers.get('set-cookie');
  return v ? v.split(/,(?=\s*[A-Za-z0-9_.-]+=)/) : [];
}

class Client {
  constructor(baseUrl, defaults = {}) {
    this.baseUrl = baseUrl;
    this.defaults = defaults; // { headers }
  }
  request(method, pathname, opts = {}) {
    return request(this.baseUrl, method, pathname, {
      ...opts, headers: { ...(this.defaults.headers ?? {}), ...(opts.headers ?? {}) },
    });
  }
  get(p, opts) { return this.request('GET', p, opts); }
  delete(p, opts) { return this.request('DELETE', p, opts); }
  post(p, body, opts = {}) { return this.request('POST', p, { ...opts, body }); }
  patch(p, body, opts = {}) { return this.request('PATCH', p, { ...opts, body }); }
}

/** A client that sends `Authorization: Bearer <token>`. */
export function bearerClient(serverOrUrl, token) {
  const url = typeof serverOrUrl === 'string' ? serverOrUrl : serverOrUrl.url;
  const c = new Client(url, { headers: { Authorization: `Bearer ${token}` } });
  c.token = token;
  return c;
}

/** A client without credentials. */
export function anonClient(serverOrUrl) {
  return new Client(typeof serverOrUrl === 'string' ? serverOrUrl : serverOrUrl.url);
}

/**
 * Console sign-in: POST /api/v1/auth/login. Resolves a client sending the session cookie and
 * X-CSRF-Token, with .csrf, .cookie (name=value), .user and .loginResponse.
 */
export async function login(serverOrUrl, { tenant = 'default', username = 'admin', password }) {
  const url = typeof serverOrUrl === 'string' ? serverOrUrl : serverOrUrl.url;
  const res = await request(url, 'POST', '/api/v1/auth/login', { body: { tenant, username, password } });
  assert.equal(res.status, 200, `login of ${username}@${tenant} failed: ${res.status} ${res.text}`);
  const cookie = setCookies(res.headers)
    .map((c) => c.split(';')[0].trim())
    .find((c) => /^(__Host-)?tokend_session=/.test(c));
  assert.ok(cookie, `login set no tokend_session cookie: ${JSON.stringify(setCookies(res.headers))}`);
  assert.ok(res.json && typeof res.json.csrf_token === 'string' && res.json.csrf_token.length > 0,
    `login answered no csrf_token: ${res.text}`);
  const c = new Client(url, { headers: { Cookie: cookie, 'X-CSRF-Token': res.json.csrf_token } });
  c.cookie = cookie;
  c.csrf = res.json.csrf_token;
  c.user = res.json.user;
  c.loginResponse = res;
  return c;
}

/** Console sign-in as the bootstrap admin of tenant "default". */
export function loginAdmin(server) {
  return login(server, { tenant: 'default', username: 'admin', password: server.adminPassword });
}

/**
 * Raw bytes over node:net, for malformed HTTP. `data` is a string (sent as latin1 so every
 * byte 0x00–0xFF can be written) or a Buffer. Resolves
 *   { status (number|null), headers ({lower-case name: value}), body, raw, closed }
 * status is null when the server closed the connection without an answer.
 */
export function rawRequest(serverOrUrl, data, { timeoutMs = 10_000 } = {}) {
  const u = new URL(typeof serverOrUrl === 'string' ? serverOrUrl : serverOrUrl.url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port) });
    const chunks = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...parseRawResponse(Buffer.concat(chunks)), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', () => sock.write(Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1')));
    sock.on('data', (c) => {
      chunks.push(c);
      const parsed = parseRawResponse(Buffer.concat(chunks));
      if (parsed.status >= 500 && parsed.status !== 503) observed.serverErrors.push(`raw request -> ${parsed.status}`);
      if (parsed.complete) finish(false);
    });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e) => {
      // A reset after (or instead of) an answer is a legitimate way to refuse garbage.
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') finish(true);
      else if (!done) { done = true; clearTimeout(timer); reject(e); }
    });
  });
}

function parseRawResponse(buf) {
  const raw = buf.toString('latin1');
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: null, headers: {}, body: '', raw, complete: false };
  const lines = raw.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = raw.slice(end + 4);
  let complete = false;
  if (headers['content-length'] !== undefined) complete = Buffer.byteLength(body, 'latin1') >= Number(headers['content-length']);
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) complete = body.endsWith('0\r\n\r\n');
  else if (m && (m[1] === '204' || m[1] === '304' || m[1][0] === '1')) complete = true;
  return { status: m ? Number(m[1]) : null, headers, body, raw, complete };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** YYYY-MM-DD, `days` from today (UTC). */
export function dateFromToday(days) {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/** RFC 3339 UTC whole seconds, `seconds` from now. */
export function timeFromNow(seconds) {
  return new Date(Math.floor(Date.now() / 1000) * 1000 + seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** Polls `fn` (async, returns a truthy value when done) until `timeoutMs`; returns its value. */
export async function waitFor(fn, { timeoutMs = 15_000, intervalMs = 200, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(str) {
  let c = 0xffffffff;
  for (const b of Buffer.from(str, 'latin1')) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
/** The 6-character base62 checksum of DESIGN.md §2. */
export function tokenChecksum(s) {
  let v = crc32(s);
  let out = '';
  for (let i = 0; i < 6; i++) { out = BASE62[v % 62] + out; v = Math.floor(v / 62); }
  return out;
}
/** A well-formed token (valid checksum) that tokend never issued. */
export function wellFormedUnknownToken(prefix = 'tka_') {
  let body = '';
  const rnd = randomBytes(43);
  for (const b of rnd) body += BASE62[b % 62];
  return prefix + body + tokenChecksum(prefix + body);
}

/** Asserts an RFC 9457 problem answer with `status`. Returns the problem object. */
export function assertProblem(res, status, msg = '') {
  assert.equal(res.status, status, `${msg} expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/,
    `${msg} content-type of a ${status} answer`);
  const p = res.json;
  assert.ok(p && typeof p === 'object', `${msg} problem body is JSON: ${res.text}`);
  assert.equal(p.status, status, `${msg} problem.status`);
  assert.equal(typeof p.title, 'string', `${msg} problem.title`);
  assert.equal(typeof p.type, 'string', `${msg} problem.type`);
  assert.ok('detail' in p, `${msg} problem.detail present (null allowed)`);
  return p;
}

/** Asserts a 422 whose errors[] names `field`. */
export function assertFieldError(res, field, msg = '') {
  const p = assertProblem(res, 422, msg);
  assert.ok(Array.isArray(p.errors), `${msg} 422 has errors[]: ${res.text}`);
  assert.ok(p.errors.some((e) => e.field === field && typeof e.message === 'string' && e.message.length > 0),
    `${msg} errors[] names field ${field}: ${res.text}`);
  return p;
}

/** Parses a WWW-Authenticate Bearer challenge into { scheme, params }. */
export function parseChallenge(value) {
  if (!value) return null;
  const m = /^(\S+)\s*(.*)$/.exec(value.trim());
  const params = {};
  const re = /([A-Za-z_]+)="([^"]*)"/g;
  let p;
  while ((p = re.exec(m[2]))) params[p[1]] = p[2];
  return { scheme: m[1], params };
}

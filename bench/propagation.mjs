// Propagation of a revocation between two tokend instances on one PostgreSQL database
// (DESIGN.md §6, docs/performance.md "Propagation"): the time from the acknowledgement of
// DELETE /api/v1/tokens/{id} on instance A to the first 401 from GET /auth/verify on instance B.
//
//   node bench/propagation.mjs URL_A URL_B [COUNT]
//     env BENCH_ADMIN_PASSWORD  the `admin` password of tenant `default` (console login on A)
//     env BENCH_CONCURRENCY     parallel requests while creating the tokens (default 16)
//   bench/propagation.sh does it all: throwaway PostgreSQL, two instances, this script.
//
// Method: COUNT API tokens are created in bulk on A. Then, for each token in turn: verify it on
// B until B answers 204 from its cache (two verifications: the first fills the cache), revoke it
// on A, and poll B back-to-back on one keep-alive connection until it answers 401. B should run
// with a long --cache-ttl so that only the LISTEN/NOTIFY invalidation can make it refuse (the
// script warns when B's refusal could come from an expired entry instead: it cannot tell).
// The figure has the poll's round trip as its resolution (printed as `poll_rtt`). Bounded: each
// token is polled for at most POLL_LIMIT_MS; a token never refused within it counts as `lost`.
//
// Prints the distribution (ms) and one RESULT line:
//   RESULT revocations=<n> p50_ms=… p99_ms=… max_ms=… lost=<n> poll_rtt_p50_ms=…
import http from 'node:http';

const [urlA, urlB, countText] = process.argv.slice(2);
const count = Number(countText ?? 1000);
const password = process.env.BENCH_ADMIN_PASSWORD;
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const POLL_LIMIT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
if (!urlA || !urlB || !(count > 0) || !password) {
  console.error('usage: BENCH_ADMIN_PASSWORD=... node bench/propagation.mjs URL_A URL_B [COUNT]');
  process.exit(2);
}

const agentA = new http.Agent({ keepAlive: true, maxSockets: concurrency });
// B is polled on a single connection: no connection setup inside the measured interval.
const agentB = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(base, agent, method, pathname, { headers = {}, body } = {}) {
  const u = new URL(pathname, base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent, timeout: REQUEST_TIMEOUT_MS,
      headers: { ...headers, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathname} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

// Console login on A: a session cookie plus the CSRF token.
const login = await call(urlA, agentA, 'POST', '/api/v1/auth/login',
  { body: { tenant: 'default', username: 'admin', password } });
if (login.status !== 200) throw new Error(`login on A: ${login.status} ${login.text}`);
const cookie = [].concat(login.headers['set-cookie'] ?? []).map((c) => c.split(';')[0])
  .find((c) => /tokend_session=/.test(c));
const adminHeaders = { Cookie: cookie, 'X-CSRF-Token': login.json.csrf_token };
const me = await call(urlA, agentA, 'GET', '/api/v1/me', { headers: adminHeaders });
if (me.status !== 200) throw new Error(`me on A: ${me.status} ${me.text}`);

// 1. Tokens in bulk on A.
const expires = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
const tokens = new Array(count);
let next = 0;
const createStarted = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < count) {
    const i = next++;
    const res = await call(urlA, agentA, 'POST', '/api/v1/tokens', {
      headers: adminHeaders,
      body: { name: `propagation ${i}`, expires_at: expires, user_id: me.json.user.id,
        department_id: me.json.department.id, user_type_id: me.json.user_type.id },
    });
    if (res.status !== 201) throw new Error(`create token ${i}: ${res.status} ${res.text}`);
    tokens[i] = { id: res.json.id, secret: res.json.token };
  }
}));
const createSeconds = (performance.now() - createStarted) / 1000;
console.log(`created ${count} tokens on A in ${createSeconds.toFixed(1)} s`);

// 2. One revocation at a time.
const verifyOnB = (secret) => call(urlB, agentB, 'GET', '/auth/verify', { headers: { Authorization: `Bearer ${secret}` } });
const latencies = [];
const pollRtts = [];
let lost = 0;
let firstPollRefusals = 0;
const runStarted = performance.now();
for (const tok of tokens) {
  // Warm: the first verification on B fills its cache, the second is a hit.
  for (let i = 0; i < 2; i++) {
    const warm = await verifyOnB(tok.secret);
    if (warm.status !== 204) throw new Error(`token ${tok.id} does not verify on B: ${warm.status} ${warm.text}`);
  }
  const del = await call(urlA, agentA, 'DELETE', `/api/v1/tokens/${tok.id}`, { headers: adminHeaders });
  const acked = performance.now();
  if (del.status !== 204) throw new Error(`DELETE ${tok.id} on A: ${del.status} ${del.text}`);
  let refusedAt = null;
  let polls = 0;
  while (performance.now() - acked < POLL_LIMIT_MS) {
    const sent = performance.now();
    const res = await verifyOnB(tok.secret);
    const got = performance.now();
    polls++;
    pollRtts.push(got - sent);
    if (res.status === 401) { refusedAt = got; break; }
    if (res.status !== 204) throw new Error(`verify ${tok.id} on B: ${res.status} ${res.text}`);
  }
  if (refusedAt === null) { lost++; continue; }
  if (polls === 1) firstPollRefusals++;
  latencies.push(refusedAt - acked);
}
const runSeconds = (performance.now() - runStarted) / 1000;

const sorted = (xs) => [...xs].sort((x, y) => x - y);
const pct = (xs, p) => (xs.length ? xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] : NaN);
const s = sorted(latencies);
const r = sorted(pollRtts);
const f = (x) => x.toFixed(2);
console.log(`revocations measured: ${s.length} (lost: ${lost}) in ${runSeconds.toFixed(1)} s`);
console.log(`ack on A -> first 401 on B (ms): min ${f(s[0])}  p50 ${f(pct(s, 50))}  p90 ${f(pct(s, 90))}  ` +
  `p99 ${f(pct(s, 99))}  max ${f(s[s.length - 1])}`);
console.log(`poll round trip on B (ms): p50 ${f(pct(r, 50))}  p99 ${f(pct(r, 99))}; ` +
  `refused on the first poll: ${firstPollRefusals} of ${s.length}`);
console.log(`RESULT revocations=${s.length} p50_ms=${f(pct(s, 50))} p99_ms=${f(pct(s, 99))} ` +
  `max_ms=${f(s[s.length - 1])} lost=${lost} poll_rtt_p50_ms=${f(pct(r, 50))} create_seconds=${createSeconds.toFixed(1)}`);
agentA.destroy();
agentB.destroy();
process.exit(lost === 0 ? 0 : 1);

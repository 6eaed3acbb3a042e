// Seeds API tokens through the public API, as fast as the server accepts them, and measures
// the creation rate. Usage:
//   node bench/seed.mjs URL COUNT OUT_FILE     (env BENCH_ADMIN_TOKEN: an Administrator token)
// Writes one token string per line to OUT_FILE and their ids to OUT_FILE.ids; prints
//   RESULT create_rate=<tokens/s> created=<n> failed=<n> seconds=<s>
import { writeFileSync } from 'node:fs';

const [url, countText, outFile] = process.argv.slice(2);
const count = Number(countText);
const admin = process.env.BENCH_ADMIN_TOKEN;
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
if (!url || !count || !outFile || !admin) {
  console.error('usage: BENCH_ADMIN_TOKEN=... node seed.mjs URL COUNT OUT_FILE');
  process.exit(2);
}
const headers = { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' };

const me = await (await fetch(`${url}/api/v1/me`, { headers })).json();
const expires = new Date(Date.now() + 300 * 86_400_000).toISOString().slice(0, 10);
const body = (i) => JSON.stringify({
  name: `bench token ${i}`,
  expires_at: expires,
  user_id: me.user.id,
  department_id: me.department.id,
  user_type_id: me.user_type.id,
});

const tokens = new Array(count);
const ids = new Array(count);
let next = 0;
let failed = 0;
const started = process.hrtime.bigint();
async function worker() {
  while (next < count) {
    const i = next++;
    const response = await fetch(`${url}/api/v1/tokens`, { method: 'POST', headers, body: body(i) });
    if (response.status !== 201) {
      failed++;
      await response.text();
      continue;
    }
    const created = await response.json();
    tokens[i] = created.token;
    ids[i] = created.id;
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
writeFileSync(outFile, tokens.filter(Boolean).join('\n') + '\n');
writeFileSync(`${outFile}.ids`, ids.filter(Boolean).join('\n') + '\n');
console.log(`RESULT create_rate=${Math.round((count - failed) / seconds)} created=${count - failed} ` +
  `failed=${failed} seconds=${seconds.toFixed(2)}`);

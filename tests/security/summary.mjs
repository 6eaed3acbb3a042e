// tests/security/summary.mjs — figures of the security suite, for scripts/security_report.sh.
//
//   const sum = summary('attacks');      // one per test file
//   sum.tally('headers');                // one case tried in a category
//   sum.set('kill9_runs', 20);           // any other figure
//   await sum.write();                   // build/test-output/security/attacks.json
//
// The directory is $TOKEND_SECURITY_OUT (CTest sets it to <build>/test-output/security), else
// build/test-output/security under the repository.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { observed } from '../lib/tokend.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const outDir = process.env.TOKEND_SECURITY_OUT ?? path.join(repo, 'build', 'test-output', 'security');

export function summary(name) {
  const data = { suite: name, categories: {}, figures: {}, notes: [], started_at: new Date().toISOString() };
  return {
    data,
    tally(category, n = 1) {
      data.categories[category] = (data.categories[category] ?? 0) + n;
    },
    set(key, value) { data.figures[key] = value; },
    add(key, n = 1) { data.figures[key] = (data.figures[key] ?? 0) + n; },
    note(text) { data.notes.push(text); },
    write(extra = {}) {
      mkdirSync(outDir, { recursive: true });
      const out = {
        ...data,
        ...extra,
        server_errors_5xx: observed.serverErrors.length,
        server_errors: observed.serverErrors.slice(0, 20),
        finished_at: new Date().toISOString(),
      };
      writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify(out, null, 2)}\n`);
      return out;
    },
  };
}

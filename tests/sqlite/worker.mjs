// The Node worker of the cross-language SQLite recording test (crosslang.sh):
// N operations through retry(), each failing once (HTTP 503) and then
// succeeding, recorded into one SQLite state file that the Python and Go
// workers and the CLI write at the same time.
//
//   node worker.mjs STATE POLICY READY_FILE GO_FILE OUT_FILE N
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { loadPolicyFile, retry } from '../../node/src/index.js';
import { SqliteRecorder } from '../../node/src/sqlite.js';

const [state, policyPath, ready, go, out, n] = process.argv.slice(2);
if (n === undefined) throw new Error('usage: node worker.mjs STATE POLICY READY_FILE GO_FILE OUT_FILE N');
const policy = await loadPolicyFile(policyPath);
const recorder = new SqliteRecorder({ path: state, pipeline: 'crosslang' });
let lost = 0;
process.on('warning', (w) => {
  if (w.name !== 'BackstopRecordWarning') return;
  lost++;
  console.error(w.message);
});
writeFileSync(ready, '');
const deadline = Date.now() + 120_000;
while (!existsSync(go)) {
  if (Date.now() > deadline) throw new Error('worker.mjs: no go signal within 2 minutes');
  await sleep(5);
}
let attempts = 0;
for (let i = 0; i < Number(n); i++) {
  let calls = 0;
  await retry(
    () => {
      attempts++;
      if (++calls === 1) throw Object.assign(new Error('503 from the dependency'), { status: 503 });
    },
    { policy, recorder, step: 'crosslang-step', runId: `node-${i}` },
  );
}
recorder.close();
await new Promise((resolve) => setImmediate(resolve));
writeFileSync(out, JSON.stringify({ worker: 'node', operations: Number(n), attempts, lost }));

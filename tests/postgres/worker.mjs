// The Node worker of the cross-language breaker test (crosslang.sh): call a
// dependency that always fails (HTTP 503) through retry() with the breaker in
// PostgreSQL, operation after operation, until the shared breaker refuses; each
// operation is recorded there too (PostgresRecorder, pipeline "crosslang").
//
//   node worker.mjs URL DEPENDENCY POLICY READY_FILE GO_FILE OUT_FILE
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { loadPolicyFile, retry, RetryError } from '../../node/src/index.js';
import { PostgresRecorder, PostgresStore } from '../../node/src/postgres.js';

const [url, dependency, policyPath, ready, go, out] = process.argv.slice(2);
if (out === undefined) throw new Error('usage: node worker.mjs URL DEPENDENCY POLICY READY_FILE GO_FILE OUT_FILE');
const policy = await loadPolicyFile(policyPath);
const store = new PostgresStore({ connectionString: url, max: 1 });
const recorder = new PostgresRecorder({ store, pipeline: 'crosslang' });
await store.get(dependency); // connected, schema checked
writeFileSync(ready, '');
const deadline = Date.now() + 120_000;
while (!existsSync(go)) {
  if (Date.now() > deadline) throw new Error('worker.mjs: no go signal within 2 minutes');
  await sleep(5);
}
let attempts = 0;
const outcomes = [];
for (let i = 0; i < 50; i++) {
  try {
    await retry(
      () => {
        attempts++;
        throw Object.assign(new Error('503 from the shared dependency'), { status: 503 });
      },
      { policy, sharedState: store, dependency, recorder },
    );
  } catch (error) {
    if (!(error instanceof RetryError)) throw error;
    outcomes.push(error.reason);
    if (error.reason === 'circuit-open') break;
  }
}
writeFileSync(out, JSON.stringify({ worker: 'node', attempts, outcomes }));
await store.end();

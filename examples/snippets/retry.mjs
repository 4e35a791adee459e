// Read a file from object storage, retrying 503s under the nightly policy.
// From the repository root, after installing the package (see node/README.md):
//   DATA_URL=http://... node examples/snippets/retry.mjs
import { loadPolicyFile, retry } from '@backstop/policy';

const policy = await loadPolicyFile('examples/nightly.toml');
const url = process.env.DATA_URL ?? 'http://127.0.0.1:8000/part-0.csv';
const runId = 'nightly-2024-01-01';

const body = await retry(
  async ({ signal }) => {
    const response = await fetch(url, { signal });
    // fetch resolves on HTTP errors: throw one carrying the status, which backstop classifies.
    if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status });
    return response.text();
  },
  { policy, idempotencyKey: `${runId}/extract` },
);
console.log(body);
console.log(policy.classifyError(new Error('boom', { cause: { code: 'ECONNRESET' } })));

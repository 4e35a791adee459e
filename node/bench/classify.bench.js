// One classification with a loaded policy, many times: `node bench/classify.bench.js`.
// Not a test (no timing assertions); prints ns/op per case.
import { defaultPolicy, failureFromError, loadPolicy } from '../src/index.js';

const STORAGE = `
version = 1

[[classify.rules]]
id = "throttled"
class = "transient"
http_status = 429

[[classify.rules]]
id = "server-errors"
class = "transient"
http_status = "5xx"
reason = "object storage hiccup; safe to retry"

[[classify.rules]]
id = "client-errors"
class = "permanent"
http_status = "4xx"
`;

const storage = loadPolicy(STORAGE);
const builtin = defaultPolicy();
const fetchError = new TypeError('fetch failed', {
  cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' }),
});

const cases = [
  ['classify {httpStatus: 503}, user policy', () => storage.classify({ httpStatus: 503 })],
  ['classify {httpStatus: 503}, built-in rules', () => builtin.classify({ httpStatus: 503 })],
  [
    'classify {errorTypes, errorCode, message}, built-in rules',
    () => builtin.classify({ errorTypes: ['TypeError', 'Error'], errorCode: 'ECONNRESET', message: 'fetch failed' }),
  ],
  ['classify {} (no rule matches), built-in rules', () => builtin.classify({})],
  ['classifyError(fetch failed <- ECONNRESET), built-in rules', () => builtin.classifyError(fetchError)],
  ['failureFromError only (no engine call)', () => failureFromError(fetchError)],
];

const iterations = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const rounds = 5;
let sink;

console.log(`node ${process.version}, ${iterations} iterations x ${rounds} rounds, best round reported`);
for (const [name, run] of cases) {
  for (let i = 0; i < 20_000; i++) sink = run(); // warm up: tier up the JIT and the guest's code
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  console.log(`${best.toFixed(0).padStart(7)} ns/op  ${name}`);
}
if (sink === undefined) throw new Error('unreachable');

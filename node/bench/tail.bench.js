// Reading and redacting a 50-line tail (tests/bench/tail-50.txt, the same in
// every host): `node bench/tail.bench.js`. Not a test; prints µs/op.
import { readFileSync } from 'node:fs';
import { defaultPolicy, readLog } from '../src/index.js';

const text = readFileSync(new URL('../../tests/bench/tail-50.txt', import.meta.url), 'utf8');
const policy = defaultPolicy();
const cases = [
  ['readLog(50-line tail)', () => readLog({ text, exitCode: 1 })],
  ['policy.redact(50-line tail)', () => policy.redact(text)],
];

const iterations = Number(process.env.BENCH_ITERATIONS ?? 2_000);
const rounds = 5;
let sink;
console.log(`node ${process.version}, ${iterations} iterations x ${rounds} rounds, best round reported`);
for (const [name, run] of cases) {
  for (let i = 0; i < 200; i++) sink = run();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  console.log(`${(best / 1000).toFixed(1).padStart(8)} µs/op  ${name}`);
}
if (sink === undefined) throw new Error('unreachable');

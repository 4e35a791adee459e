// Runs every vector in tests/vectors (format: tests/README.md) through the public API.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { loadPolicy, PolicyError, PolicyLoadError } from '../src/index.js';
import { failureFromJson, pick, suites } from './helpers.js';

const NULL_POLICY = { format: 'toml', source: '' };
const all = suites();

it('the corpus holds every vector (135)', () => {
  const total = all.reduce((sum, [, suite]) => sum + suite.vectors.length, 0);
  assert.ok(all.length > 0);
  assert.ok(total >= 135, `only ${total} vectors found`);
});

for (const [file, suite] of all) {
  describe(file, () => {
    for (const vector of suite.vectors) {
      const spec = ('policy' in vector ? vector.policy : suite.policy) ?? NULL_POLICY;
      const load = () => loadPolicy(spec.source, { format: spec.format });

      it(vector.name, () => {
        if ('expect_errors' in vector) {
          assert.ok(!('failure' in vector), 'a load-error vector has no failure');
          let thrown;
          assert.throws(load, (err) => (thrown = err) instanceof PolicyLoadError);
          assert.ok(thrown.errors.every((e) => e instanceof PolicyError));
          const actual = thrown.errors.map((e) => e.toJSON());
          assert.equal(actual.length, vector.expect_errors.length, JSON.stringify(actual));
          vector.expect_errors.forEach((expected, i) => assert.deepEqual(pick(actual[i], expected), expected));
          return;
        }
        const policy = load();
        try {
          const failure = failureFromJson(vector.failure);
          if ('expect_error' in vector) {
            let thrown;
            assert.throws(() => policy.classify(failure), (err) => (thrown = err) instanceof PolicyError);
            assert.deepEqual(pick(thrown.toJSON(), vector.expect_error), vector.expect_error);
          } else {
            assert.ok('expect' in vector, `vector ${vector.name} has no expectation`);
            assert.deepEqual(pick(policy.classify(failure), vector.expect), vector.expect);
          }
        } finally {
          policy.close();
        }
      });
    }
  });
}

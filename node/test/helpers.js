import { readdirSync, readFileSync } from 'node:fs';

export const VECTORS_DIR = new URL('../../tests/vectors/', import.meta.url);

/** Every suite in tests/vectors, as [file name, parsed suite]. */
export function suites() {
  return readdirSync(VECTORS_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => [name, JSON.parse(readFileSync(new URL(name, VECTORS_DIR), 'utf8'))]);
}

const CAMEL = {
  http_status: 'httpStatus',
  grpc_code: 'grpcCode',
  exit_code: 'exitCode',
  signal: 'signal',
  error_types: 'errorTypes',
  error_bases: 'errorBases',
  error_code: 'errorCode',
  message: 'message',
};

/** Canonical (snake_case) failure JSON -> the JS Failure. Unknown keys are an error in the corpus. */
export function failureFromJson(json) {
  const failure = {};
  for (const [key, value] of Object.entries(json)) {
    if (!(key in CAMEL)) throw new Error(`vector failure has an unknown key ${key}`);
    failure[CAMEL[key]] = value;
  }
  return failure;
}

/** The subset of `actual` named by `expected`'s keys (the corpus comparison rule). */
export function pick(actual, expected) {
  return Object.fromEntries(Object.keys(expected).map((key) => [key, actual[key]]));
}

// Compiled by `tsc -p test/types` in `npm test`: the hand-written index.d.ts must
// accept real usage and reject misuse (each @ts-expect-error must be an error).
import {
  defaultPolicy,
  failureFromError,
  GuestTrapError,
  loadPolicy,
  loadPolicyFile,
  loadPolicyFileSync,
  Policy,
  PolicyError,
  PolicyLoadError,
  type Classification,
  type ErrorCode,
  type Failure,
  type FailureClass,
} from '@backstop/policy';

const policy: Policy = loadPolicy('version = 1', { format: 'toml' });
const verdict: Classification = policy.classify({ httpStatus: 503, grpcCode: 14, signal: 'SIGKILL', errorTypes: ['TypeError'] });
const cls: FailureClass = verdict.class;
const rule: string | null = verdict.rule;
const reason: string = verdict.reason;
policy.classifyError(new Error('x'));
policy.classifyError('thrown string');
policy.close();
policy[Symbol.dispose]();
const closed: boolean = policy.closed;
defaultPolicy().classify({});
loadPolicy(new Uint8Array(), { format: 'json' });
loadPolicyFileSync(new URL('file:///p.json'));
const pending: Promise<Policy> = loadPolicyFile('nightly.toml');
const failure: Failure = failureFromError(new Error('x'));
const types: string[] = failureFromError(null).errorTypes;

try {
  loadPolicy('');
} catch (err) {
  if (err instanceof PolicyLoadError) {
    for (const e of err.errors) {
      const code: ErrorCode = e.code;
      const line: number | null = e.line;
      const where: string = `${e.path} ${e.column ?? ''} ${e.describe()}`;
      const json: { code: ErrorCode; line: number | null } = e.toJSON();
      void [code, line, where, json];
    }
  } else if (err instanceof PolicyError || err instanceof GuestTrapError) {
    const message: string = err.message;
    void message;
  }
}

// @ts-expect-error snake_case is the JSON form, not the JS one
policy.classify({ http_status: 503 });
// @ts-expect-error statuses are numbers
policy.classify({ httpStatus: '503' });
// @ts-expect-error YAML is not a policy format
loadPolicy('', { format: 'yaml' });
// @ts-expect-error a rule is string | null, never undefined
const undefinedRule: string | undefined = verdict.rule;
// @ts-expect-error the class is an enum of three strings
const badClass: 'retry' = verdict.class;
// @ts-expect-error Policy is created by loadPolicy, not `new`
new Policy();

void [cls, rule, reason, closed, pending, failure, types, undefinedRule, badClass];

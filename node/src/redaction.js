// Secret redaction's JS-facing values: the text goes in as a string, the
// report comes back as `{ text, redactions: [{ rule, count }] }` (counts as
// numbers, never the secrets). The guest does the work, so Node redacts
// exactly as every other host does.
import { describe } from './planner.js';

/** What the guest puts where a secret was. */
export const REDACTED = '[REDACTED]';

/** Validate the text to redact. */
export function toWitText(text, path = 'text') {
  if (typeof text !== 'string') throw new TypeError(`${path} must be a string, got ${describe(text)}`);
  return text;
}

/** jco's `redaction-report` record as a plain object. */
export function fromWitRedactionReport(raw) {
  return {
    text: raw.text,
    redactions: raw.redactions.map((r) => ({ rule: r.rule, count: r.count })),
  };
}

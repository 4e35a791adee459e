// The failure report `backstop run` reads: each attempt gets a file path in
// BACKSTOP_FAILURE_FILE, and a step that writes its failure there (in the
// canonical JSON form every host shares) is classified on exactly that rather
// than on its logs. The failure is `failureFromError`'s, the same mapping the
// in-process `retry` loop classifies with.
import { randomBytes } from 'node:crypto';
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { messageTail } from './failure.js';
import { failureFromError } from './from-error.js';
import { pushbackFromError } from './pushback.js';

/** The environment variable `backstop run` sets to the attempt's report path. */
export const FAILURE_FILE_ENV = 'BACKSTOP_FAILURE_FILE';

function snakeCase(key) {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The report for `error`: `failureFromError(error)` in canonical JSON form
 * (snake_case keys, absent fields left out), plus `pushback_ms` when the error
 * carries a server pushback.
 * @param {unknown} error
 * @param {{ nowMs?: number }} [options]
 */
export function failureReport(error, { nowMs = Date.now() } = {}) {
  const failure = failureFromError(error);
  const report = {};
  // Every field failureFromError sets, by name, so a new field is reported unchanged.
  for (const [key, value] of Object.entries(failure)) {
    if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue;
    report[snakeCase(key)] = key === 'message' ? messageTail(value) : value;
  }
  const pushback = pushbackFromError(error, nowMs);
  if (pushback !== undefined) report.pushback_ms = pushback;
  return report;
}

/** Write through a temporary file beside `path` and a rename: a reader never sees half a report. */
function writeAtomically(path, text) {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, text, { encoding: 'utf8', flag: 'wx', mode: 0o600 });
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // Never created, or already renamed.
    }
    throw error;
  }
}

/**
 * Write `error` as this attempt's failure report for `backstop run`. `path`
 * defaults to `$BACKSTOP_FAILURE_FILE`; when neither is set nothing is written.
 * Synchronous, so it works in an exit path. Returns whether a report was
 * written; a report that cannot be written is a warning on stderr, never a
 * throw, so reporting cannot hide the failure itself.
 * @param {unknown} error
 * @param {{ path?: string, nowMs?: number }} [options]
 * @returns {boolean}
 */
export function reportFailure(error, { path = process.env[FAILURE_FILE_ENV], nowMs } = {}) {
  if (typeof path !== 'string' || path === '') return false;
  try {
    writeAtomically(path, JSON.stringify(failureReport(error, { nowMs })));
    return true;
  } catch (problem) {
    try {
      process.stderr.write(`backstop: cannot write the failure report ${path}: ${problem?.message ?? problem}\n`);
    } catch {
      // stderr is gone too.
    }
    return false;
  }
}

let installed;

/**
 * Report every uncaught exception (and unhandled rejection, which Node turns
 * into one) with `reportFailure`. It listens on `uncaughtExceptionMonitor`, so
 * Node's own handling is unchanged: the error is printed and the process exits
 * as it would have. Returns a function that removes the listener; installing
 * twice installs once.
 * @returns {() => void}
 */
export function installUncaughtHandler() {
  if (installed === undefined) {
    const listener = (error) => {
      reportFailure(error);
    };
    process.on('uncaughtExceptionMonitor', listener);
    const uninstall = () => {
      process.off('uncaughtExceptionMonitor', listener);
      if (installed === uninstall) installed = undefined;
    };
    installed = uninstall;
  }
  return installed;
}

// Server pushback carried by a caught error: `Retry-After` (RFC 9110 §10.2.3)
// and gRPC's `grpc-retry-pushback-ms` (gRPC A6). Beside from-error.js as Python
// keeps it beside failure_from_exception: reading an error, not deciding.
//
// Results are milliseconds to wait, `Infinity` when the server asked not to
// retry at all (a negative or unparseable grpc-retry-pushback-ms), or
// `undefined` when there is no usable pushback. Every host maps the same
// header text to the same result (tests/helpers/*.json).

/** Cause-chain entries searched for pushback, as for classification. */
const MAX_CAUSE_DEPTH = 64;

/** The server asked not to retry: an infinite pushback. */
export const NEVER = Infinity;

function get(object, key) {
  try {
    return object?.[key];
  } catch {
    return undefined;
  }
}

// `get` for the fixed keys read from every error: one function per key, so
// that each property read stays monomorphic (see from-error.js).
const read = {
  cause: (o) => { try { return o?.cause; } catch { return undefined; } },
  get: (o) => { try { return o?.get; } catch { return undefined; } },
  headers: (o) => { try { return o?.headers; } catch { return undefined; } },
  metadata: (o) => { try { return o?.metadata; } catch { return undefined; } },
  response: (o) => { try { return o?.response; } catch { return undefined; } },
  retryAfterMs: (o) => { try { return o?.retryAfterMs; } catch { return undefined; } },
};

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const LONG_DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const MONTH = `(${MONTHS.join('|')})`;
// RFC 9110 §5.6.7: IMF-fixdate and the two obsolete forms, exactly (case-sensitive,
// as the grammar is). JavaScript has no strict HTTP-date parser (Date.parse
// accepts almost anything), so the grammar is spelled out here.
const IMF_FIXDATE = new RegExp(`^(${DAYS.join('|')}), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(${LONG_DAYS.join('|')}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(${DAYS.join('|')}) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/** Unix ms of an HTTP-date, or undefined when `text` is not one. */
function parseHttpDate(text, nowMs) {
  let weekday, year, month, day, h, m, s;
  let match = IMF_FIXDATE.exec(text);
  if (match) [, weekday, day, month, year, h, m, s] = match;
  else if ((match = RFC850_DATE.exec(text))) {
    [, weekday, day, month, year, h, m, s] = match;
    weekday = weekday.slice(0, 3);
    // RFC 9110: a two-digit year more than 50 years in the future is the
    // most recent past year with those digits.
    const nowYear = new Date(nowMs).getUTCFullYear();
    year = Math.floor(nowYear / 100) * 100 + Number(year);
    if (year > nowYear + 50) year -= 100;
  } else if ((match = ASCTIME_DATE.exec(text))) [, weekday, month, day, h, m, s, year] = match;
  else return undefined;
  const [Y, D, H, M, S] = [Number(year), Number(day), Number(h), Number(m), Number(s)];
  const mon = MONTHS.indexOf(month);
  const at = Date.UTC(Y, mon, D, H, M, S);
  const back = new Date(at);
  // Reject dates that do not exist (31 Feb), out-of-range clock fields (Date.UTC
  // would roll them over) and a weekday that is not the date's.
  if (back.getUTCDate() !== D || back.getUTCMonth() !== mon || H > 23 || M > 59 || S > 59) return undefined;
  if (DAYS[(back.getUTCDay() + 6) % 7] !== weekday) return undefined;
  return at;
}

/**
 * A `Retry-After` value in milliseconds from `nowMs`: delay-seconds
 * (`1*DIGIT`) or an HTTP-date (a date in the past means 0); `undefined` for
 * anything else, including fractions and signs.
 */
export function parseRetryAfter(value, nowMs) {
  if (typeof value === 'number') value = Number.isSafeInteger(value) && value >= 0 ? String(value) : '';
  if (typeof value !== 'string') return undefined;
  const text = value.trim(); // optional whitespace around a field value is not part of it
  if (/^[0-9]+$/.test(text)) return Math.min(Number(text) * 1000, Number.MAX_SAFE_INTEGER);
  const at = parseHttpDate(text, nowMs);
  return at === undefined ? undefined : Math.max(0, Math.ceil(at - nowMs));
}

/**
 * A `grpc-retry-pushback-ms` value: milliseconds, or `NEVER` (Infinity) when
 * it is negative or unparseable, which gRPC A6 defines as "do not retry".
 */
export function parseGrpcPushback(value) {
  const text = String(value).trim();
  if (!/^[0-9]+$/.test(text)) return NEVER;
  return Math.min(Number(text), Number.MAX_SAFE_INTEGER);
}

function headerValue(headers, name) {
  if (headers === null || typeof headers !== 'object') return undefined;
  let value;
  const getter = read.get(headers);
  if (typeof getter === 'function') {
    // fetch Headers, AxiosHeaders, grpc-js Metadata (which returns a list).
    try {
      value = getter.call(headers, name);
    } catch {
      value = undefined;
    }
  }
  if (value == null || (Array.isArray(value) && value.length === 0)) {
    // Node's IncomingHttpHeaders and plain objects; any capitalisation.
    let key;
    try {
      key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    } catch {
      key = undefined;
    }
    value = key === undefined ? undefined : get(headers, key);
  }
  if (Array.isArray(value)) value = value[0];
  if (value instanceof Uint8Array) value = new TextDecoder('latin1').decode(value);
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

function pushbackOf(error, nowMs) {
  const own = read.retryAfterMs(error);
  if (typeof own === 'number' && !Number.isNaN(own) && own >= 0) return own === Infinity ? NEVER : Math.ceil(own);
  for (const headers of [read.headers(read.response(error)), read.headers(error)]) {
    const value = headerValue(headers, 'retry-after');
    if (value !== undefined) {
      const ms = parseRetryAfter(value, nowMs);
      if (ms !== undefined) return ms;
    }
  }
  // grpc-js ServiceError: Metadata#get returns the values of a key.
  for (const metadata of [read.metadata(error), read.headers(read.response(error)), read.headers(error)]) {
    const value = headerValue(metadata, 'grpc-retry-pushback-ms');
    if (value !== undefined) return parseGrpcPushback(value);
  }
  return undefined;
}

/**
 * Server pushback carried by a caught error or any error along its `cause`
 * chain, outermost first: `retryAfterMs` (a number; Infinity means "do not
 * retry"), a `Retry-After` header on `response.headers` or `headers`, or a
 * `grpc-retry-pushback-ms` value in `metadata` or those headers. Milliseconds,
 * `Infinity` (do not retry) or `undefined` (none).
 */
export function pushbackFromError(error, nowMs) {
  const seen = new Set();
  for (let e = error, i = 0; e !== null && typeof e === 'object' && !seen.has(e) && i < MAX_CAUSE_DEPTH; e = read.cause(e), i++) {
    seen.add(e);
    const ms = pushbackOf(e, nowMs);
    if (ms !== undefined) return ms;
  }
  return undefined;
}

/**
 * A diagnostic from the policy engine: a problem in a policy document, or a
 * failure description the classifier cannot interpret. `message` is the engine's
 * wording verbatim, identical in every Backstop host.
 */
export class PolicyError extends Error {
  /**
   * @param {string} code kebab-case error code, e.g. `unknown-field`
   * @param {string} message
   * @param {{ path?: string, line?: number | null, column?: number | null }} [where]
   */
  constructor(code, message, { path = '', line = null, column = null } = {}) {
    super(message);
    this.code = code;
    this.path = path;
    this.line = line;
    this.column = column;
  }

  /** From the WIT `policy-error` record as jco lifts it. */
  static fromWit(raw) {
    return new PolicyError(raw.code, raw.message, {
      path: raw.path,
      line: raw.location?.line ?? null,
      column: raw.location?.column ?? null,
    });
  }

  /** `path (line L, column C): message`, the parts that are known. */
  describe() {
    const where = this.line == null ? '' : `line ${this.line}, column ${this.column}`;
    const prefix = [this.path, where && `(${where})`].filter(Boolean).join(' ');
    return prefix ? `${prefix}: ${this.message}` : this.message;
  }

  /** The canonical JSON form shared by every host's conformance runner. */
  toJSON() {
    return { code: this.code, message: this.message, path: this.path, line: this.line, column: this.column };
  }
}

/** A policy document was refused; `errors` holds every diagnostic, in document order. */
export class PolicyLoadError extends Error {
  /**
   * @param {PolicyError[]} errors
   * @param {{ file?: string }} [options]
   */
  constructor(errors, { file } = {}) {
    const subject = file ? `policy ${file}` : 'policy';
    const count = errors.length === 1 ? '1 error' : `${errors.length} errors`;
    const lines = errors.map((e) => `  ${e.code}: ${e.describe()}`);
    super([`${subject} was refused (${count}):`, ...lines].join('\n'));
    this.errors = errors;
    if (file !== undefined) this.file = file;
  }
}

/**
 * The WebAssembly guest trapped (a bug in the engine, never a bad input). The
 * instance it happened in has been discarded; the next call uses a fresh one and
 * transparently reloads the live policies. `cause` is the original trap.
 */
export class GuestTrapError extends Error {
  constructor(cause) {
    super(`the Backstop engine trapped (${cause?.message ?? cause}); its instance was replaced`, { cause });
  }
}

// On the prototype, like the built-in errors, so instances carry no own `name`.
for (const cls of [PolicyError, PolicyLoadError, GuestTrapError]) {
  Object.defineProperty(cls.prototype, 'name', { value: cls.name, writable: true, configurable: true });
}

// `@backstop/policy/sqlite`: retry({ recorder }) into the backstop CLI's SQLite
// state file. Needs the `better-sqlite3` package (a peer dependency).
import type { RecordedRun, Recorder } from './index.js';

/** The CLI's SQLite schema version (PRAGMA user_version) this recorder writes; another is refused. */
export const SCHEMA_VERSION: 5;

export interface SqliteRecorderOptions {
  /** The state file (`backstop stats --state FILE`); created with the CLI's schema when missing. */
  path: string;
  /** Labels every recorded run (the CLI's `--pipeline`). */
  pipeline?: string;
  /** How long a write waits for another writer. Default: 5000. Writes are synchronous (better-sqlite3): the wait blocks the event loop. */
  busyTimeoutMs?: number;
}

/**
 * `retry({ recorder })`: writes each call, once it has ended, into the CLI's
 * tables, so `backstop stats --state FILE` counts it. A store problem is
 * record()'s error, which retry() turns into a warning (`BackstopRecordWarning`).
 */
export class SqliteRecorder implements Recorder {
  constructor(options: SqliteRecorderOptions);
  record(run: RecordedRun): void;
  /** Close the file (the next record() opens it again). */
  close(): void;
}

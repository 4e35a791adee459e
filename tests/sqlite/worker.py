"""The Python worker of the cross-language SQLite recording test
(crosslang.sh): N operations through backstop.Retrying, each failing once
(HTTP 503) and then succeeding, recorded into one SQLite state file that the
Node and Go workers and the CLI write at the same time.

    worker.py STATE POLICY READY_FILE GO_FILE OUT_FILE N
"""

import json
import logging
import sys
import time
from pathlib import Path

from backstop import Retrying, SqliteRecorder, load_policy_file


class Unavailable(Exception):
    status_code = 503


class Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lost = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lost += 1
        print(record.getMessage(), file=sys.stderr)


def main(state: str, policy_path: str, ready: str, go: str, out: str, n: str) -> None:
    policy = load_policy_file(policy_path)
    recorder = SqliteRecorder(state, pipeline="crosslang")
    count = Count()
    logging.getLogger("backstop").addHandler(count)
    Path(ready).touch()
    deadline = time.monotonic() + 120
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit("worker.py: no go signal within 2 minutes")
        time.sleep(0.005)
    attempts = 0
    for i in range(int(n)):
        calls = 0

        def call() -> None:
            nonlocal attempts, calls
            attempts += 1
            calls += 1
            if calls == 1:
                raise Unavailable("503 from the dependency")

        Retrying(policy, recorder=recorder, step="crosslang-step", run_id=f"python-{i}")(call)
    recorder.close()
    Path(out).write_text(json.dumps({"worker": "python", "operations": int(n), "attempts": attempts,
                                     "lost": count.lost}))


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    main(*sys.argv[1:])

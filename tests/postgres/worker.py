"""The Python worker of the cross-language breaker test (crosslang.sh): call a
dependency that always fails (HTTP 503) through backstop.retry with the breaker
in PostgreSQL, operation after operation, until the shared breaker refuses;
each operation is recorded there too (PostgresRecorder, pipeline "crosslang").

    worker.py URL DEPENDENCY POLICY READY_FILE GO_FILE OUT_FILE
"""

import json
import sys
import time
from pathlib import Path

from backstop import GiveUpReason, RetryError, load_policy_file, retry
from backstop.postgres import PostgresRecorder, PostgresStateStore


class Unavailable(Exception):
    status_code = 503


def main(url: str, dependency: str, policy_path: str, ready: str, go: str, out: str) -> None:
    policy = load_policy_file(policy_path)
    store = PostgresStateStore(url)
    store.get(dependency)  # connected, schema checked
    Path(ready).touch()
    deadline = time.monotonic() + 120
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit("worker.py: no go signal within 2 minutes")
        time.sleep(0.005)
    attempts = 0

    @retry(policy, shared_state=store, dependency=dependency,
           recorder=PostgresRecorder(store=store, pipeline="crosslang"))
    def call() -> None:
        nonlocal attempts
        attempts += 1
        raise Unavailable("503 from the shared dependency")

    outcomes = []
    for _ in range(50):
        try:
            call()
        except RetryError as exc:
            outcomes.append(exc.reason.value)
            if exc.reason is GiveUpReason.CIRCUIT_OPEN:
                break
    Path(out).write_text(json.dumps({"worker": "python", "attempts": attempts, "outcomes": outcomes}))


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    main(*sys.argv[1:])

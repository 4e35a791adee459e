"""The README's Python snippet (examples/snippets/retry.py) runs as written:
against a local HTTP server that answers 503 and then 200, it retries once
and prints the body."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest


class _Flaky(http.server.BaseHTTPRequestHandler):
    requests = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).requests += 1
        status, body = (503, b"try again") if type(self).requests == 1 else (200, b"a,b\n1,2\n")
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_url() -> Iterator[str]:
    _Flaky.requests = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/part-0.csv"
    finally:
        server.shutdown()
        server.server_close()


def test_the_readme_snippet_retries_a_503(repo: Path, flaky_url: str) -> None:
    out = subprocess.run([sys.executable, "examples/snippets/retry.py"], cwd=repo,
                         env={**os.environ, "DATA_URL": flaky_url}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["a,b", "1,2"], out.stdout
    assert "transient" in lines[-1].lower(), out.stdout
    assert _Flaky.requests == 2, "one 503, then the retry"

"""A pipeline step downloading a file with requests from a local server that
answers this attempt with STATUS (until attempt SUCCEED_ON);
`raise_for_status()` raises requests' HTTPError uncaught.

usage: http_get.py STATUS SUCCEED_ON
"""

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

status, succeed_on = int(sys.argv[1]), int(sys.argv[2])
attempt = int(os.environ["BACKSTOP_ATTEMPT"])


class Store(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if attempt >= succeed_on else status
        body = b"PAR1" if code == 200 else b"error"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Store)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}/features/2024-06-01/part-0001.parquet"
response = requests.get(url, timeout=30)
response.raise_for_status()
print(f"downloaded {len(response.content)} bytes")

"""A pipeline step reading a parquet file from object storage with botocore,
against a local S3 stand-in that answers this attempt with an S3 error (until
attempt SUCCEED_ON). botocore's own retries are off, so its ClientError
escapes uncaught, exactly as a step's would.

usage: s3_get.py CODE STATUS SUCCEED_ON [--report]
"""

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
from botocore.config import Config

code, status, succeed_on = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
attempt = int(os.environ["BACKSTOP_ATTEMPT"])
MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "NoSuchKey": "The specified key does not exist.",
    "InternalError": "We encountered an internal error. Please try again.",
}

if "--report" in sys.argv:
    import backstop

    backstop.install_excepthook()


class S3(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if attempt >= succeed_on:
            body = b"PAR1 parquet bytes PAR1"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
        else:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{MESSAGES.get(code, code)}</Message>"
                f"<Key>{self.path}</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), S3)
threading.Thread(target=server.serve_forever, daemon=True).start()
client = botocore.session.get_session().create_client(
    "s3",
    region_name="us-east-1",
    endpoint_url=f"http://127.0.0.1:{server.server_port}",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="secret",
    config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
)
print(f"attempt {attempt}: reading features/2024-06-01/part-0001.parquet", flush=True)
body = client.get_object(Bucket="features", Key="2024-06-01/part-0001.parquet")["Body"].read()
print(f"read {len(body)} bytes")

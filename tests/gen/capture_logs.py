"""Captures real log tails for the log-reader vectors (tests/vectors/logs-*.json).

Runs small Python steps that use the real libraries against local servers on
127.0.0.1 (an http.server answering 503 / S3 SlowDown XML / 404 / 429 and
resetting connections, a grpcio server aborting with status codes), and
records each step's stderr and exit code. The libraries are NOT part of the
repository's test environment: install them into a scratch virtualenv outside
the repository and run this script with it:

    python3 -m venv /tmp/capture-venv
    /tmp/capture-venv/bin/pip install boto3 requests grpcio httpx aiohttp urllib3 \
        google-api-core huggingface_hub azure-core pyarrow
    /tmp/capture-venv/bin/python tests/gen/capture_logs.py > /tmp/captured.json

tests/gen/log_vectors.py turns the captures into vectors (expectations by hand).
Paths, ports and addresses are normalised so a re-capture diffs cleanly.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 18931
GRPC_PORT = 18932
CLOSED_PORT = 18933  # nothing listens here

S3_SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
               b'<Message>Please reduce your request rate.</Message><RequestId>4442587FB7D0A2F9</RequestId>'
               b'<HostId>aGVsbG8=</HostId></Error>')
S3_NOSUCHKEY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                b'<Message>The specified key does not exist.</Message><Key>features/part-0.parquet</Key>'
                b'<RequestId>4442587FB7D0A2F9</RequestId></Error>')
S3_INTERNAL = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
               b'<Message>We encountered an internal error. Please try again.</Message></Error>')
S3_ACCESS = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
             b'<Message>Access Denied</Message></Error>')
AZURE_BUSY = b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>The server is busy.\nRequestId:0c4a5f1e\nTime:2024-05-01T12:00:00.0000000Z</Message></Error>'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        p = self.path
        if "reset" not in p:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
        if "reset" in p:
            # An abortive close (RST) right after reading the request.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            self.close_connection = True
            return
        if "slowdown" in p:
            return self.reply(503, S3_SLOWDOWN, [("Content-Type", "application/xml")])
        if "nosuchkey" in p:
            return self.reply(404, S3_NOSUCHKEY, [("Content-Type", "application/xml")])
        if "internalerror" in p:
            return self.reply(500, S3_INTERNAL, [("Content-Type", "application/xml")])
        if "accessdenied" in p:
            return self.reply(403, S3_ACCESS, [("Content-Type", "application/xml")])
        if "throttle" in p:
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return self.reply(400, body, [("Content-Type", "application/x-amz-json-1.1"),
                                          ("x-amzn-ErrorType", "ThrottlingException")])
        if "azurebusy" in p:
            return self.reply(503, AZURE_BUSY, [("Content-Type", "application/xml"), ("x-ms-error-code", "ServerBusy")])
        if "gcs503" in p:
            body = json.dumps({"error": {"code": 503, "message": "We encountered an internal error. Please try again.",
                                         "errors": [{"message": "We encountered an internal error. Please try again.",
                                                     "domain": "global", "reason": "backendError"}]}}).encode()
            return self.reply(503, body, [("Content-Type", "application/json")])
        if "429" in p:
            return self.reply(429, b"Too Many Requests", [("Retry-After", "7")])
        for code in ("503", "502", "500", "504", "404", "403", "401", "400"):
            if code in p:
                return self.reply(int(code), b"error " + code.encode())
        return self.reply(200, b"ok")

    do_GET = do_PUT = do_POST = do_HEAD = lambda self: self.route()


STEPS = {}


def step(name):
    def register(code):
        STEPS[name] = code
        return code
    return register


BOTO = f"""
import boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:{PORT}", region_name="us-east-1",
                  aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                  config=Config(retries={{"mode": "standard", "total_max_attempts": 2}},
                                s3={{"addressing_style": "path"}}, connect_timeout=1, read_timeout=2))
"""

step("boto3-s3-slowdown")(BOTO + "s3.get_object(Bucket='training-data', Key='slowdown/part-0.parquet')\n")
step("boto3-s3-nosuchkey")(BOTO + "s3.get_object(Bucket='training-data', Key='nosuchkey/part-0.parquet')\n")
step("boto3-s3-head-404")(BOTO + "s3.head_object(Bucket='training-data', Key='404/part-0.parquet')\n")
step("boto3-s3-internalerror")(BOTO + "s3.get_object(Bucket='training-data', Key='internalerror/x')\n")
step("boto3-s3-accessdenied")(BOTO + "s3.get_object(Bucket='training-data', Key='accessdenied/x')\n")
step("boto3-s3-plain-503")(BOTO + "s3.get_object(Bucket='training-data', Key='503/x')\n")
step("boto3-connection-reset")(BOTO + "s3.get_object(Bucket='training-data', Key='reset/x')\n")
step("boto3-endpoint-refused")(BOTO.replace(str(PORT), str(CLOSED_PORT)) +
                               "s3.get_object(Bucket='training-data', Key='x')\n")
step("boto3-kinesis-throttling")(f"""
import boto3
from botocore.config import Config
k = boto3.client("kinesis", endpoint_url="http://127.0.0.1:{PORT}/throttle", region_name="us-east-1",
                 aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                 config=Config(retries={{"mode": "standard", "total_max_attempts": 2}}))
k.put_record(StreamName="events", Data=b"x", PartitionKey="p")
""")
step("boto3-chained-upload")(BOTO + """
def upload():
    try:
        s3.put_object(Bucket='training-data', Key='reset/model.pt', Body=b'x')
    except Exception as e:
        raise RuntimeError("checkpoint upload failed") from e
upload()
""")

REQ = f"import requests\n"
step("requests-503")(REQ + f"requests.get('http://127.0.0.1:{PORT}/503/features.parquet', timeout=2).raise_for_status()\n")
step("requests-404")(REQ + f"requests.get('http://127.0.0.1:{PORT}/404/features.parquet', timeout=2).raise_for_status()\n")
step("requests-429")(REQ + f"requests.get('http://127.0.0.1:{PORT}/429/api/models', timeout=2).raise_for_status()\n")
step("requests-refused")(REQ + f"requests.get('http://127.0.0.1:{CLOSED_PORT}/x', timeout=2)\n")
step("requests-reset")(REQ + f"requests.get('http://127.0.0.1:{PORT}/reset/x', timeout=2)\n")
step("requests-retry-503")(REQ + f"""
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
s = requests.Session()
s.mount('http://', HTTPAdapter(max_retries=Retry(total=2, backoff_factor=0, status_forcelist=[503])))
s.get('http://127.0.0.1:{PORT}/503/x', timeout=2)
""")
step("requests-dns")(REQ + "requests.get('http://nonexistent-host.invalid/x', timeout=2)\n")
step("urllib-404")(f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{PORT}/404/x')\n")
step("urllib-503")(f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{PORT}/503/x')\n")
step("urllib3-maxretry-503")(f"""
import urllib3
http = urllib3.PoolManager(retries=urllib3.Retry(total=1, backoff_factor=0, status_forcelist=[503]))
http.request('GET', 'http://127.0.0.1:{PORT}/503/x')
""")
step("httpx-503")(f"import httpx\nhttpx.get('http://127.0.0.1:{PORT}/503/x').raise_for_status()\n")
step("httpx-404")(f"import httpx\nhttpx.get('http://127.0.0.1:{PORT}/404/x').raise_for_status()\n")
step("httpx-refused")(f"import httpx\nhttpx.get('http://127.0.0.1:{CLOSED_PORT}/x')\n")
step("aiohttp-503")(f"""
import asyncio, aiohttp
async def main():
    async with aiohttp.ClientSession() as s:
        async with s.get('http://127.0.0.1:{PORT}/503/x') as r:
            r.raise_for_status()
asyncio.run(main())
""")
step("aiohttp-refused")(f"""
import asyncio, aiohttp
async def main():
    async with aiohttp.ClientSession() as s:
        await s.get('http://127.0.0.1:{CLOSED_PORT}/x')
asyncio.run(main())
""")
step("google-api-core-503")(f"""
import requests
from google.api_core import exceptions
r = requests.get('http://127.0.0.1:{PORT}/gcs503/storage/v1/b/bucket/o/x')
raise exceptions.from_http_response(r)
""")
step("google-api-core-retry-error")(f"""
import requests
from google.api_core import exceptions, retry
def call():
    raise exceptions.from_http_response(requests.get('http://127.0.0.1:{PORT}/gcs503/storage/v1/b/bucket/o/x'))
retry.Retry(initial=0.01, maximum=0.02, timeout=0.1, predicate=retry.if_exception_type(exceptions.ServiceUnavailable))(call)()
""")
step("azure-server-busy")(f"""
from azure.core.pipeline.transport import RequestsTransport
from azure.core.pipeline import Pipeline
from azure.core.rest import HttpRequest
from azure.core.exceptions import HttpResponseError
p = Pipeline(transport=RequestsTransport())
resp = p.run(HttpRequest('GET', 'http://127.0.0.1:{PORT}/azurebusy/container/blob')).http_response
raise HttpResponseError(response=resp, message="The server is busy.\\nRequestId:0c4a5f1e\\nTime:2024-05-01T12:00:00.0000000Z\\nErrorCode:ServerBusy")
""")

GRPC = f"""
import grpc
channel = grpc.insecure_channel('127.0.0.1:{GRPC_PORT}')
call = channel.unary_unary('/feature.Store/Get', request_serializer=None, response_deserializer=None)
"""
step("grpc-resource-exhausted")(GRPC + "call(b'exhausted', timeout=5)\n")
step("grpc-unavailable-server")(GRPC + "call(b'unavailable', timeout=5)\n")
step("grpc-not-found")(GRPC + "call(b'notfound', timeout=5)\n")
step("grpc-invalid-argument")(GRPC + "call(b'invalid', timeout=5)\n")
step("grpc-deadline")(GRPC + "call(b'slow', timeout=0.2)\n")
step("grpc-unavailable-refused")(GRPC.replace(str(GRPC_PORT), str(CLOSED_PORT)) + "call(b'x', timeout=5)\n")

step("pyarrow-invalid")("""
import pyarrow as pa
pa.array(["a", 1])
""")
step("pyarrow-missing-column")("""
import pyarrow as pa
t = pa.table({"a": [1]})
t.select(["label"])
""")
step("python-disk-full")("""
def save():
    raise OSError(28, "No space left on device", "/mnt/checkpoints/step-1000.pt")
try:
    save()
except OSError as e:
    raise RuntimeError("failed to write checkpoint") from e
""")
step("python-keyerror-partition")("""
partitions = {"2024-04-30": []}
partitions["2024-05-01"]
""")
step("python-exception-group")(f"""
import asyncio, aiohttp
async def fetch(s, i):
    async with s.get('http://127.0.0.1:{CLOSED_PORT}/shard-%d' % i) as r:
        return await r.read()
async def main():
    async with aiohttp.ClientSession() as s:
        async with asyncio.TaskGroup() as tg:
            for i in range(2):
                tg.create_task(fetch(s, i))
asyncio.run(main())
""")


def grpc_server():
    import grpc
    from concurrent import futures

    def handle(request, context):
        codes = {b"exhausted": (grpc.StatusCode.RESOURCE_EXHAUSTED, "Quota exceeded for quota metric 'Read requests'"),
                 b"unavailable": (grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable."),
                 b"notfound": (grpc.StatusCode.NOT_FOUND, "Feature view 'user_stats' not found"),
                 b"invalid": (grpc.StatusCode.INVALID_ARGUMENT, "entity key must not be empty")}
        if request == b"slow":
            import time
            time.sleep(1)
            return b""
        code, details = codes[request]
        context.abort(code, details)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.method_handlers_generic_handler(
        "feature.Store", {"Get": grpc.unary_unary_rpc_method_handler(handle)})
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{GRPC_PORT}")
    server.start()
    return server


def normalise(text, workdir):
    text = text.replace(workdir, "/work/step")
    text = re.sub(r"/[^\s\"']*/site-packages/", "/venv/site-packages/", text)
    text = re.sub(r"/[^\s\"']*/lib/python3\.\d+/(?!site-packages)", "/usr/lib/python3/", text)
    text = re.sub(r"0x[0-9a-f]{8,}", "0x7f3a2c1b9d60", text)
    text = re.sub(r'created_time:"[^"]*"', 'created_time:"2024-05-01T12:00:00.000000000+00:00"', text)
    text = re.sub(r"Date: [^\n,'\"]*GMT", "Date: Wed, 01 May 2024 12:00:00 GMT", text)
    return text


def main():
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    grpc_srv = grpc_server()
    out = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name, code in STEPS.items():
            path = os.path.join(workdir, "step.py")
            with open(path, "w") as f:
                f.write(code)
            proc = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=120, cwd=workdir)
            out[name] = {"text": normalise(proc.stderr, workdir), "exit_code": proc.returncode}
    grpc_srv.stop(0)
    server.shutdown()
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()

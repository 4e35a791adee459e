"""Writes the log-reader conformance suites, tests/vectors/logs-*.json.

Each vector is a real log tail and what the readers must recover from it, plus
its classification under the built-in rules (tests/README.md, "Log vectors").
Expectations are written here by hand, not computed by Backstop.

Tails come from two places, named in each vector's `source`:
- captured: written by the real libraries (boto3, requests, urllib3, httpx,
  aiohttp, google-api-core, azure-core, grpcio, pyarrow) against local servers
  on 127.0.0.1, by tests/gen/capture_logs.py. Pass its output to re-capture:
      python3 tests/gen/log_vectors.py /tmp/captured.json
  Without it, the texts already in tests/vectors/logs-captured.json are kept.
- transcribed: built from the message formats in the libraries' own sources
  (file named in `source`), for stacks that do not install here (PyTorch,
  TensorFlow, JAX, Spark, NCCL, the Linux OOM killer, Node, Go).
"""
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors")


def load_captured():
    if len(sys.argv) > 1:
        with open(sys.argv[1]) as f:
            return {name: (c["text"], c["exit_code"]) for name, c in json.load(f).items()}
    path = os.path.join(OUT, "logs-captured.json")
    with open(path) as f:
        suite = json.load(f)
    return {v["name"]: (v["log"]["text"], v["log"].get("exit_code")) for v in suite["vectors"]}


CAPTURED = load_captured()


def suite(name, description, vectors):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump({"description": description, "policy": None, "vectors": vectors}, f, indent=1,
                  ensure_ascii=False)
        f.write("\n")
    return len(vectors)


def vec(name, source, text, *, exit_code=1, signal=None, stream=None, types=(), bases=None,
        http=None, grpc=None, code=None, message=None, readers=(), pushback=None,
        cls="unknown", rule=None, summary=None):
    log = {"text": text}
    if exit_code is not None:
        log["exit_code"] = exit_code
    if signal is not None:
        log["signal"] = signal
    if stream is not None:
        log["stream"] = stream
    failure = {"http_status": http, "grpc_code": grpc, "exit_code": exit_code, "signal": signal,
               "error_types": list(types), "error_code": code}
    if bases is not None:
        failure["error_bases"] = list(bases)
    if message is not None:
        failure["message"] = message
    expect = {"failure": failure, "readers": list(readers), "pushback_ms": pushback,
              "classification": {"class": cls, "rule": rule}}
    if summary is not None:
        expect["summary"] = summary
    return {"name": name, "source": source, "log": log, "expect": expect}


def captured(name, **kw):
    text, exit_code = CAPTURED[name]
    return vec(name, "captured: " + kw.pop("lib"), text, exit_code=exit_code, **kw)


def tb(*frames_and_line):
    """A Python traceback: frames (`file:line:func:code`) then exception lines."""
    *frames, last = frames_and_line
    out = ["Traceback (most recent call last):"]
    for frame in frames:
        path, line, func, code = frame.split(":", 3)
        out.append(f'  File "{path}", line {line}, in {func}')
        out.append(f"    {code}")
    out.append(last)
    return "\n".join(out) + "\n"


PT, BC = "python-traceback", "botocore"
HS, GS, EN = "http-status", "grpc-status", "errno"
CONN_BASES = ["ConnectionError", "OSError"]
TOTAL = 0

# ---------------------------------------------------------------------------
# Captured from the real libraries.

CAP = [
    captured("boto3-s3-slowdown", lib="boto3 S3 GetObject against a server answering 503 with S3's SlowDown XML",
             types=["botocore.exceptions.ClientError"], bases=[], code="SlowDown",
             message="An error occurred (SlowDown) when calling the GetObject operation (reached max retries: 1): Please reduce your request rate.",
             readers=[PT, BC], cls="transient", rule="builtin.cloud-throttling",
             summary="botocore.exceptions.ClientError SlowDown: An error occurred (SlowDown) when calling the GetObject operation (reached max retries: 1): Please reduce your request rate. (exit code 1)"),
    captured("boto3-s3-nosuchkey", lib="boto3 S3 GetObject, 404 with NoSuchKey XML (botocore's generated errorfactory class)",
             types=["botocore.errorfactory.NoSuchKey"], bases=[], code="NoSuchKey", readers=[PT, BC],
             message="An error occurred (NoSuchKey) when calling the GetObject operation: The specified key does not exist.",
             cls="unknown", rule=None),
    captured("boto3-s3-head-404", lib="boto3 S3 HeadObject, 404 without a body: botocore uses the status as the code",
             types=["botocore.exceptions.ClientError"], http=404, readers=[PT, BC],
             cls="permanent", rule="builtin.http-permanent"),
    captured("boto3-s3-internalerror", lib="boto3 S3 GetObject, 500 with InternalError XML",
             types=["botocore.exceptions.ClientError"], code="InternalError", readers=[PT, BC],
             cls="transient", rule="builtin.cloud-transient"),
    captured("boto3-s3-accessdenied", lib="boto3 S3 GetObject, 403 with AccessDenied XML",
             types=["botocore.errorfactory.AccessDenied"], code="AccessDenied", readers=[PT, BC],
             cls="unknown", rule=None),
    captured("boto3-s3-plain-503", lib="boto3 S3 GetObject, a plain-text 503",
             types=["botocore.exceptions.ClientError"], http=503, readers=[PT, BC],
             cls="transient", rule="builtin.http-transient"),
    captured("boto3-connection-reset", lib="boto3 S3 GetObject, the server resets the connection",
             types=["botocore.exceptions.ConnectionClosedError", "urllib3.exceptions.ProtocolError", "ConnectionResetError"],
             bases=["botocore.exceptions.HTTPClientError", "botocore.exceptions.BotoCoreError", "urllib3.exceptions.HTTPError", "ConnectionError", "OSError"],
             code="ECONNRESET", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    captured("boto3-endpoint-refused", lib="boto3 S3 GetObject to a closed port",
             types=["botocore.exceptions.EndpointConnectionError", "urllib3.exceptions.NewConnectionError", "ConnectionRefusedError"],
             code="ECONNREFUSED", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    captured("boto3-kinesis-throttling", lib="boto3 Kinesis PutRecord, 400 with a JSON ThrottlingException",
             types=["botocore.exceptions.ClientError"], code="ThrottlingException", readers=[PT, BC],
             message="An error occurred (ThrottlingException) when calling the PutRecord operation (reached max retries: 1): Rate exceeded",
             cls="transient", rule="builtin.cloud-throttling"),
    captured("boto3-chained-upload", lib="boto3 PutObject reset, wrapped in `raise RuntimeError(...) from e`",
             types=["RuntimeError", "botocore.exceptions.ConnectionClosedError", "urllib3.exceptions.ProtocolError", "http.client.RemoteDisconnected"],
             bases=["botocore.exceptions.HTTPClientError", "botocore.exceptions.BotoCoreError", "urllib3.exceptions.HTTPError",
                    "ConnectionResetError", "ConnectionError", "OSError", "http.client.BadStatusLine", "http.client.HTTPException"],
             readers=[PT], cls="transient", rule="builtin.sdk-retryable"),
    captured("requests-503", lib="requests raise_for_status on a 503",
             types=["requests.exceptions.HTTPError"], http=503, readers=[PT, HS],
             message="503 Server Error: Service Unavailable for url: http://127.0.0.1:18931/503/features.parquet",
             cls="transient", rule="builtin.http-transient"),
    captured("requests-404", lib="requests raise_for_status on a 404",
             types=["requests.exceptions.HTTPError"], http=404, readers=[PT, HS], cls="permanent", rule="builtin.http-permanent"),
    captured("requests-429", lib="requests raise_for_status on a 429 with Retry-After (not printed)",
             types=["requests.exceptions.HTTPError"], http=429, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    captured("requests-refused", lib="requests GET to a closed port",
             types=["requests.exceptions.ConnectionError", "urllib3.exceptions.MaxRetryError", "urllib3.exceptions.NewConnectionError", "ConnectionRefusedError"],
             code="ECONNREFUSED", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    captured("requests-reset", lib="requests GET, the server resets the connection",
             types=["requests.exceptions.ConnectionError", "urllib3.exceptions.ProtocolError", "ConnectionResetError"],
             code="ECONNRESET", readers=[PT, EN], cls="transient", rule="builtin.network-errno",
             message="('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))\n[Errno 104] Connection reset by peer"),
    captured("requests-retry-503", lib="requests with urllib3 Retry(status_forcelist=[503]) exhausted",
             types=["requests.exceptions.RetryError", "urllib3.exceptions.MaxRetryError"], http=503, readers=[PT, HS],
             cls="transient", rule="builtin.http-transient"),
    captured("requests-dns", lib="requests GET to an unresolvable host",
             types=["requests.exceptions.ConnectionError", "urllib3.exceptions.MaxRetryError", "urllib3.exceptions.NameResolutionError", "socket.gaierror"],
             code="EAI_NONAME", readers=[PT, EN], cls="transient", rule="builtin.sdk-retryable"),
    captured("urllib-404", lib="urllib.request.urlopen on a 404",
             types=["urllib.error.HTTPError"], http=404, readers=[PT, HS], message="HTTP Error 404: Not Found",
             cls="permanent", rule="builtin.http-permanent"),
    captured("urllib-503", lib="urllib.request.urlopen on a 503",
             types=["urllib.error.HTTPError"], http=503, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    captured("urllib3-maxretry-503", lib="urllib3 PoolManager with Retry(status_forcelist=[503]) exhausted",
             types=["urllib3.exceptions.MaxRetryError"], http=503, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    captured("httpx-503", lib="httpx raise_for_status on a 503",
             types=["httpx.HTTPStatusError"], http=503, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    captured("httpx-404", lib="httpx raise_for_status on a 404",
             types=["httpx.HTTPStatusError"], http=404, readers=[PT, HS], cls="permanent", rule="builtin.http-permanent"),
    captured("httpx-refused", lib="httpx GET to a closed port (httpcore underneath)",
             types=["httpx.ConnectError", "httpcore.ConnectError"], code="ECONNREFUSED", readers=[PT, EN],
             message="[Errno 111] Connection refused", cls="transient", rule="builtin.network-errno"),
    captured("aiohttp-503", lib="aiohttp raise_for_status on a 503",
             types=["aiohttp.client_exceptions.ClientResponseError"], http=503, readers=[PT, HS],
             message="503, message='Service Unavailable', url='http://127.0.0.1:18931/503/x'",
             cls="transient", rule="builtin.http-transient"),
    captured("aiohttp-refused", lib="aiohttp GET to a closed port",
             types=["aiohttp.client_exceptions.ClientConnectorError", "ConnectionRefusedError"], code="ECONNREFUSED",
             readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    captured("google-api-core-503", lib="google.api_core.exceptions.from_http_response on a GCS-style 503",
             types=["google.api_core.exceptions.ServiceUnavailable"], http=503, readers=[PT, HS],
             cls="transient", rule="builtin.http-transient"),
    captured("google-api-core-retry-error", lib="google.api_core Retry timing out on ServiceUnavailable",
             types=["google.api_core.exceptions.RetryError", "google.api_core.exceptions.ServiceUnavailable"], http=503,
             readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    captured("azure-server-busy", lib="azure-core HttpResponseError for a 503 ServerBusy (x-ms-error-code)",
             types=["azure.core.exceptions.HttpResponseError"], code="ServerBusy", readers=[PT, "azure"],
             cls="transient", rule="builtin.cloud-throttling"),
    captured("grpc-resource-exhausted", lib="grpcio unary call, server aborts RESOURCE_EXHAUSTED",
             types=["grpc._channel._InactiveRpcError"], grpc="RESOURCE_EXHAUSTED", readers=[PT, GS],
             cls="transient", rule="builtin.grpc-transient"),
    captured("grpc-unavailable-server", lib="grpcio unary call, server aborts UNAVAILABLE",
             types=["grpc._channel._InactiveRpcError"], grpc="UNAVAILABLE", readers=[PT, GS],
             cls="transient", rule="builtin.grpc-transient"),
    captured("grpc-not-found", lib="grpcio unary call, server aborts NOT_FOUND",
             types=["grpc._channel._InactiveRpcError"], grpc="NOT_FOUND", readers=[PT, GS],
             cls="permanent", rule="builtin.grpc-permanent"),
    captured("grpc-invalid-argument", lib="grpcio unary call, server aborts INVALID_ARGUMENT",
             types=["grpc._channel._InactiveRpcError"], grpc="INVALID_ARGUMENT", readers=[PT, GS],
             cls="permanent", rule="builtin.grpc-permanent"),
    captured("grpc-deadline", lib="grpcio unary call past its 0.2 s deadline",
             types=["grpc._channel._InactiveRpcError"], grpc="DEADLINE_EXCEEDED", readers=[PT, GS],
             cls="unknown", rule=None),
    captured("grpc-unavailable-refused", lib="grpcio unary call to a closed port",
             types=["grpc._channel._InactiveRpcError"], grpc="UNAVAILABLE", code="ECONNREFUSED", readers=[PT, GS, EN],
             cls="transient", rule="builtin.network-errno"),
    captured("pyarrow-invalid", lib="pyarrow.array with mixed types",
             types=["pyarrow.lib.ArrowTypeError"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    captured("pyarrow-missing-column", lib="pyarrow Table.select of a missing column",
             types=["KeyError"], bases=["LookupError"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema",
             message="'Field \"label\" does not exist in schema'"),
    captured("python-disk-full", lib="CPython OSError(28) chained under a RuntimeError",
             types=["RuntimeError", "OSError"], code="ENOSPC", readers=[PT, EN],
             message="failed to write checkpoint\n[Errno 28] No space left on device: '/mnt/checkpoints/step-1000.pt'",
             cls="permanent", rule="builtin.ml.disk-full"),
    captured("python-keyerror-partition", lib="CPython KeyError on a missing date partition",
             types=["KeyError"], bases=["LookupError"], readers=[PT], message="'2024-05-01'",
             cls="permanent", rule="builtin.ml.dataset-schema"),
    captured("python-exception-group", lib="asyncio.TaskGroup of two aiohttp fetches to a closed port (Python 3.11 exception group)",
             types=["ExceptionGroup", "ConnectionRefusedError", "aiohttp.client_exceptions.ClientConnectorError",
                    "ConnectionRefusedError", "aiohttp.client_exceptions.ClientConnectorError"],
             code="ECONNREFUSED", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
]
TOTAL += suite("logs-captured.json",
               "Log tails written by the real libraries against local servers (tests/gen/capture_logs.py)", CAP)
print(f"{TOTAL} log vectors")

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
             types=["botocore.errorfactory.ThrottlingException"], code="ThrottlingException", readers=[PT, BC],
             message="An error occurred (ThrottlingException) when calling the PutRecord operation (reached max retries: 1): Rate exceeded",
             cls="transient", rule="builtin.cloud-throttling"),
    captured("boto3-chained-upload", lib="boto3 PutObject reset, wrapped in `raise RuntimeError(...) from e`",
             types=["RuntimeError", "botocore.exceptions.ConnectionClosedError", "urllib3.exceptions.ProtocolError", "http.client.RemoteDisconnected"],
             bases=["botocore.exceptions.HTTPClientError", "botocore.exceptions.BotoCoreError", "urllib3.exceptions.HTTPError",
                    "ConnectionResetError", "ConnectionError", "OSError", "http.client.BadStatusLine", "http.client.HTTPException"],
             readers=[PT], cls="transient", rule="builtin.network-exceptions"),
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
             code="EAI_NONAME", readers=[PT, EN], cls="transient", rule="builtin.network-exceptions"),
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

# ---------------------------------------------------------------------------
# Python tracebacks: chains, groups, notes, odd shapes.

CHAINED = (tb("/app/io.py:12:read_shard:return fs.open(path).read()",
              "ConnectionResetError: [Errno 104] Connection reset by peer")
           + "\nThe above exception was the direct cause of the following exception:\n\n"
           + tb("/app/train.py:40:<module>:load()", "/app/train.py:31:load:raise ShardReadError(path) from e",
                "pipeline.errors.ShardReadError: s3://bucket/features/part-7.parquet"))
CONTEXT = (tb("/app/cache.py:8:get:return CACHE[key]", "KeyError: 'model-v3'")
           + "\nDuring handling of the above exception, another exception occurred:\n\n"
           + tb("/app/cache.py:10:get:return fetch(key)",
                "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='models.internal', port=443): Read timed out."))
FROM_NONE = tb("/app/cfg.py:3:<module>:raise ConfigError('bad learning rate') from None",
               "app.config.ConfigError: bad learning rate")
NOTE = tb("/app/step.py:9:<module>:run()",
          "ValueError: column 'label' has 3 classes, expected 2\nAdd a note: checked partition 2024-05-01\nsecond note line")
SYNTAX = ('  File "/app/train.py", line 14\n    if epoch > 3\n                ^\nSyntaxError: expected \':\'\n')
INTERRUPT = tb("/app/train.py:80:<module>:trainer.fit()", "/venv/site-packages/torch/utils/data/dataloader.py:1133:_try_get_data:data = self._data_queue.get(timeout=timeout)", "KeyboardInterrupt")
INTERLEAVED = ("Traceback (most recent call last):\n"
               '  File "/app/train.py", line 52, in <module>\n'
               "epoch 3/10 loss=0.4121\n"
               "    upload(checkpoint)\n"
               '  File "/app/upload.py", line 17, in upload\n'
               "[stdout] saved checkpoint step-3000\n"
               "    client.upload_file(path, bucket, key)\n"
               "boto3.exceptions.S3UploadFailedError: Failed to upload /ckpt/step-3000.pt to ml/ckpt/step-3000.pt: An error occurred (SlowDown) when calling the PutObject operation (reached max retries: 4): Please reduce your request rate.\n")
JSON_LINES = "\n".join([
    '{"time":"2024-05-01T12:00:00Z","level":"INFO","message":"loading shard 7"}',
    '{"time":"2024-05-01T12:00:03Z","level":"ERROR","message":"step failed","exc_info":"Traceback (most recent call last):\\n  File \\"/app/load.py\\", line 20, in load\\n    obj = s3.get_object(Bucket=b, Key=k)\\nbotocore.exceptions.ClientError: An error occurred (SlowDown) when calling the GetObject operation (reached max retries: 4): Please reduce your request rate."}',
]) + "\n"
DOCKER_JSON = "\n".join(json.dumps({"log": line + "\n", "stream": "stderr", "time": "2024-05-01T12:00:00.000000000Z"}) for line in
                        tb("/app/predict.py:5:<module>:main()", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB of which 1.06 GiB is free.").splitlines()) + "\n"
K8S_TS = "".join(f"2024-05-01T12:00:0{i}.123456789Z {line}\n" for i, line in enumerate(
    tb("/app/job.py:11:<module>:fetch()", "urllib.error.HTTPError: HTTP Error 503: Service Unavailable").splitlines()))
CRI = "".join(f"2024-05-01T12:00:00.000000000Z stderr F {line}\n" for line in
              tb("/app/job.py:3:<module>:x()", "socket.gaierror: [Errno -3] Temporary failure in name resolution").splitlines())
AIRFLOW = ("[2024-05-01, 12:00:00 UTC] {taskinstance.py:441} INFO - Running task\n"
           "[2024-05-01, 12:00:05 UTC] {taskinstance.py:2905} ERROR - Task failed with exception\n"
           + tb("/opt/airflow/dags/etl.py:33:extract:return hook.get_key(key).get()",
                "botocore.exceptions.ClientError: An error occurred (SlowDown) when calling the GetObject operation (reached max retries: 4): Please reduce your request rate.")
           + "[2024-05-01, 12:00:05 UTC] {taskinstance.py:1206} INFO - Marking task as UP_FOR_RETRY. dag_id=etl, task_id=extract\n")
ANSI = ("\x1b[31mTraceback (most recent call last):\x1b[0m\n"
        '  File \x1b[35m"/app/x.py"\x1b[0m, line \x1b[35m3\x1b[0m, in \x1b[35m<module>\x1b[0m\n'
        "\x1b[1;35mrequests.exceptions.HTTPError\x1b[0m: \x1b[35m502 Server Error: Bad Gateway for url: https://api.internal/v1/features\x1b[0m\n")
PROGRESS = ("Epoch 1:  10%|#         | 10/100 [00:01<00:09]\rEpoch 1:  20%|##        | 20/100 [00:02<00:08]\r\n"
            + tb("/app/train.py:77:<module>:loss.backward()", "/venv/site-packages/torch/_tensor.py:525:backward:torch.autograd.backward(",
                 "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 512.00 MiB. GPU 0 has a total capacity of 15.77 GiB of which 311.44 MiB is free. Including non-PyTorch memory, this process has 15.46 GiB memory in use."))
GROUP_PERM = ("  + Exception Group Traceback (most recent call last):\n"
              '  |   File "/app/validate.py", line 30, in <module>\n'
              "  |     raise ExceptionGroup(\"validation failed\", errors)\n"
              "  | ExceptionGroup: validation failed (2 sub-exceptions)\n"
              "  +-+---------------- 1 ----------------\n"
              "    | pyarrow.lib.ArrowInvalid: Column 'age': Could not convert 'n/a' with type str: tried to convert to int64\n"
              "    +---------------- 2 ----------------\n"
              "    | KeyError: 'label'\n"
              "    +------------------------------------\n")
TWO_TB = (tb("/app/a.py:1:<module>:retry()", "requests.exceptions.ConnectionError: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")
          + "INFO retrying in 2s\n"
          + tb("/app/a.py:1:<module>:retry()", "requests.exceptions.HTTPError: 404 Client Error: Not Found for url: https://models.internal/v3/weights.bin"))
LOGGED = "2024-05-01 12:00:00,123 ERROR root: upload failed\nERROR:root:botocore.exceptions.ClientError: An error occurred (ThrottlingException) when calling the PutRecords operation: Rate exceeded\n"
PY4J = tb("/app/job.py:18:<module>:df.write.parquet(out)", "/opt/spark/python/pyspark/sql/readwriter.py:1721:parquet:self._jwrite.parquet(path)",
          "py4j.protocol.Py4JJavaError: An error occurred while calling o87.parquet.\n"
          ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 4.0 failed 4 times, most recent failure: Lost task 3.3 in stage 4.0 (TID 41) (10.0.3.7 executor 2): java.io.IOException: No space left on device\n"
          "\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)\n"
          "\tat org.apache.spark.storage.DiskBlockObjectWriter.write(DiskBlockObjectWriter.scala:312)")

PY = [
    vec("a cause chain is outermost first", "transcribed: CPython traceback.print_exception, `raise ... from e`", CHAINED,
        types=["pipeline.errors.ShardReadError", "ConnectionResetError"], bases=CONN_BASES, code="ECONNRESET",
        message="s3://bucket/features/part-7.parquet\n[Errno 104] Connection reset by peer",
        readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    vec("an implicit context chain is followed", "transcribed: CPython `During handling of the above exception`", CONTEXT,
        types=["requests.exceptions.ConnectionError", "KeyError"], bases=["requests.exceptions.RequestException", "OSError", "LookupError"],
        readers=[PT], cls="transient", rule="builtin.network-exceptions"),
    vec("raise from None shows one exception", "transcribed: CPython", FROM_NONE,
        types=["app.config.ConfigError"], bases=[], message="bad learning rate", readers=[PT], cls="unknown"),
    vec("notes and continuation lines belong to the message", "transcribed: CPython 3.11 add_note", NOTE,
        types=["ValueError"], message="column 'label' has 3 classes, expected 2\nAdd a note: checked partition 2024-05-01\nsecond note line",
        readers=[PT], cls="unknown"),
    vec("a SyntaxError has no traceback header: the single-line reader names it", "transcribed: CPython compile error", SYNTAX,
        types=["SyntaxError"], message="expected ':'", readers=["exception-line"], cls="unknown"),
    vec("KeyboardInterrupt has no message", "transcribed: CPython", INTERRUPT, exit_code=130,
        types=["KeyboardInterrupt"], readers=[PT], cls="unknown"),
    vec("output interleaved inside a traceback is skipped", "transcribed: boto3/s3transfer upload_file failure with stdout interleaved", INTERLEAVED,
        stream="combined", types=["boto3.exceptions.S3UploadFailedError"], code="SlowDown", readers=[PT, BC],
        cls="transient", rule="builtin.cloud-throttling"),
    vec("a traceback inside JSON log records", "transcribed: python-json-logger record with exc_info", JSON_LINES,
        types=["botocore.exceptions.ClientError"], code="SlowDown", readers=[PT, BC], cls="transient", rule="builtin.cloud-throttling"),
    vec("Docker json-file log lines", "transcribed: Docker json-file driver wrapping a PyTorch OOM traceback", DOCKER_JSON,
        types=["torch.OutOfMemoryError"], readers=[PT], cls="permanent", rule="builtin.ml.gpu-oom"),
    vec("kubectl logs --timestamps prefixes", "transcribed: kubectl logs --timestamps", K8S_TS,
        types=["urllib.error.HTTPError"], http=503, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    vec("containerd CRI log format", "transcribed: CRI log lines (`<time> stderr F <text>`)", CRI,
        types=["socket.gaierror"], bases=["OSError"], code="EAI_AGAIN", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    vec("an Airflow task log", "transcribed: Airflow taskinstance error log", AIRFLOW,
        types=["botocore.exceptions.ClientError"], code="SlowDown", readers=[PT, BC], cls="transient", rule="builtin.cloud-throttling"),
    vec("ANSI colours from Python 3.13 tracebacks are stripped", "transcribed: CPython 3.13 coloured traceback", ANSI,
        types=["requests.exceptions.HTTPError"], http=502, readers=[PT, HS],
        message="502 Server Error: Bad Gateway for url: https://api.internal/v1/features", cls="transient", rule="builtin.http-transient"),
    vec("tqdm carriage returns before a CUDA OOM", "transcribed: tqdm progress bar then a PyTorch OOM (c10/cuda/CUDACachingAllocator.cpp)", PROGRESS,
        types=["torch.OutOfMemoryError"], readers=[PT], cls="permanent", rule="builtin.ml.gpu-oom"),
    vec("an exception group of data errors", "transcribed: CPython 3.11 ExceptionGroup of pyarrow and KeyError", GROUP_PERM,
        types=["ExceptionGroup", "pyarrow.lib.ArrowInvalid", "KeyError"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("the last of two unlinked tracebacks wins", "transcribed: a retry loop printing each failure", TWO_TB,
        types=["requests.exceptions.HTTPError"], http=404, readers=[PT, HS], cls="permanent", rule="builtin.http-permanent"),
    vec("an exception logged without a traceback", "transcribed: logging.error(f'{type(e)}: {e}') style records", LOGGED,
        types=["botocore.exceptions.ClientError"], code="ThrottlingException", readers=["exception-line", BC],
        cls="transient", rule="builtin.cloud-throttling"),
    vec("a PySpark Py4JJavaError carries the JVM cause", "transcribed: pyspark Py4JJavaError wrapping a SparkException", PY4J,
        types=["py4j.protocol.Py4JJavaError"], code="ENOSPC", readers=[PT, EN], cls="permanent", rule="builtin.ml.disk-full"),
]
TOTAL += suite("logs-python.json", "Python tracebacks: chains, groups, notes, prefixes, JSON records, interleaving", PY)

# ---------------------------------------------------------------------------
# Provider codes, HTTP statuses and Retry-After, from the libraries' message formats.

def boto(code, op="GetObject", retries="", msg="x"):
    """botocore/exceptions.py ClientError.MSG_TEMPLATE."""
    return f"An error occurred ({code}) when calling the {op} operation{retries}: {msg}"


PROV = [
    vec("botocore DynamoDB throttling", "transcribed: botocore/exceptions.py ClientError.MSG_TEMPLATE",
        tb("/app/put.py:9:<module>:table.put_item(Item=item)",
           "botocore.errorfactory.ProvisionedThroughputExceededException: " + boto("ProvisionedThroughputExceededException", "PutItem", " (reached max retries: 9)", "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.")),
        types=["botocore.errorfactory.ProvisionedThroughputExceededException"], code="ProvisionedThroughputExceededException",
        readers=[PT, BC], cls="transient", rule="builtin.cloud-throttling"),
    vec("botocore EC2 RequestLimitExceeded", "transcribed: botocore/exceptions.py ClientError.MSG_TEMPLATE",
        tb("/app/launch.py:4:<module>:ec2.run_instances(**spec)", "botocore.exceptions.ClientError: " + boto("RequestLimitExceeded", "RunInstances", "", "Request limit exceeded.")),
        types=["botocore.exceptions.ClientError"], code="RequestLimitExceeded", readers=[PT, BC], cls="transient", rule="builtin.cloud-throttling"),
    vec("botocore ExpiredToken is not guessed", "transcribed: botocore/exceptions.py ClientError.MSG_TEMPLATE",
        tb("/app/a.py:2:<module>:s3.list_objects_v2(Bucket=b)", "botocore.exceptions.ClientError: " + boto("ExpiredToken", "ListObjectsV2", "", "The provided token has expired.")),
        types=["botocore.exceptions.ClientError"], code="ExpiredToken", readers=[PT, BC], cls="unknown"),
    vec("botocore RequestTimeout", "transcribed: botocore/exceptions.py ClientError.MSG_TEMPLATE",
        tb("/app/a.py:2:<module>:s3.upload_part(**p)", "botocore.exceptions.ClientError: " + boto("RequestTimeout", "UploadPart", " (reached max retries: 4)", "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.")),
        types=["botocore.exceptions.ClientError"], code="RequestTimeout", readers=[PT, BC], cls="transient", rule="builtin.cloud-transient"),
    vec("botocore ReadTimeoutError through its base class", "transcribed: botocore/exceptions.py ReadTimeoutError",
        tb("/app/a.py:2:<module>:obj['Body'].read()", 'botocore.exceptions.ReadTimeoutError: Read timeout on endpoint URL: "https://bucket.s3.amazonaws.com/features/part-0.parquet"'),
        types=["botocore.exceptions.ReadTimeoutError"], readers=[PT], cls="transient", rule="builtin.network-exceptions"),
    vec("botocore ConnectionClosedError through its base class HTTPClientError", "transcribed: botocore/exceptions.py ConnectionClosedError",
        tb("/app/a.py:2:<module>:s3.get_object(Bucket=b, Key=k)", 'botocore.exceptions.ConnectionClosedError: Connection was closed before we received a valid response from endpoint URL: "https://bucket.s3.amazonaws.com/features/part-0.parquet".'),
        types=["botocore.exceptions.ConnectionClosedError"], bases=["botocore.exceptions.HTTPClientError", "botocore.exceptions.BotoCoreError"],
        readers=[PT], cls="transient", rule="builtin.network-exceptions"),
    vec("botocore ProxyConnectionError through its base class", "transcribed: botocore/exceptions.py ProxyConnectionError",
        tb("/app/a.py:2:<module>:s3.head_bucket(Bucket=b)", 'botocore.exceptions.ProxyConnectionError: Failed to connect to proxy URL: "http://proxy.internal:3128"'),
        types=["botocore.exceptions.ProxyConnectionError"], readers=[PT], cls="transient", rule="builtin.network-exceptions"),
    vec("botocore SSLError through its base class", "transcribed: botocore/exceptions.py SSLError",
        tb("/app/a.py:2:<module>:s3.head_bucket(Bucket=b)", 'botocore.exceptions.SSLError: SSL validation failed for https://bucket.s3.amazonaws.com/ EOF occurred in violation of protocol (_ssl.c:2427)'),
        types=["botocore.exceptions.SSLError"], readers=[PT], cls="transient", rule="builtin.network-exceptions"),
    vec("azure-core ServiceResponseError through the SDK's retryable classes", "transcribed: azure/core/exceptions.py ServiceResponseError (retried by azure-core RetryPolicy)",
        tb("/app/a.py:2:<module>:blob.download_blob().readall()", "azure.core.exceptions.ServiceResponseError: ('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"),
        types=["azure.core.exceptions.ServiceResponseError"], bases=["azure.core.exceptions.AzureError"], readers=[PT], cls="transient", rule="builtin.sdk-retryable"),
    vec("an S3 XML error body alone", "transcribed: S3 REST error response (Error/Code), as aws --debug prints it",
        "2024-05-01 12:00:00,000 - MainThread - botocore.parsers - DEBUG - Response body:\n"
        "b'<?xml version=\"1.0\" encoding=\"UTF-8\"?>\\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>'\n",
        code="SlowDown", readers=["s3-xml"], cls="transient", rule="builtin.cloud-throttling"),
    vec("aws-sdk-go-v2 api error", "transcribed: smithy-go OperationError / aws-sdk-go-v2 ResponseError text, via log.Fatal",
        "2024/05/01 12:00:00 upload model: operation error S3: PutObject, exceeded maximum number of attempts, 3, https response error StatusCode: 503, RequestID: 4442587FB7D0A2F9, HostID: aGVsbG8=, api error SlowDown: Please reduce your request rate.\n",
        http=503, code="SlowDown", readers=["aws-sdk-go", HS], cls="transient", rule="builtin.cloud-throttling"),
    vec("Azure OData error with Code line", "transcribed: azure-core exceptions.py ODataV4Format str()",
        tb("/app/a.py:2:<module>:client.upload_blob(data)",
           "azure.core.exceptions.HttpResponseError: (ServerBusy) The server is busy.\nCode: ServerBusy\nMessage: The server is busy."),
        types=["azure.core.exceptions.HttpResponseError"], code="ServerBusy", readers=[PT, "azure"], cls="transient", rule="builtin.cloud-throttling"),
    vec("Azure ResourceExistsError", "transcribed: azure-storage-blob error with x-ms-error-code",
        tb("/app/a.py:2:<module>:svc.create_container('runs')",
           "azure.core.exceptions.ResourceExistsError: The specified container already exists.\nRequestId:0c4a5f1e-601e-0000-1c2b-9b3f0d000000\nTime:2024-05-01T12:00:00.0000000Z\nErrorCode:ContainerAlreadyExists"),
        types=["azure.core.exceptions.ResourceExistsError"], code="ContainerAlreadyExists", readers=[PT, "azure"], cls="unknown"),
    vec("google-api-core TooManyRequests from BigQuery", "transcribed: google/api_core/exceptions.py from_http_response (`{code} {method} {url}: {message}`)",
        tb("/app/bq.py:7:<module>:job.result()", "google.api_core.exceptions.TooManyRequests: 429 POST https://bigquery.googleapis.com/bigquery/v2/projects/p/jobs?prettyPrint=false: Exceeded rate limits: too many table update operations for this table."),
        types=["google.api_core.exceptions.TooManyRequests"], http=429, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    vec("google-api-core Forbidden from GCS", "transcribed: google/api_core/exceptions.py from_http_response",
        tb("/app/gcs.py:7:<module>:bucket.reload()", "google.api_core.exceptions.Forbidden: 403 GET https://storage.googleapis.com/storage/v1/b/models?projection=noAcl&prettyPrint=false: trainer@proj.iam.gserviceaccount.com does not have storage.buckets.get access to the Google Cloud Storage bucket. Permission 'storage.buckets.get' denied on resource (or it may not exist)."),
        types=["google.api_core.exceptions.Forbidden"], http=403, readers=[PT, HS], cls="permanent", rule="builtin.http-permanent"),
    vec("google-api-core gRPC-backed ServiceUnavailable", "transcribed: google/api_core/exceptions.py from_grpc_error (`{code} {message}`)",
        tb("/app/pubsub.py:3:<module>:future.result()", "google.api_core.exceptions.ServiceUnavailable: 503 failed to connect to all addresses; last error: UNAVAILABLE: ipv4:142.250.1.95:443: Socket closed"),
        types=["google.api_core.exceptions.ServiceUnavailable"], http=503, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    vec("huggingface_hub rate limit", "transcribed: huggingface_hub/utils/_http.py hf_raise_for_status (requests' message)",
        tb("/app/dl.py:4:<module>:snapshot_download('meta-llama/Llama-3.1-8B')",
           "huggingface_hub.errors.HfHubHTTPError: 429 Client Error: Too Many Requests for url: https://huggingface.co/api/models/meta-llama/Llama-3.1-8B/revision/main"),
        types=["huggingface_hub.errors.HfHubHTTPError"], http=429, readers=[PT, HS], cls="transient", rule="builtin.ml.hub-rate-limit"),
    vec("httpx 429 from an embeddings API", "transcribed: httpx/_models.py raise_for_status message",
        tb("/app/embed.py:12:<module>:r.raise_for_status()",
           "httpx.HTTPStatusError: Client error '429 Too Many Requests' for url 'https://api.example.com/v1/embeddings'\nFor more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/429"),
        types=["httpx.HTTPStatusError"], http=429, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    vec("urllib3 too many 502 responses", "transcribed: urllib3/util/retry.py ResponseError.SPECIFIC_ERROR",
        tb("/app/a.py:2:<module>:http.request('GET', url)", "urllib3.exceptions.MaxRetryError: HTTPSConnectionPool(host='api.internal', port=443): Max retries exceeded with url: /v1/rows (Caused by ResponseError('too many 502 error responses'))"),
        types=["urllib3.exceptions.MaxRetryError"], http=502, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    vec("aiohttp 404 with a URL object", "transcribed: aiohttp/client_exceptions.py ClientResponseError.__str__",
        tb("/app/a.py:2:<module>:await fetch()", "aiohttp.client_exceptions.ClientResponseError: 404, message='Not Found', url=URL('https://models.internal/v2/weights.safetensors')"),
        types=["aiohttp.client_exceptions.ClientResponseError"], http=404, readers=[PT, HS], cls="permanent", rule="builtin.http-permanent"),
    vec("a Go net/http status line", "transcribed: Go log.Fatal of an error wrapping resp.Status",
        "2024/05/01 12:00:00 fetch manifest: unexpected status 503 Service Unavailable\n", http=503, readers=[HS],
        cls="transient", rule="builtin.http-transient"),
    vec("an HTTP/1.1 status line and Retry-After header", "transcribed: curl -i output",
        "HTTP/1.1 429 Too Many Requests\nContent-Type: application/json\nRetry-After: 30\n\n{\"error\":\"rate_limited\"}\n",
        http=429, readers=[HS, "retry-after"], pushback=30000, cls="transient", rule="builtin.http-transient"),
    vec("Retry-After in a printed header dict", "transcribed: requests Response.headers repr",
        tb("/app/a.py:2:<module>:r.raise_for_status()", "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://api.internal/v1/score")
        + "response headers: {'Content-Type': 'text/plain', 'Retry-After': '120', 'Connection': 'close'}\n",
        types=["requests.exceptions.HTTPError"], http=503, readers=[PT, HS, "retry-after"], pushback=120000,
        cls="transient", rule="builtin.http-transient"),
    vec("retry-after-ms wins over nothing", "transcribed: Azure SDK x-ms-retry-after-ms header in a log",
        "WARNING azure.core.pipeline.policies: x-ms-retry-after-ms: 1500\n", readers=["retry-after"], pushback=1500, cls="unknown"),
    vec("grpc-retry-pushback-ms", "transcribed: gRPC A6 pushback trailer printed in a debug log",
        "DEBUG grpc trailers: grpc-status: 14, grpc-retry-pushback-ms: 250\n", grpc="UNAVAILABLE",
        readers=[GS, "retry-after"], pushback=250, cls="transient", rule="builtin.grpc-transient"),
    vec("the newest Retry-After wins", "transcribed: two throttled responses in a row",
        "Retry-After: 5\nretrying\nRetry-After: 45\n", readers=["retry-after"], pushback=45000, cls="unknown"),
    vec("an HTTP-date Retry-After cannot be resolved without a clock", "transcribed: RFC 9110 Retry-After HTTP-date",
        "HTTP/1.1 503 Service Unavailable\nRetry-After: Wed, 01 May 2024 12:05:00 GMT\n",
        http=503, readers=[HS], pushback=None, cls="transient", rule="builtin.http-transient"),
]
TOTAL += suite("logs-providers.json", "Provider codes, HTTP statuses and Retry-After inside messages", PROV)

# ---------------------------------------------------------------------------
# gRPC in every runtime.

GRPC = [
    vec("grpc-go Unavailable via log.Fatal", "transcribed: grpc-go status.Error text (`rpc error: code = %s desc = %s`)",
        '2024/05/01 12:00:00 feature lookup: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.5:9000: connect: connection refused"\n',
        grpc="UNAVAILABLE", code="ECONNREFUSED", readers=[GS, EN], cls="transient", rule="builtin.network-errno"),
    vec("grpc-go ResourceExhausted", "transcribed: grpc-go status.Error text",
        "2024/05/01 12:00:00 write rows: rpc error: code = ResourceExhausted desc = Quota exceeded for quota metric 'Write requests'\n",
        grpc="RESOURCE_EXHAUSTED", readers=[GS], cls="transient", rule="builtin.grpc-transient"),
    vec("grpc-go PermissionDenied", "transcribed: grpc-go status.Error text",
        "2024/05/01 12:00:00 open table: rpc error: code = PermissionDenied desc = caller does not have permission\n",
        grpc="PERMISSION_DENIED", readers=[GS], cls="permanent", rule="builtin.grpc-permanent"),
    vec("grpc-java StatusRuntimeException with a cause", "transcribed: grpc-java Status.asRuntimeException and netty's connect error",
        "Exception in thread \"main\" io.grpc.StatusRuntimeException: UNAVAILABLE: io exception\n"
        "\tat io.grpc.stub.ClientCalls.toStatusRuntimeException(ClientCalls.java:268)\n"
        "\tat io.grpc.stub.ClientCalls.getUnchecked(ClientCalls.java:249)\n"
        "\tat com.example.features.Client.lookup(Client.java:41)\n"
        "Caused by: io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: /10.0.0.5:9000\n"
        "Caused by: java.net.ConnectException: Connection refused\n"
        "\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)\n"
        "\t... 7 more\n",
        types=["io.grpc.StatusRuntimeException", "io.netty.channel.AbstractChannel$AnnotatedConnectException", "java.net.ConnectException"],
        grpc="UNAVAILABLE", code="ECONNREFUSED", readers=["jvm", GS, EN], cls="transient", rule="builtin.network-errno"),
    vec("grpc-js error", "transcribed: @grpc/grpc-js call.ts callErrorFromStatus (`${code} ${Status[code]}: ${details}`)",
        "Error: 14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:50051\n"
        "    at callErrorFromStatus (/app/node_modules/@grpc/grpc-js/build/src/call.js:31:19)\n"
        "    at Object.onReceiveStatus (/app/node_modules/@grpc/grpc-js/build/src/client.js:193:76) {\n"
        "  code: 14,\n  details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:50051',\n  metadata: Metadata { internalRepr: Map(0) {}, options: {} }\n}\n",
        types=["Error"], grpc="UNAVAILABLE", code="ECONNREFUSED", readers=["node", GS, EN], cls="transient", rule="builtin.network-errno"),
    vec("grpc.aio AioRpcError", "transcribed: grpc/aio/_call.py AioRpcError.__str__",
        tb("/app/a.py:9:main:await stub.Get(req)",
           "grpc.aio._call.AioRpcError: <AioRpcError of RPC that terminated with:\n\tstatus = StatusCode.ABORTED\n\tdetails = \"transaction aborted, retry\"\n\tdebug_error_string = \"UNKNOWN:Error received from peer  {grpc_message:\"transaction aborted, retry\", grpc_status:10}\"\n>"),
        types=["grpc.aio._call.AioRpcError"], grpc="ABORTED", readers=[PT, GS], cls="unknown"),
    vec("JAX XlaRuntimeError INTERNAL", "transcribed: jaxlib XlaRuntimeError (absl status `CODE: message`)",
        tb("/app/train.py:55:<module>:state = train_step(state, batch)", "jaxlib.xla_extension.XlaRuntimeError: INTERNAL: Failed to execute XLA Runtime executable: run time error: custom call 'xla.gpu.all_reduce' failed."),
        types=["jaxlib.xla_extension.XlaRuntimeError"], grpc="INTERNAL", readers=[PT, GS], cls="unknown"),
    vec("TensorFlow UnavailableError by class", "transcribed: tensorflow/python/framework/errors_impl.py class names",
        tb("/app/train.py:20:<module>:model.fit(ds)", "tensorflow.python.framework.errors_impl.UnavailableError: Socket closed"),
        types=["tensorflow.python.framework.errors_impl.UnavailableError"], grpc="UNAVAILABLE", readers=[PT, GS], cls="transient", rule="builtin.grpc-transient"),
    vec("a number and a name that disagree are not a status", "transcribed: a log line that only looks like grpc-js",
        "worker 3 READY: 12 shards assigned\n", readers=[], cls="unknown"),
]
TOTAL += suite("logs-grpc.json", "gRPC statuses from grpcio, grpc-go, grpc-java, grpc-js, JAX and TensorFlow", GRPC)

# ---------------------------------------------------------------------------
# JVM, Node, Go and native runtimes.

SPARK = ("24/05/01 12:00:00 ERROR Executor: Exception in task 3.0 in stage 4.0 (TID 41)\n"
         "Exception in thread \"main\" org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 4.0 failed 4 times, most recent failure: Lost task 3.3 in stage 4.0 (TID 41) (10.0.3.7 executor 2): java.io.IOException: No space left on device\n"
         "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2785)\n"
         "\tat org.apache.spark.scheduler.DAGScheduler.$anonfun$abortStage$2(DAGScheduler.scala:2721)\n"
         "Caused by: java.io.IOException: No space left on device\n"
         "\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)\n"
         "\tat org.apache.spark.storage.DiskBlockObjectWriter.write(DiskBlockObjectWriter.scala:312)\n"
         "\t... 12 more\n")
FLINK = ("org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy\n"
         "\tat org.apache.flink.runtime.executiongraph.failover.flip1.ExecutionFailureHandler.handleFailure(ExecutionFailureHandler.java:139)\n"
         "Caused by: java.util.concurrent.TimeoutException: Heartbeat of TaskManager with id tm-7 timed out.\n"
         "\tat org.apache.flink.runtime.jobmaster.JobMaster$TaskManagerHeartbeatListener.notifyHeartbeatTimeout(JobMaster.java:1436)\n"
         "\t... 30 more\n")
JVM_RESET = ("Exception in thread \"main\" java.lang.RuntimeException: fetch failed\n"
             "\tat com.example.Loader.load(Loader.java:22)\n"
             "\tSuppressed: java.lang.IllegalStateException: close failed\n"
             "\t\tat com.example.Loader.close(Loader.java:40)\n"
             "Caused by: java.net.SocketException: Connection reset\n"
             "\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:328)\n"
             "\t... 3 more\n")
JVM_OOM = ("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n"
           "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n"
           "\tat org.apache.spark.util.collection.PartitionedPairBuffer.growArray(PartitionedPairBuffer.scala:67)\n")
YARN = ("24/05/01 12:00:00 WARN YarnAllocator: Container killed by YARN for exceeding physical memory limits. 10.5 GB of 10 GB physical memory used. Consider boosting spark.executor.memoryOverhead.\n"
        "24/05/01 12:00:01 ERROR YarnScheduler: Lost executor 2 on node-4: Container killed by YARN for exceeding physical memory limits.\n")
NODE_RESET = ("node:events:497\n      throw er; // Unhandled 'error' event\n      ^\n\n"
              "Error: read ECONNRESET\n"
              "    at TCP.onStreamRead (node:internal/stream_base_commons:217:20)\n"
              "Emitted 'error' event on ClientRequest instance at:\n"
              "    at emitErrorEvent (node:_http_client:101:11) {\n"
              "  errno: -104,\n  code: 'ECONNRESET',\n  syscall: 'read'\n}\n\nNode.js v20.11.0\n")
NODE_FETCH = ("TypeError: fetch failed\n"
              "    at node:internal/deps/undici/undici:13502:13\n"
              "    at async main (file:///app/sync.mjs:3:3) {\n"
              "  [cause]: Error: connect ECONNREFUSED 127.0.0.1:8080\n"
              "      at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16) {\n"
              "    errno: -111,\n    code: 'ECONNREFUSED',\n    syscall: 'connect',\n    address: '127.0.0.1',\n    port: 8080\n  }\n}\n\nNode.js v22.3.0\n")
NODE_AWS = ("ThrottlingException: Rate exceeded\n"
            "    at throwDefaultError (/app/node_modules/@smithy/smithy-client/dist-cjs/index.js:867:20)\n"
            "    at /app/node_modules/@smithy/smithy-client/dist-cjs/index.js:876:5 {\n"
            "  '$fault': 'client',\n  '$metadata': {\n    httpStatusCode: 400,\n    requestId: '5d7e0f3c-1b2a-4c3d-9e8f-0a1b2c3d4e5f',\n    attempts: 3,\n    totalRetryDelay: 1205\n  },\n  __type: 'ThrottlingException'\n}\n")
NODE_AXIOS = ("AxiosError: Request failed with status code 503\n"
              "    at settle (/app/node_modules/axios/dist/node/axios.cjs:1983:12)\n"
              "    at IncomingMessage.handleStreamEnd (/app/node_modules/axios/dist/node/axios.cjs:3085:11) {\n"
              "  code: 'ERR_BAD_RESPONSE',\n  status: 503\n}\n")
NODE_ERRCODE = ("Error [ERR_STREAM_PREMATURE_CLOSE]: Premature close\n"
                "    at onclose (node:internal/streams/end-of-stream:154:30)\n"
                "    at process.processTicksAndRejections (node:internal/process/task_queues:77:11) {\n"
                "  code: 'ERR_STREAM_PREMATURE_CLOSE'\n}\n")
GO_PANIC = ("panic: load features: read tcp 10.0.0.7:51234->10.0.0.9:443: read: connection reset by peer\n\n"
            "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:42 +0x1d\nexit status 2\n")
GO_NIL = ("panic: runtime error: invalid memory address or nil pointer dereference\n"
          "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47b8e5]\n\n"
          "goroutine 1 [running]:\nmain.(*Loader).Load(0x0)\n\t/app/loader.go:17 +0x25\nmain.main()\n\t/app/main.go:9 +0x1c\nexit status 2\n")
GO_OOM = ("fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw({0x4d1b2e?, 0x400000?})\n"
          "\t/usr/local/go/src/runtime/panic.go:1023 +0x5c fp=0x7ffc1a2b3c40 sp=0x7ffc1a2b3c10 pc=0x438e7c\n")
GO_TIMEOUT = "2024/05/01 12:00:00 sync: Get \"https://10.0.0.9/v1/rows\": dial tcp 10.0.0.9:443: i/o timeout\n"
RUST_PANIC = ("thread 'main' panicked at src/main.rs:42:10:\n"
              "called `Result::unwrap()` on an `Err` value: Os { code: 28, kind: StorageFull, message: \"No space left on device\" }\n"
              "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n")

RT = [
    vec("a Spark driver trace with Caused by", "transcribed: Throwable.printStackTrace of a SparkException (DAGScheduler abortStage)", SPARK,
        types=["org.apache.spark.SparkException", "java.io.IOException"], bases=[], code="ENOSPC", readers=["jvm", EN],
        cls="permanent", rule="builtin.ml.disk-full"),
    vec("a Flink job failure caused by a heartbeat timeout", "transcribed: Flink JobMaster heartbeat timeout", FLINK,
        types=["org.apache.flink.runtime.JobException", "java.util.concurrent.TimeoutException"], readers=["jvm"], cls="unknown"),
    vec("suppressed exceptions are skipped; Connection reset", "transcribed: Throwable.printStackTrace with Suppressed and Caused by", JVM_RESET,
        types=["java.lang.RuntimeException", "java.net.SocketException"], code="ECONNRESET", readers=["jvm", EN],
        cls="transient", rule="builtin.network-errno"),
    vec("java.lang.OutOfMemoryError", "transcribed: JVM heap exhaustion", JVM_OOM,
        types=["java.lang.OutOfMemoryError"], readers=["jvm"], cls="permanent", rule="builtin.ml.jvm-oom"),
    vec("YARN killed the container for memory", "transcribed: Spark YarnAllocator warning", YARN,
        readers=[], cls="permanent", rule="builtin.ml.host-oom-record"),
    vec("Node unhandled ECONNRESET", "transcribed: Node.js util.inspect of a system error (node:events unhandled 'error')", NODE_RESET,
        types=["Error"], code="ECONNRESET", message="read ECONNRESET", readers=["node"], cls="transient", rule="builtin.network-errno"),
    vec("Node fetch failed with a [cause]", "transcribed: undici fetch failed, Node 22 error.cause printing", NODE_FETCH,
        types=["TypeError", "Error"], code="ECONNREFUSED", readers=["node"], cls="transient", rule="builtin.network-errno"),
    vec("AWS SDK for JavaScript v3 throttling", "transcribed: @smithy/smithy-client throwDefaultError output", NODE_AWS,
        types=["ThrottlingException"], http=400, code="ThrottlingException", readers=["node", HS], cls="transient", rule="builtin.cloud-throttling"),
    vec("axios 503", "transcribed: axios settle() AxiosError", NODE_AXIOS,
        types=["AxiosError"], http=503, code="ERR_BAD_RESPONSE", readers=["node", HS], cls="transient", rule="builtin.http-transient"),
    vec("Node Error [CODE] form", "transcribed: Node internal errors (`Error [ERR_X]: message`)", NODE_ERRCODE,
        types=["Error"], code="ERR_STREAM_PREMATURE_CLOSE", readers=["node"], cls="unknown"),
    vec("a Go panic with a wrapped error", "transcribed: Go runtime printpanicval of an error from fmt.Errorf(\"%w\")", GO_PANIC, exit_code=2,
        types=["go.panic"], code="ECONNRESET", readers=["go-panic", EN], cls="transient", rule="builtin.network-errno",
        message="load features: read tcp 10.0.0.7:51234->10.0.0.9:443: read: connection reset by peer"),
    vec("a Go nil dereference", "transcribed: Go runtime error panic", GO_NIL, exit_code=2,
        types=["runtime.Error"], readers=["go-panic"], cls="unknown"),
    vec("Go runtime out of memory", "transcribed: Go runtime throw (fatal error)", GO_OOM, exit_code=2,
        types=["go.fatal"], message="runtime: out of memory", readers=["go-panic"], cls="permanent", rule="builtin.ml.host-oom-record"),
    vec("Go dial i/o timeout", "transcribed: Go net.OpError text via log.Fatal", GO_TIMEOUT,
        code="ETIMEDOUT", readers=[EN], cls="transient", rule="builtin.network-errno"),
    vec("a Rust panic", "transcribed: Rust std panic message (1.73+ format)", RUST_PANIC, exit_code=101,
        types=["rust.panic"], code="ENOSPC", readers=["native", EN], cls="permanent", rule="builtin.ml.disk-full"),
]
TOTAL += suite("logs-runtimes.json", "JVM, Node, Go and native runtime errors", RT)

# ---------------------------------------------------------------------------
# errno names and strerror texts.

def oserr(kind, n, text, extra=""):
    return tb("/app/a.py:2:<module>:f()", f"{kind}: [Errno {n}] {text}{extra}")


ERRNO = [
    vec("ENOSPC by number", "transcribed: CPython OSError str()", oserr("OSError", 28, "No space left on device", ": '/data/part-0'"),
        types=["OSError"], code="ENOSPC", readers=[PT, EN], cls="permanent", rule="builtin.ml.disk-full"),
    vec("EDQUOT by number", "transcribed: CPython OSError str()", oserr("OSError", 122, "Disk quota exceeded"),
        types=["OSError"], code="EDQUOT", readers=[PT, EN], cls="permanent", rule="builtin.ml.disk-full"),
    vec("EACCES is recognised but not classified", "transcribed: CPython PermissionError", oserr("PermissionError", 13, "Permission denied", ": '/data/out'"),
        types=["PermissionError"], bases=["OSError"], code="EACCES", readers=[PT, EN], cls="unknown"),
    vec("EPIPE", "transcribed: CPython BrokenPipeError", oserr("BrokenPipeError", 32, "Broken pipe"),
        types=["BrokenPipeError"], bases=CONN_BASES, code="EPIPE", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    vec("ETIMEDOUT", "transcribed: CPython TimeoutError", oserr("TimeoutError", 110, "Connection timed out"),
        types=["TimeoutError"], bases=["OSError"], code="ETIMEDOUT", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    vec("ENETUNREACH", "transcribed: CPython OSError", oserr("OSError", 101, "Network is unreachable"),
        types=["OSError"], code="ENETUNREACH", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    vec("EMFILE is recognised but not classified", "transcribed: CPython OSError", oserr("OSError", 24, "Too many open files"),
        types=["OSError"], code="EMFILE", readers=[PT, EN], cls="unknown"),
    vec("EAI_NONAME from getaddrinfo", "transcribed: CPython socket.gaierror", tb("/app/a.py:2:<module>:f()", "socket.gaierror: [Errno -2] Name or service not known"),
        types=["socket.gaierror"], code="EAI_NONAME", readers=[PT, EN], cls="unknown"),
    vec("EAI_AGAIN inside a URLError", "transcribed: urllib.error.URLError str()", tb("/app/a.py:2:<module>:urlopen(u)", "urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>"),
        types=["urllib.error.URLError"], code="EAI_AGAIN", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
    vec("a coreutils write error", "transcribed: GNU cp error message (strerror)", "cp: error writing '/mnt/out/part-00007.parquet': No space left on device\n",
        code="ENOSPC", readers=[EN], cls="permanent", rule="builtin.ml.disk-full"),
    vec("rsync connection reset", "transcribed: rsync io.c error text", "rsync: connection unexpectedly closed (0 bytes received so far) [Receiver]\nrsync error: error in rsync protocol data stream (code 12) at io.c(231) [Receiver=3.2.7]\nrsync: read error: Connection reset by peer (104)\n",
        exit_code=12, code="ECONNRESET", readers=[EN], cls="transient", rule="builtin.network-errno"),
    vec("a bare errno name", "transcribed: a Node-style log line", "upload failed: ECONNRESET\n", code="ECONNRESET", readers=[EN],
        cls="transient", rule="builtin.network-errno"),
    vec("the innermost strerror text wins", "transcribed: requests ('Connection aborted.', ...) repr", tb("/app/a.py:2:<module>:f()", "requests.exceptions.ConnectionError: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"),
        types=["requests.exceptions.ConnectionError"], code="ECONNRESET", readers=[PT, EN], cls="transient", rule="builtin.network-errno"),
]
TOTAL += suite("logs-errno.json", "errno numbers, names and strerror texts", ERRNO)

# ---------------------------------------------------------------------------
# The ML failure taxonomy (builtin.ml.*), one or more tails per rule.

NCCL_LINES = (
    "[rank1]:[E501 12:00:00.000000000 ProcessGroupNCCL.cpp:616] [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=668, OpType=ALLREDUCE, NumelIn=52, NumelOut=52, Timeout(ms)=600000) ran for 600097 milliseconds before timing out.\n"
    "[rank1]:[E501 12:00:00.000000000 ProcessGroupNCCL.cpp:630] [Rank 1] Some NCCL operations have failed or timed out. Due to the asynchronous nature of CUDA kernels, subsequent GPU operations might run on corrupted/incomplete data.\n"
    "[rank1]:[E501 12:00:00.000000000 ProcessGroupNCCL.cpp:636] [Rank 1] To avoid data inconsistency, we are taking the entire process down.\n")
NCCL_TERMINATE = (NCCL_LINES
    + "terminate called after throwing an instance of 'c10::DistBackendError'\n"
    "  what():  [PG ID 0 PG GUID 0(default_pg) Rank 1] Process group watchdog thread terminated with exception: [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=668, OpType=ALLREDUCE, NumelIn=52, NumelOut=52, Timeout(ms)=600000) ran for 600097 milliseconds before timing out.\n"
    "Exception raised from checkTimeout at ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:618 (most recent call first):\n"
    "frame #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x96 (0x7f3a2c1b9d60 in /usr/local/lib/python3.10/dist-packages/torch/lib/libc10.so)\n")
TORCHRUN = (NCCL_LINES + tb("/usr/local/bin/torchrun:8:<module>:sys.exit(main())",
    "/venv/site-packages/torch/distributed/run.py:892:run:elastic_launch(",
    "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n"
    "============================================================\ntrain.py FAILED\n------------------------------------------------------------\n"
    "Failures:\n  <NO_OTHER_FAILURES>\n------------------------------------------------------------\nRoot Cause (first observed failure):\n[0]:\n"
    "  time      : 2024-05-01_12:00:00\n  host      : node-3\n  rank      : 1 (local_rank: 1)\n  exitcode  : -6 (pid: 4242)\n"
    "  error_file: <N/A>\n  traceback : Signal 6 (SIGABRT) received by PID 4242\n============================================================"))
DMESG_OOM = ("Killed\n[12345.678901] Out of memory: Killed process 4242 (python) total-vm:98765432kB, anon-rss:65432100kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:130000kB oom_score_adj:0\n")
CGROUP_OOM = ("[ 2201.402118] Memory cgroup out of memory: Killed process 5151 (python3) total-vm:20971520kB, anon-rss:16777216kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:33000kB oom_score_adj:994\n")
K8S_OOM = ("    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n")

ML = [
    vec("torch.cuda.OutOfMemoryError (PyTorch 1.13-2.4)", "transcribed: c10/cuda/CUDACachingAllocator.cpp OOM message",
        tb("/app/train.py:88:<module>:out = model(x)", "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 39.39 GiB total capacity; 35.12 GiB already allocated; 1.52 GiB free; 36.41 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation.  See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF"),
        types=["torch.cuda.OutOfMemoryError"], readers=[PT], cls="permanent", rule="builtin.ml.gpu-oom"),
    vec("RuntimeError: CUDA out of memory (PyTorch 1.x)", "transcribed: c10/cuda/CUDACachingAllocator.cpp (pre-1.13 RuntimeError)",
        tb("/app/train.py:88:<module>:loss.backward()", "RuntimeError: CUDA out of memory. Tried to allocate 36.00 MiB (GPU 0; 7.93 GiB total capacity; 130.35 MiB already allocated; 47.06 MiB free; 188.00 MiB reserved in total by PyTorch)"),
        types=["RuntimeError"], readers=[PT], cls="permanent", rule="builtin.ml.gpu-oom-message"),
    vec("CUDA error: out of memory", "transcribed: c10/cuda/CUDAException.h C10_CUDA_CHECK text",
        tb("/app/train.py:12:<module>:model.cuda()", "RuntimeError: CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1."),
        types=["RuntimeError"], readers=[PT], cls="permanent", rule="builtin.ml.gpu-oom-message"),
    vec("MPS backend out of memory", "transcribed: aten/src/ATen/mps/MPSAllocator.mm",
        tb("/app/train.py:12:<module>:y = model(x)", "RuntimeError: MPS backend out of memory (MPS allocated: 17.36 GB, other allocations: 1.25 GB, max allowed: 18.13 GB). Tried to allocate 256.00 MB on private pool."),
        types=["RuntimeError"], readers=[PT], cls="permanent", rule="builtin.ml.gpu-oom-message"),
    vec("TensorFlow ResourceExhaustedError OOM", "transcribed: tensorflow/core/common_runtime/bfc_allocator.cc via errors_impl.ResourceExhaustedError",
        tb("/app/train.py:40:<module>:model.fit(ds, epochs=10)", "tensorflow.python.framework.errors_impl.ResourceExhaustedError: {{function_node __wrapped__Conv2D_device_/job:localhost/replica:0/task:0/device:GPU:0}} OOM when allocating tensor with shape[32,1024,64,64] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc [Op:Conv2D]"),
        types=["tensorflow.python.framework.errors_impl.ResourceExhaustedError"], grpc="RESOURCE_EXHAUSTED", readers=[PT, GS],
        cls="permanent", rule="builtin.ml.gpu-oom-message"),
    vec("JAX XLA out of memory", "transcribed: xla/stream_executor allocator (absl RESOURCE_EXHAUSTED) via jaxlib XlaRuntimeError",
        tb("/app/train.py:55:<module>:state = train_step(state, batch)", "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 17179869184 bytes."),
        types=["jaxlib.xla_extension.XlaRuntimeError"], grpc="RESOURCE_EXHAUSTED", readers=[PT, GS], cls="permanent", rule="builtin.ml.gpu-oom-message"),
    vec("JAX JaxRuntimeError out of memory", "transcribed: jax.errors.JaxRuntimeError (jax 0.4.36+)",
        tb("/app/train.py:55:<module>:out = f(x)", "jax.errors.JaxRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 5.51GiB."),
        types=["jax.errors.JaxRuntimeError"], grpc="RESOURCE_EXHAUSTED", readers=[PT, GS], cls="permanent", rule="builtin.ml.gpu-oom-message"),
    vec("NCCL watchdog abort (C++ terminate)", "transcribed: torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp checkTimeout / handleException",
        NCCL_TERMINATE, exit_code=None, signal="SIGABRT", types=["c10::DistBackendError"], readers=["native", "markers"],
        cls="transient", rule="builtin.ml.nccl-timeout"),
    vec("torchrun ChildFailedError after a watchdog timeout", "transcribed: torch/distributed/elastic/multiprocessing/errors ChildFailedError + ProcessGroupNCCL.cpp",
        TORCHRUN, types=["torch.distributed.elastic.multiprocessing.errors.ChildFailedError"], readers=[PT, "markers"],
        cls="transient", rule="builtin.ml.nccl-timeout"),
    vec("NCCL unhandled system error", "transcribed: torch/csrc/distributed/c10d/NCCLUtils.hpp C10D_NCCL_CHECK message",
        tb("/app/train.py:30:<module>:dist.all_reduce(t)", "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970, unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.19.3\nncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error.\nLast error:\nsocketStartConnect: Connect to 10.0.3.7<56321> failed : Software caused connection abort"),
        types=["torch.distributed.DistBackendError"], code="ECONNABORTED", readers=[PT, EN], cls="transient", rule="builtin.ml.nccl-timeout"),
    vec("torch.distributed store timeout", "transcribed: torch/csrc/distributed/c10d/TCPStore.cpp DistStoreError",
        tb("/app/train.py:10:<module>:dist.init_process_group('nccl')", "torch.distributed.DistStoreError: Timed out after 901 seconds waiting for clients. 3/4 clients joined."),
        types=["torch.distributed.DistStoreError"], readers=[PT], cls="transient", rule="builtin.ml.dist-network"),
    vec("the kernel OOM killer record", "transcribed: mm/oom_kill.c dump message (dmesg), appended by the host", DMESG_OOM,
        exit_code=None, signal="SIGKILL", readers=[], cls="permanent", rule="builtin.ml.host-oom-record"),
    vec("a cgroup OOM kill", "transcribed: mm/oom_kill.c memcg message", CGROUP_OOM, exit_code=137,
        readers=[], cls="permanent", rule="builtin.ml.host-oom-record"),
    vec("Kubernetes OOMKilled", "transcribed: kubectl describe pod (container lastState.terminated.reason)", K8S_OOM, exit_code=137,
        readers=[], cls="permanent", rule="builtin.ml.host-oom-record"),
    vec("SIGKILL with no OOM record stays unknown", "transcribed: bash reporting a killed child", "epoch 4/10\nKilled\n",
        exit_code=None, signal="SIGKILL", readers=[], cls="unknown", rule="builtin.ml.sigkill"),
    vec("signal 9 by number", "transcribed: a host passing the signal number", "epoch 4/10\n", exit_code=None, signal="9",
        readers=[], cls="unknown", rule="builtin.ml.sigkill"),
    vec("exit 137 with no OOM record stays unknown", "transcribed: a container runtime's exit status", "step 1200/5000\n",
        exit_code=137, readers=[], cls="unknown", rule="builtin.ml.exit-137"),
    vec("SIGTERM is preemption", "transcribed: a spot instance reclaim", "Epoch 3:  45%|####5     | 450/1000\n",
        exit_code=None, signal="SIGTERM", readers=[], cls="transient", rule="builtin.ml.preempted"),
    vec("exit 143 is preemption", "transcribed: a container stopped by the kubelet", "Epoch 3:  45%|####5     | 450/1000\n",
        exit_code=143, readers=[], cls="transient", rule="builtin.ml.preempted-exit"),
    vec("DisruptionTarget condition", "transcribed: Kubernetes pod condition type DisruptionTarget (reason PreemptionByScheduler)",
        "Conditions:\n  Type              Status\n  DisruptionTarget  True\n  Reason: PreemptionByScheduler\n",
        exit_code=None, readers=[], cls="transient", rule="builtin.ml.disruption-message"),
    vec("Keras TerminateOnNaN", "transcribed: keras/src/callbacks/terminate_on_nan.py", "1200/5000 [=====>........] - loss: nan\nBatch 1201: Invalid loss, terminating training\n",
        readers=[], cls="permanent", rule="builtin.ml.loss-divergence"),
    vec("autograd anomaly mode NaN", "transcribed: torch/csrc/autograd/engine.cpp validate_outputs (anomaly mode)",
        tb("/app/train.py:91:<module>:loss.backward()", "RuntimeError: Function 'MulBackward0' returned nan values in its 0th output."),
        types=["RuntimeError"], readers=[PT], cls="permanent", rule="builtin.ml.loss-divergence"),
    vec("DeepSpeed loss scale at minimum", "transcribed: deepspeed/runtime/fp16/loss_scaler.py DynamicLossScaler",
        tb("/app/train.py:91:<module>:engine.step()", "Exception: Current loss scale already at minimum - cannot decrease scale anymore. Exiting run."),
        types=["Exception"], readers=[PT], cls="permanent", rule="builtin.ml.loss-divergence"),
    vec("fairseq minimum loss scale", "transcribed: fairseq/optim/dynamic_loss_scaler.py",
        tb("/app/train.py:91:<module>:trainer.train_step(samples)", "FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably exploding. Try lowering the learning rate, using gradient clipping or increasing the batch size."),
        types=["FloatingPointError"], bases=["ArithmeticError"], readers=[PT], cls="permanent", rule="builtin.ml.loss-divergence"),
    vec("a NaN loss line before a generic failure", "transcribed: a training loop's own check",
        "step 1199 loss=2.3141\nstep 1200 loss is nan, stopping\n" + tb("/app/train.py:120:<module>:raise RuntimeError('training diverged')", "RuntimeError: training diverged"),
        types=["RuntimeError"], message="training diverged\nstep 1200 loss is nan, stopping", readers=[PT, "markers"],
        cls="permanent", rule="builtin.ml.loss-divergence"),
    vec("pyarrow ArrowInvalid on a corrupt file", "transcribed: arrow/cpp/src/parquet/file_reader.cc",
        tb("/app/load.py:8:<module>:pq.read_table(path)", "pyarrow.lib.ArrowInvalid: Parquet magic bytes not found in footer. Either the file is corrupted or this is not a parquet file."),
        types=["pyarrow.lib.ArrowInvalid"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("pandas missing columns", "transcribed: pandas/core/indexes/base.py _raise_if_missing",
        tb("/app/feat.py:14:<module>:X = df[['age', 'label']]", "KeyError: \"['label'] not in index\""),
        types=["KeyError"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("polars ColumnNotFoundError", "transcribed: polars exceptions",
        tb("/app/feat.py:14:<module>:df.select('label')", "polars.exceptions.ColumnNotFoundError: label"),
        types=["polars.exceptions.ColumnNotFoundError"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("PySpark unresolved column", "transcribed: pyspark/errors/exceptions/captured.py AnalysisException ([UNRESOLVED_COLUMN])",
        tb("/app/job.py:20:<module>:df.select('label')", "pyspark.errors.exceptions.captured.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `label` cannot be resolved. Did you mean one of the following? [`id`, `features`].;"),
        types=["pyspark.errors.exceptions.captured.AnalysisException"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("a missing column in a message only", "transcribed: pyarrow's message re-raised as a plain error",
        tb("/app/load.py:8:<module>:check(table)", "pipeline.DataError: Field \"label\" does not exist in schema"),
        types=["pipeline.DataError"], readers=[PT], cls="permanent", rule="builtin.ml.missing-column"),
]
TOTAL += suite("logs-ml-taxonomy.json", "The ML failure taxonomy: GPU and host OOM, NCCL, preemption, disk, hub limits, data errors, divergence", ML)

# ---------------------------------------------------------------------------
# Reader order and tie-breaks (docs/POLICY.md "Log readers").

ORDER = [
    vec("the error that ends latest wins across readers", "order: a Python traceback, then a Go panic (a Python step running a Go tool)",
        tb("/app/a.py:1:<module>:f()", "ValueError: bad") + GO_PANIC, exit_code=2, types=["go.panic"], code="ECONNRESET",
        readers=["go-panic", EN], cls="transient", rule="builtin.network-errno"),
    vec("a later Python traceback beats an earlier JVM trace", "order: a Spark log then the driver script's traceback",
        JVM_RESET + tb("/app/job.py:3:<module>:spark.stop()", "ValueError: shutdown failed"), types=["ValueError"], readers=[PT], cls="unknown"),
    vec("a tie goes to the earlier reader (Python before JVM)", "order: a Py4J error whose message ends with the JVM frames", PY4J,
        types=["py4j.protocol.Py4JJavaError"], code="ENOSPC", readers=[PT, EN], cls="permanent", rule="builtin.ml.disk-full"),
    vec("codes come from the error, not other lines", "order: an earlier retry log line mentions a 503",
        "WARNING retrying GET /v1/rows after HTTP 503\n" + tb("/app/a.py:1:<module>:rows['x']", "KeyError: 'x'"),
        types=["KeyError"], http=None, readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("with no error recognised, the newest line wins", "order: two status lines",
        "GET /v1/a -> 503 Service Unavailable\nGET /v1/b -> 404 Not Found\n", http=404, readers=[HS], cls="permanent", rule="builtin.http-permanent"),
    vec("a provider code beats an errno text in one message", "order: botocore code and a reset in the same message",
        tb("/app/a.py:1:<module>:f()", "botocore.exceptions.ClientError: " + boto("RequestTimeout", "UploadPart", "", "Connection reset by peer while reading")),
        types=["botocore.exceptions.ClientError"], code="RequestTimeout", readers=[PT, BC], cls="transient", rule="builtin.cloud-transient"),
    vec("the outermost error's code beats its cause's", "order: a ClientError caused by a reset",
        tb("/app/a.py:1:<module>:f()", "ConnectionResetError: [Errno 104] Connection reset by peer")
        + "\nDuring handling of the above exception, another exception occurred:\n\n"
        + tb("/app/a.py:3:<module>:g()", "botocore.exceptions.ClientError: " + boto("SlowDown", "GetObject", "", "Please reduce your request rate.")),
        types=["botocore.exceptions.ClientError", "ConnectionResetError"], code="SlowDown", readers=[PT, BC], cls="transient", rule="builtin.cloud-throttling"),
    vec("the single-line fallback only runs when no reader found an error", "order: a logged exception line after a traceback",
        tb("/app/a.py:1:<module>:f()", "KeyError: 'label'") + "ERROR:root:requests.exceptions.ConnectionError: connection dropped\n",
        types=["KeyError"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("HTTP statuses in a message before gRPC and errno", "order: one message with a status, a gRPC code and an errno text",
        "sync failed: 503 Service Unavailable; rpc error: code = Unavailable desc = connection reset by peer\n",
        http=503, grpc="UNAVAILABLE", code="ECONNRESET", readers=[HS, GS, EN], cls="transient", rule="builtin.network-errno"),
]
TOTAL += suite("logs-order.json", "Which reader wins, and which fields each contributes", ORDER)

# ---------------------------------------------------------------------------
# Hostile but small tails (the megabyte ones are in each host's own tests).

HOSTILE = [
    vec("an empty tail", "hostile", "", readers=[], cls="unknown", summary="no error recognised (exit code 1)"),
    vec("whitespace only", "hostile", "\n\n   \n\t\n", readers=[], cls="unknown"),
    vec("replacement characters from invalid UTF-8", "hostile: bytes 0xff 0xfe decoded lossily by the host",
        "\ufffd\ufffd garbage \ufffd\n" + tb("/app/a.py:1:<module>:f()", "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://x/\ufffd"),
        types=["requests.exceptions.HTTPError"], http=503, readers=[PT, HS], cls="transient", rule="builtin.http-transient"),
    vec("NUL and other control characters are dropped", "hostile", "\x00\x07\x08KeyError: 'x'\x00\n",
        types=["KeyError"], message="'x'", readers=["exception-line"], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("an unterminated escape sequence", "hostile", "\x1b[31", readers=[], cls="unknown"),
    vec("a very long line keeps its beginning", "hostile: one 12 KB line",
        "botocore.exceptions.ClientError: " + boto("SlowDown", "GetObject", "", "Please reduce your request rate. ") + "x" * 12000 + "\n",
        types=["botocore.exceptions.ClientError"], code="SlowDown", readers=["exception-line", BC], cls="transient", rule="builtin.cloud-throttling"),
    vec("a traceback header with nothing after it", "hostile: output cut mid-traceback", "Traceback (most recent call last):\n  File \"/app/a.py\", line 1, in <module>\n",
        readers=[], cls="unknown"),
    vec("a JSON line that is not an object", "hostile", "[1, 2, 3]\n\"just a string\"\n{not json}\n", readers=[], cls="unknown"),
    vec("a nested JSON error object is read as text", "hostile", '{"level":"error","error":{"code":"ECONNRESET"}}\n',
        code="ECONNRESET", readers=[EN], cls="transient", rule="builtin.network-errno"),
    vec("stdout and stderr interleaved line by line", "hostile: combined stream",
        "stdout: epoch 1\nTraceback (most recent call last):\nstdout: epoch 2\n  File \"/app/a.py\", line 1, in <module>\nstdout: epoch 3\n    f()\nOSError: [Errno 28] No space left on device\nstdout: epoch 4\n",
        stream="combined", types=["OSError"], code="ENOSPC", readers=[PT, EN], cls="permanent", rule="builtin.ml.disk-full"),
    vec("a stdout tail", "the stream is informational", tb("/app/a.py:1:<module>:f()", "KeyError: 'x'"), stream="stdout",
        types=["KeyError"], readers=[PT], cls="permanent", rule="builtin.ml.dataset-schema"),
    vec("digits of other scripts are not an HTTP status", "hostile: Arabic-Indic digits",
        "upstream said HTTP 5\u0660\u0663\n", readers=[], cls="unknown"),
    vec("a Retry-After in other scripts' digits is skipped for an earlier one", "hostile: Arabic-Indic digits",
        "Retry-After: 30\nRetry-After: \u0663\n", readers=["retry-after"], pushback=30_000, cls="unknown"),
    vec("an errno number in other scripts' digits is skipped for an earlier one", "hostile: Arabic-Indic digits",
        "OSError: [Errno 111] connect failed; the retry said [Errno \u0661\u0660\u0664]\n",
        types=["OSError"], code="ECONNREFUSED", readers=["exception-line", EN], cls="transient", rule="builtin.network-errno"),
    vec("an errno text with a long s is skipped for an earlier one in ASCII",
        "hostile: a long s (U+017F), which only Unicode case folding takes for s",
        "read: connection reset by peer (first seen as: connection re\u017fet by peer)\n",
        code="ECONNRESET", readers=[EN], cls="transient", rule="builtin.network-errno"),
    vec("an errno text is matched in any ASCII case", "hostile: shouting logs",
        "READ: CONNECTION RESET BY PEER\n", code="ECONNRESET", readers=[EN], cls="transient", rule="builtin.network-errno"),
    {"name": "an unknown signal is an input error", "source": "hostile",
     "log": {"text": "x", "signal": "SIGNOPE"},
     "expect_error": {"code": "invalid-failure", "path": "log.signal", "line": None, "column": None,
                      "message": "`SIGNOPE` is not a signal name or number (1-64)"}},
]
TOTAL += suite("logs-hostile.json", "Hostile but small tails: empty, control characters, broken escapes and JSON, long lines", HOSTILE)
print(f"{TOTAL} log vectors")

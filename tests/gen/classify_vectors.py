"""Writes the classification conformance suites in tests/vectors/.

The JSON files are the corpus every host runs; this script is how they are
authored. Expectations here are written by hand, not computed by Backstop.
Run: python3 tests/gen/classify_vectors.py
"""
import json, os
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors")
def suite(name, description, vectors, policy=None):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump({"description": description, "policy": policy, "vectors": vectors}, f, indent=2, ensure_ascii=False)
        f.write("\n")
def ok(name, failure, cls, rule, reason=None, **kw):
    e = {"class": cls, "rule": rule}
    if reason is not None: e["reason"] = reason
    v = {"name": name, "failure": failure, "expect": e}; v.update(kw); return v
def bad(name, failure, code, path, message=None):
    e = {"code": code, "path": path, "line": None, "column": None}
    if message: e["message"] = message
    return {"name": name, "failure": failure, "expect_error": e}
NOMATCH = "no rule matched this failure"
def r(what, rule): return f"{what} matched rule `{rule}`"

HT, HP = "builtin.http-transient", "builtin.http-permanent"
suite("builtin-http.json", "Built-in HTTP status rules, and provider codes that outrank a 4xx status", [
    ok("503 is transient", {"http_status": 503}, "transient", HT, r("HTTP status 503", HT)),
    ok("500 is transient", {"http_status": 500}, "transient", HT),
    ok("502 is transient", {"http_status": 502}, "transient", HT),
    ok("504 is transient", {"http_status": 504}, "transient", HT),
    ok("408 is transient", {"http_status": 408}, "transient", HT),
    ok("429 is transient", {"http_status": 429}, "transient", HT, r("HTTP status 429", HT)),
    ok("501 is permanent", {"http_status": 501}, "permanent", HP, r("HTTP status 501", HP)),
    ok("400 is permanent", {"http_status": 400}, "permanent", HP),
    ok("401 is permanent", {"http_status": 401}, "permanent", HP),
    ok("403 is permanent", {"http_status": 403}, "permanent", HP),
    ok("404 is permanent", {"http_status": 404}, "permanent", HP),
    ok("499 is permanent", {"http_status": 499}, "permanent", HP),
    ok("505 is unknown", {"http_status": 505}, "unknown", None, NOMATCH),
    ok("599 is unknown", {"http_status": 599}, "unknown", None),
    ok("200 matches no rule", {"http_status": 200}, "unknown", None),
    ok("AWS throttling on a 400 is transient", {"http_status": 400, "error_code": "ThrottlingException"}, "transient", "builtin.cloud-throttling",
       r("error code `ThrottlingException`", "builtin.cloud-throttling")),
    ok("Google rateLimitExceeded on a 403 is transient", {"http_status": 403, "error_code": "rateLimitExceeded"}, "transient", "builtin.cloud-throttling"),
    ok("a non-retryable code on a 403 stays permanent", {"http_status": 403, "error_code": "AccessDenied"}, "permanent", HP),
    bad("status 600 is not HTTP", {"http_status": 600}, "invalid-failure", "failure.http_status", "600 is not an HTTP status code (100-599)"),
    bad("status 99 is not HTTP", {"http_status": 99}, "invalid-failure", "failure.http_status"),
    bad("status 0 is not HTTP", {"http_status": 0}, "invalid-failure", "failure.http_status"),
])

GT, GP = "builtin.grpc-transient", "builtin.grpc-permanent"
suite("builtin-grpc.json", "Built-in gRPC status rules; codes by name or number", [
    ok("UNAVAILABLE is transient", {"grpc_code": "UNAVAILABLE"}, "transient", GT, r("gRPC status UNAVAILABLE", GT)),
    ok("14 is UNAVAILABLE", {"grpc_code": "14"}, "transient", GT, r("gRPC status UNAVAILABLE", GT)),
    ok("names are case-insensitive", {"grpc_code": "unavailable"}, "transient", GT),
    ok("CamelCase names are accepted", {"grpc_code": "ResourceExhausted"}, "transient", GT, r("gRPC status RESOURCE_EXHAUSTED", GT)),
    ok("RESOURCE_EXHAUSTED is transient", {"grpc_code": "RESOURCE_EXHAUSTED"}, "transient", GT),
    ok("INVALID_ARGUMENT is permanent", {"grpc_code": "INVALID_ARGUMENT"}, "permanent", GP),
    ok("NOT_FOUND is permanent", {"grpc_code": "5"}, "permanent", GP, r("gRPC status NOT_FOUND", GP)),
    ok("PERMISSION_DENIED is permanent", {"grpc_code": "PERMISSION_DENIED"}, "permanent", GP),
    ok("UNAUTHENTICATED is permanent", {"grpc_code": "UNAUTHENTICATED"}, "permanent", GP),
    ok("UNIMPLEMENTED is permanent", {"grpc_code": "12"}, "permanent", GP),
    ok("DEADLINE_EXCEEDED is unknown", {"grpc_code": "DEADLINE_EXCEEDED"}, "unknown", None, NOMATCH),
    ok("INTERNAL is unknown", {"grpc_code": "INTERNAL"}, "unknown", None),
    ok("OK matches no rule", {"grpc_code": "0"}, "unknown", None),
    bad("an unknown name is an input error", {"grpc_code": "BOGUS"}, "invalid-failure", "failure.grpc_code", "`BOGUS` is not a gRPC status name or number (0-16)"),
    bad("17 is not a gRPC status", {"grpc_code": "17"}, "invalid-failure", "failure.grpc_code"),
])

CT, CX, NE = "builtin.cloud-throttling", "builtin.cloud-transient", "builtin.network-errno"
suite("builtin-provider-codes.json", "Built-in provider and errno codes (AWS, Google, Azure, POSIX)", [
    ok("S3 SlowDown", {"error_code": "SlowDown"}, "transient", CT, r("error code `SlowDown`", CT)),
    ok("DynamoDB ProvisionedThroughputExceededException", {"error_code": "ProvisionedThroughputExceededException"}, "transient", CT),
    ok("EC2 RequestLimitExceeded", {"error_code": "RequestLimitExceeded"}, "transient", CT),
    ok("TooManyRequestsException", {"error_code": "TooManyRequestsException"}, "transient", CT),
    ok("Azure ServerBusy", {"error_code": "ServerBusy"}, "transient", CT),
    ok("AWS RequestTimeout", {"error_code": "RequestTimeout"}, "transient", CX, r("error code `RequestTimeout`", CX)),
    ok("S3 InternalError", {"error_code": "InternalError"}, "transient", CX),
    ok("Google backendError", {"error_code": "backendError"}, "transient", CX),
    ok("Azure OperationTimedOut", {"error_code": "OperationTimedOut"}, "transient", CX),
    ok("ECONNRESET", {"error_code": "ECONNRESET"}, "transient", NE, r("error code `ECONNRESET`", NE)),
    ok("ETIMEDOUT", {"error_code": "ETIMEDOUT"}, "transient", NE),
    ok("EAI_AGAIN", {"error_code": "EAI_AGAIN"}, "transient", NE),
    ok("codes are case-sensitive", {"error_code": "throttlingexception"}, "unknown", None, NOMATCH),
    ok("an unlisted code is unknown", {"error_code": "AccessDenied"}, "unknown", None),
    ok("ENOENT is unknown", {"error_code": "ENOENT"}, "unknown", None),
])

NX = "builtin.network-exceptions"
chain70 = [f"Wrapper{i}" for i in range(70)] + ["ConnectionError"]
chain63 = [f"Wrapper{i}" for i in range(63)] + ["ConnectionError"]
suite("builtin-types-exits-signals.json", "Built-in exception-type, exit-code and signal behaviour, and cause chains", [
    ok("TimeoutError", {"error_types": ["TimeoutError"]}, "transient", NX, r("error type `TimeoutError`", NX)),
    ok("a wrapped ConnectionError is found in the chain", {"error_types": ["RuntimeError", "requests.exceptions.ConnectionError"]}, "transient", NX,
       r("error type `requests.exceptions.ConnectionError` (cause 1 in the chain)", NX)),
    ok("qualified names match on a whole segment", {"error_types": ["urllib3.exceptions.ReadTimeoutError"]}, "transient", NX),
    ok("a longer name is not a match", {"error_types": ["MyConnectionError"]}, "unknown", None, NOMATCH),
    ok("ValueError is unknown", {"error_types": ["ValueError"]}, "unknown", None),
    ok("Go: a *net.OpError under a *url.Error", {"error_types": ["*url.Error", "*net.OpError", "*os.SyscallError"]}, "transient", NX,
       r("error type `*net.OpError` (cause 1 in the chain)", NX)),
    ok("Go: context.DeadlineExceeded", {"error_types": ["context.deadlineExceededError"]}, "transient", NX),
    ok("Go: *fs.PathError is unknown", {"error_types": ["*fs.PathError"]}, "unknown", None),
    ok("the 64th chain entry is examined", {"error_types": chain63}, "transient", NX,
       r("error type `ConnectionError` (cause 63 in the chain)", NX)),
    ok("entries past the 64th are not examined", {"error_types": chain70}, "unknown", None),
    ok("a cycle flattened by a host repeats names harmlessly", {"error_types": ["A", "B", "A", "B", "TimeoutError"]}, "transient", NX),
    ok("exit 75 (EX_TEMPFAIL) is transient", {"exit_code": 75}, "transient", "builtin.exit-tempfail", r("exit code 75", "builtin.exit-tempfail")),
    ok("exit 126 is permanent", {"exit_code": 126}, "permanent", "builtin.exit-not-executable"),
    ok("exit 127 is permanent", {"exit_code": 127}, "permanent", "builtin.exit-not-executable", r("exit code 127", "builtin.exit-not-executable")),
    ok("exit 1 is unknown", {"exit_code": 1}, "unknown", None),
    ok("a negative exit code is unknown", {"exit_code": -1}, "unknown", None),
    ok("SIGKILL alone is unknown (no OOM record or timeout seen)", {"signal": "SIGKILL"}, "unknown", "builtin.ml.sigkill"),
    ok("an empty failure is unknown", {}, "unknown", None, NOMATCH),
    ok("an empty message is unknown", {"message": ""}, "unknown", None),
    bad("an unknown signal is an input error", {"signal": "SIGNOPE"}, "invalid-failure", "failure.signal", "`SIGNOPE` is not a signal name or number (1-64)"),
    bad("signal 65 is out of range", {"signal": "65"}, "invalid-failure", "failure.signal"),
    bad("a huge bogus code is cut short in the message", {"grpc_code": "X" * 100}, "invalid-failure", "failure.grpc_code",
        "`" + "X" * 64 + "...` is not a gRPC status name or number (0-16)"),
])

seed_policy = {"format": "toml", "source": """# The seed's Example 1: object storage reads.
# 5xx transient; 4xx (except 429) permanent.
version = 1

[[classify.rules]]
id = "throttled"
class = "transient"
http_status = 429

[[classify.rules]]
id = "server-errors"
class = "transient"
http_status = "5xx"
reason = "object storage hiccup; safe to retry"

[[classify.rules]]
id = "client-errors"
class = "permanent"
http_status = "4xx"
"""}
suite("user-rules-storage.json", "The seed's storage-read policy: user rules first, first match wins, built-ins after", [
    ok("503 uses the custom reason", {"http_status": 503}, "transient", "server-errors", "object storage hiccup; safe to retry"),
    ok("501 is transient under this policy", {"http_status": 501}, "transient", "server-errors"),
    ok("429 matches the earlier rule", {"http_status": 429}, "transient", "throttled", r("HTTP status 429", "throttled")),
    ok("404 is permanent", {"http_status": 404}, "permanent", "client-errors", r("HTTP status 404", "client-errors")),
    ok("400 with a throttling code: user 4xx rule comes first", {"http_status": 400, "error_code": "SlowDown"}, "permanent", "client-errors"),
    ok("no status falls through to the built-ins", {"error_code": "SlowDown"}, "transient", "builtin.cloud-throttling"),
    ok("302 matches nothing", {"http_status": 302}, "unknown", None),
], policy=seed_policy)

sel_policy = {"format": "toml", "source": """[[classify.rules]]
id = "cuda-oom"
class = "permanent"
message = ["CUDA out of memory", "(?i)oom-?killed"]
reason = "the model does not fit; lower the batch size"

[[classify.rules]]
id = "spot-preempted"
class = "transient"
signal = "SIGTERM"
exit_code = "128-255"

[[classify.rules]]
id = "flaky-db"
class = "transient"
error_type = "OperationalError"
error_code = ["08006", "40001"]

[[classify.rules]]
id = "grpc-retryable"
class = "transient"
grpc_code = [4, "ABORTED"]

[[classify.rules]]
id = "bad-config"
class = "permanent"
exit_code = [2, "64-78"]
"""}
suite("user-rules-selectors.json", "Every selector kind; selectors AND-ed, values OR-ed", [
    ok("a message pattern", {"message": "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"}, "permanent", "cuda-oom", "the model does not fit; lower the batch size"),
    ok("a case-insensitive pattern", {"message": "container was OOMKilled"}, "permanent", "cuda-oom"),
    ok("a pattern finds a line in multi-line output", {"message": "epoch 3\nstep 100\nPod oom-killed by kubelet\n"}, "permanent", "cuda-oom"),
    ok("signal and exit code together", {"signal": "SIGTERM", "exit_code": 143}, "transient", "spot-preempted", r("exit code 143 and signal SIGTERM", "spot-preempted") if False else None),
    ok("signal by number", {"signal": "15", "exit_code": 143}, "transient", "spot-preempted"),
    ok("signal without the exit code does not match (the built-in preemption rule does)", {"signal": "SIGTERM"}, "transient", "builtin.ml.preempted"),
    ok("exit code without the signal does not match (the built-in preemption rule does)", {"exit_code": 143}, "transient", "builtin.ml.preempted-exit"),
    ok("type and code together, found in the cause chain", {"error_types": ["DBAPIError", "sqlalchemy.exc.OperationalError"], "error_code": "40001"}, "transient", "flaky-db",
       r("error type `sqlalchemy.exc.OperationalError` (cause 1 in the chain) and error code `40001`", "flaky-db")),
    ok("type without a listed code does not match", {"error_types": ["OperationalError"], "error_code": "42P01"}, "unknown", None),
    ok("gRPC by number in the policy", {"grpc_code": "DEADLINE_EXCEEDED"}, "transient", "grpc-retryable"),
    ok("gRPC by name in the policy", {"grpc_code": "10"}, "transient", "grpc-retryable", r("gRPC status ABORTED", "grpc-retryable")),
    ok("a user rule outranks a built-in (exit 75)", {"exit_code": 75}, "permanent", "bad-config"),
    ok("exit 2", {"exit_code": 2}, "permanent", "bad-config", r("exit code 2", "bad-config")),
    ok("built-ins still apply (exit 127)", {"exit_code": 127}, "permanent", "builtin.exit-not-executable"),
    ok("the first matching rule wins over later ones", {"message": "CUDA out of memory", "exit_code": 2}, "permanent", "cuda-oom"),
], policy=sel_policy)

json_off = {"format": "json", "source": json.dumps({"version": 1, "classify": {"builtin_rules": False, "rules": [
    {"id": "only-503", "class": "transient", "http_status": 503}]}}, indent=2)}
suite("builtin-off-json.json", "A JSON policy that turns the built-in rules off", [
    ok("its own rule applies", {"http_status": 503}, "transient", "only-503", r("HTTP status 503", "only-503")),
    ok("built-ins are not consulted", {"http_status": 500}, "unknown", None, NOMATCH),
    ok("not even for provider codes", {"error_code": "SlowDown"}, "unknown", None),
], policy=json_off)

def lerr(name, source, errors, fmt="toml"):
    exp = []
    for e in errors:
        code, path, line, col = e[:4]
        d = {"code": code, "path": path, "line": line, "column": col}
        if len(e) > 4: d["message"] = e[4]
        exp.append(d)
    return {"name": name, "policy": {"format": fmt, "source": source}, "expect_errors": exp}

R = "[[classify.rules]]\n"
suite("policy-errors-toml.json", "TOML policies that must be refused, with the field path and location", [
    lerr("syntax error", "[[classify.rules]\nid = 1\n", [("syntax", "", 1, 18, "unclosed array table, expected `]`")]),
    lerr("unknown top-level field with a suggestion", "clasify = 1\n", [("unknown-field", "clasify", 1, 1, "unknown field `clasify`; did you mean `classify`?")]),
    lerr("unknown rule field with a suggestion", R + 'id = "a"\nclass = "transient"\nhttp_statuss = 503\n',
         [("unknown-field", "classify.rules[0].http_statuss", 4, 1, "unknown field `http_statuss`; did you mean `http_status`?")]),
    lerr("unknown field with no close match lists the choices", "[classify]\nzzz = true\n",
         [("unknown-field", "classify.zzz", 2, 1, "unknown field `zzz`; expected one of: builtin_rules, rules")]),
    lerr("missing id", R + 'class = "transient"\nhttp_status = 503\n', [("missing-field", "classify.rules[0].id", 1, 1)]),
    lerr("missing class", R + 'id = "a"\nhttp_status = 503\n', [("missing-field", "classify.rules[0].class", 1, 1)]),
    lerr("invalid class", R + 'id = "a"\nclass = "sometimes"\nhttp_status = 503\n',
         [("invalid-value", "classify.rules[0].class", 3, 9, "`sometimes` is not a class; expected transient, permanent or unknown")]),
    lerr("HTTP status out of range", R + 'id = "a"\nclass = "transient"\nhttp_status = 600\n',
         [("out-of-range", "classify.rules[0].http_status", 4, 15, "an HTTP status must be within 100-599")]),
    lerr("HTTP class out of range", R + 'id = "a"\nclass = "transient"\nhttp_status = ["5xx", "6xx"]\n', [("out-of-range", "classify.rules[0].http_status[1]", 4, 23)]),
    lerr("empty range", R + 'id = "a"\nclass = "transient"\nhttp_status = "504-500"\n',
         [("invalid-value", "classify.rules[0].http_status", 4, 15, "range `504-500` is empty (start is after end)")]),
    lerr("not a status form", R + 'id = "a"\nclass = "transient"\nhttp_status = "five hundred"\n', [("invalid-value", "classify.rules[0].http_status", 4, 15)]),
    lerr("a three-byte status with a multi-byte character", R + 'id = "a"\nclass = "transient"\nhttp_status = "\u03dcx"\n', [("invalid-value", "classify.rules[0].http_status", 4, 15)]),
    lerr("exit code out of range", R + 'id = "a"\nclass = "transient"\nexit_code = 256\n', [("out-of-range", "classify.rules[0].exit_code", 4, 13)]),
    lerr("unknown gRPC name", R + 'id = "a"\nclass = "transient"\ngrpc_code = "NOPE"\n', [("invalid-value", "classify.rules[0].grpc_code", 4, 13)]),
    lerr("gRPC number out of range", R + 'id = "a"\nclass = "transient"\ngrpc_code = 17\n', [("out-of-range", "classify.rules[0].grpc_code", 4, 13)]),
    lerr("unknown signal", R + 'id = "a"\nclass = "transient"\nsignal = ["SIGTERM", "SIGNOPE"]\n', [("invalid-value", "classify.rules[0].signal[1]", 4, 22)]),
    lerr("invalid regex", R + 'id = "a"\nclass = "transient"\nmessage = "(unclosed"\n', [("invalid-regex", "classify.rules[0].message", 4, 11)]),
    lerr("duplicate id", R + 'id = "a"\nclass = "transient"\nhttp_status = 503\n\n' + R + 'id = "a"\nclass = "permanent"\nhttp_status = 404\n',
         [("duplicate-id", "classify.rules[1].id", 7, 6, "rule id `a` is already used by classify.rules[0]")]),
    lerr("reserved builtin prefix", R + 'id = "builtin.mine"\nclass = "transient"\nhttp_status = 503\n', [("invalid-value", "classify.rules[0].id", 2, 6)]),
    lerr("id with spaces", R + 'id = "my rule"\nclass = "transient"\nhttp_status = 503\n', [("invalid-value", "classify.rules[0].id", 2, 6)]),
    lerr("rule without selectors", R + 'id = "a"\nclass = "transient"\n', [("missing-field", "classify.rules[0]", 1, 1)]),
    lerr("empty selector list", R + 'id = "a"\nclass = "transient"\nhttp_status = []\n', [("invalid-value", "classify.rules[0].http_status", 4, 15)]),
    lerr("unsupported version", "version = 2\n", [("out-of-range", "version", 1, 11, "unsupported policy version 2; this engine reads version 1")]),
    lerr("rules must be an array", '[classify]\nrules = "all"\n', [("wrong-type", "classify.rules", 2, 9, "expected an array of tables, found a string")]),
    lerr("builtin_rules must be a boolean", '[classify]\nbuiltin_rules = "yes"\n', [("wrong-type", "classify.builtin_rules", 2, 17, "expected a boolean, found a string")]),
    lerr("a datetime where a string belongs", R + 'id = 1979-05-27\nclass = "transient"\nhttp_status = 503\n', [("wrong-type", "classify.rules[0].id", 2, 6, "expected a string, found a datetime")]),
    lerr("a float where a status belongs", R + 'id = "a"\nclass = "transient"\nhttp_status = 503.0\n', [("wrong-type", "classify.rules[0].http_status", 4, 15, "expected an integer or a string, found a float")]),
    lerr("every problem is reported, in document order", R + 'id = "a"\nclass = "sometimes"\nhttp_statu = 503\n\n' + R + 'id = "b"\nclass = "transient"\nexit_code = -1\n',
         [("invalid-value", "classify.rules[0].class", 3, 9), ("unknown-field", "classify.rules[0].http_statu", 4, 1), ("out-of-range", "classify.rules[1].exit_code", 9, 13, "an exit code must be within 0-255")]),
    lerr("deep nesting is refused", "x = " + "[" * 40 + "]" * 40 + "\n", [("too-large", "", 1, 37)]),
    lerr("a number too big for 64 bits", R + 'id = "a"\nclass = "transient"\nexit_code = 99999999999999999999\n', [("out-of-range", "", 4, 13, "integer `99999999999999999999` does not fit in 64 bits")]),
])

suite("policy-errors-json.json", "JSON policies that must be refused, with the field path and location", [
    lerr("trailing comma", '{"classify": {"rules": [],}}', [("syntax", "", 1, 26)], "json"),
    lerr("empty document", "", [("syntax", "", 1, 1, "the document is empty")], "json"),
    lerr("unknown field with location", '{\n  "version": 1,\n  "clasify": {}\n}', [("unknown-field", "clasify", 3, 3, "unknown field `clasify`; did you mean `classify`?")], "json"),
    lerr("null is not a string", '{"classify": {"rules": [{"id": null, "class": "transient", "http_status": 503}]}}', [("wrong-type", "classify.rules[0].id", 1, 32, "expected a string, found null")], "json"),
    lerr("duplicate keys are refused", '{"version": 1, "version": 1}', [("syntax", "", 1, 16, "duplicate key `version`")], "json"),
    lerr("the root must be an object", "[1, 2]", [("wrong-type", "", 1, 1, "expected a table, found an array")], "json"),
    lerr("a float status", '{"classify": {"rules": [{"id": "a", "class": "transient", "http_status": 503.5}]}}', [("wrong-type", "classify.rules[0].http_status", 1, 74)], "json"),
    lerr("comments are allowed, errors still located", '{\n  // nightly policy\n  "classify": {"rules": [{"id": "a", "class": "transient"}]}\n}', [("missing-field", "classify.rules[0]", 3, 26)], "json"),
])
total = 0
for f in os.listdir(OUT):
    if not f.startswith(("planner-", "alerts-")):
        total += len(json.load(open(os.path.join(OUT, f)))["vectors"])
print("classification vectors:", total)

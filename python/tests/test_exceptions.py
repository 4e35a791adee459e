"""classify_exception / Failure.from_exception, on exceptions shaped like the
common client libraries' (none of which is installed or imported)."""

from __future__ import annotations

import enum
import errno
import subprocess
import urllib.error
from email.message import Message
from types import SimpleNamespace
from typing import Any

import pytest

from backstop import Failure, FailureClass, default_policy, exception_chain, exception_type_name


def named(module: str, name: str, base: type = Exception, **attrs: Any) -> type:
    """An exception class that claims to live in `module`, as the real one does."""
    return type(name, (base,), {"__module__": module, **attrs})


# requests / httpx: HTTP errors carry the response.
RequestsHTTPError = named("requests.exceptions", "HTTPError", OSError)
RequestsConnectionError = named("requests.exceptions", "ConnectionError", OSError)
HttpxHTTPStatusError = named("httpx", "HTTPStatusError")


class BotocoreClientError(Exception):
    __module__ = "botocore.exceptions"

    def __init__(self, response: dict, operation: str) -> None:
        super().__init__(f"An error occurred ({response['Error']['Code']}) when calling {operation}")
        self.response = response


class StatusCode(enum.Enum):  # grpc.StatusCode's shape: (number, name) values
    UNAVAILABLE = (14, "unavailable")
    INVALID_ARGUMENT = (3, "invalid argument")


class RpcError(Exception):
    __module__ = "grpc"


class InactiveRpcError(RpcError):
    __module__ = "grpc._channel"
    __qualname__ = "_InactiveRpcError"

    def __init__(self, code: StatusCode) -> None:
        super().__init__(f"<_InactiveRpcError of RPC that terminated with status = {code}>")
        self._code = code

    def code(self) -> StatusCode:
        return self._code


def caught(exc: BaseException) -> BaseException:
    """`exc` after being raised and caught, so its traceback and context are real."""
    try:
        raise exc
    except BaseException as e:  # noqa: BLE001
        return e


def test_type_names() -> None:
    assert exception_type_name(TimeoutError()) == "TimeoutError"
    assert exception_type_name(RequestsConnectionError()) == "requests.exceptions.ConnectionError"
    assert exception_type_name(InactiveRpcError(StatusCode.UNAVAILABLE)) == "grpc._channel._InactiveRpcError"

    class Inner(Exception):
        pass

    assert exception_type_name(Inner()) == f"{__name__}.test_type_names.<locals>.Inner"


def test_requests_http_error() -> None:
    exc = RequestsHTTPError("503 Server Error")
    exc.response = SimpleNamespace(status_code=503)
    failure = Failure.from_exception(exc)
    assert failure.http_status == 503
    assert failure.error_types == ("requests.exceptions.HTTPError",)
    assert failure.message == "503 Server Error"
    assert default_policy().classify_exception(exc).rule == "builtin.http-transient"


def test_requests_error_without_response() -> None:
    exc = RequestsHTTPError("no response")
    exc.response = None
    assert Failure.from_exception(exc).http_status is None


def test_httpx_status_error() -> None:
    exc = HttpxHTTPStatusError("Client error '404 Not Found'")
    exc.response = SimpleNamespace(status_code=404)
    verdict = default_policy().classify_exception(exc)
    assert (verdict.failure_class, verdict.rule) == (FailureClass.PERMANENT, "builtin.http-permanent")


def test_botocore_throttling_outranks_its_http_400() -> None:
    exc = BotocoreClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutObject")
    failure = Failure.from_exception(exc)
    assert (failure.error_code, failure.http_status) == ("ThrottlingException", 400)
    assert failure.error_types == ("botocore.exceptions.BotocoreClientError",)
    assert default_policy().classify_exception(exc).rule == "builtin.cloud-throttling"


def test_botocore_response_missing_parts() -> None:
    exc = BotocoreClientError({"Error": {"Code": "AccessDenied"}}, "GetObject")
    failure = Failure.from_exception(exc)
    assert (failure.error_code, failure.http_status) == ("AccessDenied", None)


def test_urllib_http_error() -> None:
    exc = urllib.error.HTTPError("https://x", 429, "Too Many Requests", Message(), None)
    failure = Failure.from_exception(exc)
    assert failure.http_status == 429 and failure.error_types == ("urllib.error.HTTPError",)
    assert default_policy().classify_exception(exc).is_transient


@pytest.mark.parametrize("code, transient", [(StatusCode.UNAVAILABLE, True),
                                             (StatusCode.INVALID_ARGUMENT, False)])
def test_grpc_error(code: StatusCode, transient: bool) -> None:
    exc = InactiveRpcError(code)
    assert Failure.from_exception(exc).grpc_code == code.name
    verdict = default_policy().classify_exception(exc)
    assert verdict.is_transient is transient and verdict.is_permanent is not transient


def test_code_methods_that_are_not_grpc_are_ignored() -> None:
    class Weird(Exception):
        def code(self) -> int:
            return 7

    class Broken(Exception):
        def code(self) -> Any:
            raise RuntimeError("no")

    assert Failure.from_exception(Weird()).grpc_code is None
    assert Failure.from_exception(Broken()).grpc_code is None


def test_errno_becomes_its_name() -> None:
    exc = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    failure = Failure.from_exception(exc)
    assert (failure.error_code, failure.error_types) == ("ECONNRESET", ("ConnectionResetError",))
    assert default_policy().classify_exception(exc).rule == "builtin.network-errno"
    assert Failure.from_exception(OSError(99999, "odd")).error_code == "99999"
    assert Failure.from_exception(OSError("no errno")).error_code is None


def test_cause_chain_outermost_first() -> None:
    try:
        try:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        except OSError as inner:
            raise RequestsConnectionError("Connection aborted.") from inner
    except Exception as outer:  # noqa: BLE001
        exc = outer
    failure = Failure.from_exception(exc)
    assert failure.error_types == ("requests.exceptions.ConnectionError", "ConnectionResetError")
    assert failure.error_code == "ECONNRESET"  # found on the cause
    assert failure.message == "Connection aborted."


def test_implicit_context_is_followed_unless_suppressed() -> None:
    def wrapped(suppress: bool) -> BaseException:
        try:
            try:
                raise TimeoutError("slow")
            except TimeoutError:
                if suppress:
                    raise ValueError("clean") from None
                raise ValueError("during handling")
        except ValueError as exc:
            return exc

    assert Failure.from_exception(wrapped(False)).error_types == ("ValueError", "TimeoutError")
    assert Failure.from_exception(wrapped(True)).error_types == ("ValueError",)
    # The wrapped TimeoutError is transient, wherever it sits in the chain.
    verdict = default_policy().classify_exception(wrapped(False))
    assert verdict.rule == "builtin.network-exceptions" and "cause 1" in verdict.reason


def test_cycles_terminate() -> None:
    a, b = ValueError("a"), KeyError("b")
    a.__cause__, b.__cause__ = b, a
    assert [type(e) for e in exception_chain(a)] == [ValueError, KeyError]
    a.__cause__ = a
    assert Failure.from_exception(a).error_types == ("ValueError",)


def test_long_chains_are_bounded() -> None:
    exc: BaseException = RuntimeError("root")
    for i in range(500):
        outer = RuntimeError(str(i))
        outer.__cause__ = exc
        exc = outer
    assert len(Failure.from_exception(exc).error_types) == 64


def test_outermost_fact_wins() -> None:
    inner = RequestsHTTPError("inner")
    inner.response = SimpleNamespace(status_code=404)
    outer = HttpxHTTPStatusError("outer")
    outer.response = SimpleNamespace(status_code=503)
    outer.__cause__ = inner
    assert Failure.from_exception(outer).http_status == 503


def test_status_attributes_on_the_exception() -> None:
    aiohttp_like = named("aiohttp.client_exceptions", "ClientResponseError")("boom")
    aiohttp_like.status = 502
    sdk_like = named("openai", "APIStatusError")("boom")
    sdk_like.status_code = 500
    out_of_range = named("x", "E")("boom")
    out_of_range.status = 0  # not an HTTP status: ignored rather than an invalid failure
    assert Failure.from_exception(aiohttp_like).http_status == 502
    assert Failure.from_exception(sdk_like).http_status == 500
    assert Failure.from_exception(out_of_range).http_status is None
    azure_like = named("azure.core.exceptions", "HttpResponseError")("busy")
    azure_like.error_code = "ServerBusy"
    assert default_policy().classify_exception(azure_like).rule == "builtin.cloud-throttling"


@pytest.mark.parametrize("returncode, exit_code, signal", [(75, 75, None), (-9, None, "9"), (0, 0, None)])
def test_called_process_error(returncode: int, exit_code: Any, signal: Any) -> None:
    failure = Failure.from_exception(subprocess.CalledProcessError(returncode, ["train.py"]))
    assert (failure.exit_code, failure.signal) == (exit_code, signal)
    default_policy().classify(failure)  # all are interpretable


def test_exit_tempfail_is_transient() -> None:
    exc = subprocess.CalledProcessError(75, ["python", "train.py"])
    assert default_policy().classify_exception(exc).rule == "builtin.exit-tempfail"


def test_hostile_exceptions_do_not_break_classification() -> None:
    class BadStr(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    class BadResponse(Exception):
        @property
        def response(self) -> Any:
            raise RuntimeError("half-built")

    assert Failure.from_exception(BadStr()).message is None
    assert Failure.from_exception(BadResponse("x")).http_status is None
    surrogate = Failure.from_exception(ValueError("undecodable name bad\udcff.csv"))
    assert surrogate.message == "undecodable name bad\ufffd.csv"
    default_policy().classify(surrogate)
    assert Failure.from_exception(ValueError()).message is None


def test_caught_exceptions_and_base_exceptions() -> None:
    assert Failure.from_exception(caught(KeyboardInterrupt())).error_types == ("KeyboardInterrupt",)
    with pytest.raises(TypeError):
        Failure.from_exception("not an exception")  # type: ignore[arg-type]

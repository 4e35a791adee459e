"""The log readers: a finished process's output tail in, a :class:`Failure`
(plus what was read) out, decided by the guest exactly as in every other host."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

from ._model import Failure
from ._policy import _policy_error, _runtime

#: The guest reads only the last this-many UTF-8 bytes of a tail.
MAX_LOG_BYTES = 256 * 1024
_STREAMS = ("stderr", "stdout", "combined")
_S32 = (-(1 << 31), (1 << 31) - 1)


@dataclass(frozen=True)
class LogReport:
    """What the log readers recovered from a tail."""

    failure: Failure
    """The failure to classify (exit code and signal included)."""
    readers: Sequence[str] = field(default=())
    """The readers that contributed, the one that named the error first
    (``python-traceback``, ``botocore``, ...); empty when none did."""
    summary: str = ""
    """One line for humans: what was read."""
    pushback_ms: Optional[int] = None
    """Server pushback seen in the log (Retry-After, grpc-retry-pushback-ms)."""


def read_log(text: Union[str, bytes], *, exit_code: Optional[int] = None,
             signal: Union[str, int, None] = None, stream: Optional[str] = None) -> LogReport:
    """Read a failure out of a process's output tail: Python tracebacks (cause
    chains, exception groups), provider error codes, HTTP and gRPC statuses,
    JVM, Node, Go and native runtime errors, errno texts and Retry-After lines.
    Classify ``report.failure`` with :meth:`Policy.classify`.

    ``text`` is the tail as written (bytes are decoded as UTF-8, invalid
    sequences replaced); only its last 256 KiB are read. ``stream`` is
    ``"stderr"``, ``"stdout"`` or ``"combined"``. Raises :class:`PolicyError`
    (``invalid-failure``) for a signal that is neither a name nor a number.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
        # Only the tail is read; decode just that (plus a margin for a cut character).
        if len(data) > MAX_LOG_BYTES + 4:
            data = data[-(MAX_LOG_BYTES + 4):]
        text = data.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise TypeError(f"read_log() expects str or bytes, not {type(text).__name__}")
    # Lone surrogates cannot cross into the guest's UTF-8 strings.
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    if exit_code is not None:
        if isinstance(exit_code, bool) or not isinstance(exit_code, int):
            raise TypeError(f"read_log() exit_code must be int or None, not {type(exit_code).__name__}")
        if not _S32[0] <= exit_code <= _S32[1]:
            raise ValueError(f"read_log() exit_code {exit_code} does not fit in 32 bits")
    if isinstance(signal, int) and not isinstance(signal, bool):
        signal = str(signal)
    if signal is not None and not isinstance(signal, str):
        raise TypeError(f"read_log() signal must be str, int or None, not {type(signal).__name__}")
    if stream is not None and stream not in _STREAMS:
        raise ValueError(f"read_log() stream must be one of {', '.join(_STREAMS)}, not {stream!r}")
    runtime = _runtime
    with runtime.lock:
        case, value = runtime.call("read-log", (text, exit_code, signal, stream))
    if case == "error":
        raise _policy_error(value)
    raw_failure, readers, summary, pushback_ms = value
    (http_status, grpc_code, code, sig, error_types, error_bases, error_code, message) = raw_failure
    failure = Failure(http_status=http_status, grpc_code=grpc_code, exit_code=code, signal=sig,
                      error_types=tuple(error_types), error_bases=tuple(error_bases),
                      error_code=error_code, message=message)
    return LogReport(failure, tuple(readers), summary, pushback_ms)

"""Describing a caught Python exception as a :class:`~backstop.Failure`.

Client libraries are recognised by the *shape* of their exceptions, never by
importing them, so Backstop depends on none of them.
"""

from __future__ import annotations

import errno as _errno
import functools
import math
import re
import subprocess
import time
import urllib.error
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Sequence, Union

from ._model import Failure
from ._planner import _builder

#: The classifier examines at most this many cause-chain entries; so do we.
MAX_CHAIN = 64
#: Most base-class names passed (the guest's MAX_BASES).
MAX_BASES = 256

_GRPC_NAMES = frozenset({
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
})


def exception_type_name(exc: BaseException) -> str:
    """``module.QualName`` (``requests.exceptions.ConnectionError``), or just
    the name for builtins (``TimeoutError``)."""
    return _type_name(type(exc))


def _type_name(cls: type) -> str:
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in (None, "builtins", "exceptions") else f"{module}.{name}"


#: Bases every exception has; a rule naming them would match everything.
_ROOT_BASES = frozenset(("BaseException", "Exception", "object"))


def exception_bases(chain: Sequence[BaseException]) -> tuple[str, ...]:
    """The base classes of each exception's type along ``chain``, in MRO order
    (most derived first), as qualified names, without duplicates, without
    names already in the chain, and without ``BaseException``, ``Exception``
    and ``object``. A rule naming ``botocore.exceptions.HTTPClientError``
    then matches ``ConnectionClosedError``."""
    return _bases(tuple(type(e) for e in chain))


def _bases(types: tuple[type, ...]) -> tuple[str, ...]:
    own = {_type_name(t) for t in types}
    bases: list[str] = []
    for t in types:
        try:
            mro = t.__mro__[1:]
        except Exception:
            continue
        for cls in mro:
            module = getattr(cls, "__module__", None)
            name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "")
            qualified = name if module in (None, "builtins", "exceptions") else f"{module}.{name}"
            if qualified in _ROOT_BASES or qualified in own or qualified in bases:
                continue
            if len(bases) >= MAX_BASES:
                return tuple(bases)
            bases.append(qualified)
    return tuple(bases)


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first, as Python's traceback
    shows them: ``__cause__`` if set, else ``__context__`` unless suppressed
    (``raise ... from None``). Stops at a cycle or after :data:`MAX_CHAIN`."""
    if exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__):
        return [exc]  # the common case, without the cycle bookkeeping
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain


def _http_status(value: Any) -> Optional[int]:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def _text(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value:
        return None
    text: str = value
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable file names
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def _attr(obj: Any, name: str) -> Any:
    """``getattr(obj, name, None)``, and ``None`` when the property raises."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _facts(exc: BaseException) -> dict[str, Any]:
    """What one exception says about the failure. Never raises: a property
    that fails on a half-built exception object is simply not a fact."""
    facts: dict[str, Any] = {}
    attr = _attr

    # HTTP status: urllib's HTTPError, requests / httpx (`response.status_code`),
    # SDKs that put it on the exception (`status_code`, aiohttp's `status`).
    if isinstance(exc, urllib.error.HTTPError):
        facts["http_status"] = _http_status(exc.code)
    response = attr(exc, "response")
    if isinstance(response, dict):
        # botocore's ClientError: response["Error"]["Code"] and the HTTP status.
        error = response.get("Error")
        if isinstance(error, dict):
            facts["error_code"] = _text(error.get("Code"))
        metadata = response.get("ResponseMetadata")
        if isinstance(metadata, dict):
            facts["http_status"] = _http_status(metadata.get("HTTPStatusCode"))
    elif response is not None:
        facts.setdefault("http_status", _http_status(attr(response, "status_code")))
    for name in ("status_code", "status"):
        if facts.get("http_status") is None:
            facts["http_status"] = _http_status(attr(exc, name))

    # gRPC: `code()` returns a StatusCode enum member.
    code = attr(exc, "code")
    if callable(code):
        try:
            status = code()
        except Exception:
            status = None
        name = attr(status, "name")
        if isinstance(name, str) and name in _GRPC_NAMES:
            facts["grpc_code"] = name

    # Provider codes (Azure's `error_code`), then errno names (ECONNRESET).
    if facts.get("error_code") is None:
        facts["error_code"] = _text(attr(exc, "error_code"))
    number = attr(exc, "errno") if isinstance(exc, OSError) else None
    if facts.get("error_code") is None and isinstance(number, int):
        facts["error_code"] = _errno.errorcode.get(number, str(number))

    # A child process: negative return codes are signals (subprocess's convention).
    if isinstance(exc, subprocess.CalledProcessError) and isinstance(exc.returncode, int):
        if exc.returncode < 0:
            facts["signal"] = str(-exc.returncode)
        elif exc.returncode < 1 << 31:
            facts["exit_code"] = exc.returncode
    return facts


@functools.lru_cache(maxsize=512)
def _chain_names(types: tuple[type, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``error_types`` and ``error_bases`` for a chain of exception types:
    they depend on the classes alone, and a retry loop sees the same chain
    again and again. Bounded, so classes made on the fly are not all kept."""
    return tuple(_type_name(t) for t in types), _bases(types)


#: Failures built here hold only checked values (names from classes, statuses
#: from _http_status, texts from _text), so Failure.__post_init__ is skipped.
_new_failure = _builder(Failure)


def failure_from_exception(exc: BaseException) -> Failure:
    """Describe a caught exception for the classifier.

    * ``error_types``: type names along the cause chain (see :func:`exception_chain`);
    * ``http_status``, ``grpc_code``, ``error_code`` (provider code or errno name),
      ``exit_code`` / ``signal``: from the outermost exception that has them;
    * ``message``: ``str(exc)`` of the outermost exception.
    """
    if not isinstance(exc, BaseException):
        raise TypeError(f"expected an exception, not {type(exc).__name__}")
    return _failure(exc, exception_chain(exc))


def failure_and_pushback(exc: BaseException, now: Optional[float] = None
                         ) -> tuple[Failure, Union[int, float, None]]:
    """:func:`failure_from_exception` and :func:`pushback_from_exception`
    together, walking the cause chain once (the retry loop's path)."""
    if not isinstance(exc, BaseException):
        raise TypeError(f"expected an exception, not {type(exc).__name__}")
    chain = exception_chain(exc)
    return _failure(exc, chain), _chain_pushback(chain, now)


def _failure_fields_and_pushback(exc: BaseException, now: Optional[float]
                                 ) -> tuple[tuple[Any, ...], Union[int, float, None]]:
    """:func:`failure_and_pushback` with the failure as its fields in WIT
    order (the retry loop's path: the record is only passed on to the engine)."""
    chain = exception_chain(exc)
    return _failure_fields(exc, chain), _chain_pushback(chain, now)


def _failure(exc: BaseException, chain: list[BaseException]) -> Failure:
    failure: Failure = _new_failure(*_failure_fields(exc, chain))
    return failure


def _failure_fields(exc: BaseException, chain: list[BaseException]) -> tuple[Any, ...]:
    if len(chain) == 1:
        found = _facts(exc)  # a fact of None is as good as none
    else:
        found = {}
        for link in chain:
            for key, value in _facts(link).items():
                if value is not None and key not in found:
                    found[key] = value
    try:
        message = _text(str(exc))
    except Exception:  # a broken __str__ must not hide the failure
        message = None
    try:
        types, bases = _chain_names(tuple(map(type, chain)))
    except TypeError:  # an unhashable metaclass: no cache
        types = tuple(exception_type_name(e) for e in chain)
        bases = exception_bases(chain)
    return (found.get("http_status"), found.get("grpc_code"), found.get("exit_code"),
            found.get("signal"), types, bases, found.get("error_code"), message)


_U64_MAX = (1 << 64) - 1


def _seconds_to_ms(seconds: Any) -> Optional[int]:
    """Non-negative, finite seconds (int, float or timedelta) as whole
    milliseconds, rounded up so a wait never undercuts what was asked."""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    if isinstance(seconds, float) and not math.isfinite(seconds):
        return None
    if seconds < 0:
        return None
    if isinstance(seconds, int):
        return min(seconds * 1000, _U64_MAX)
    return min(math.ceil(seconds * 1000), _U64_MAX)


def _header(headers: Any, name: str) -> Optional[str]:
    """A header from requests' / httpx's / aiohttp's case-insensitive mappings,
    urllib's ``Message``, or a plain dict (tried as given, then lower-case)."""
    get = getattr(headers, "get", None)
    if not callable(get):
        return None
    for key in (name, name.lower()):
        try:
            value = get(key)
        except Exception:
            return None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


#: The server asked not to retry (a negative or unparseable
#: ``grpc-retry-pushback-ms``, gRPC A6): an infinite pushback.
NEVER = math.inf

_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_LONG_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "(" + "|".join(_MONTHS) + ")"
_TIME = r"(\d{2}):(\d{2}):(\d{2})"
# RFC 9110 section 5.6.7, exactly: email.utils.parsedate_to_datetime accepts much
# more (numeric zones, missing seconds, any case), so the grammar decides and
# datetime builds the instant.
_IMF_FIXDATE = re.compile(rf"({_DAYS}), (\d{{2}}) {_MONTH} (\d{{4}}) {_TIME} GMT", re.ASCII)
_RFC850_DATE = re.compile(rf"({_LONG_DAYS}), (\d{{2}})-{_MONTH}-(\d{{2}}) {_TIME} GMT", re.ASCII)
_ASCTIME_DATE = re.compile(rf"({_DAYS}) {_MONTH} ( \d|\d{{2}}) {_TIME} (\d{{4}})", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def _http_date(text: str, now: float) -> Optional[float]:
    """An RFC 9110 HTTP-date as Unix seconds, or ``None``."""
    if m := _IMF_FIXDATE.fullmatch(text):
        weekday, day, month, year, hh, mm, ss = m.groups()
    elif m := _RFC850_DATE.fullmatch(text):
        weekday, day, month, yy, hh, mm, ss = m.groups()
        # A two-digit year more than 50 years ahead is the most recent past one.
        this_year = datetime.fromtimestamp(now, timezone.utc).year
        year = str(this_year // 100 * 100 + int(yy))
        if int(year) > this_year + 50:
            year = str(int(year) - 100)
    elif m := _ASCTIME_DATE.fullmatch(text):
        weekday, month, day, hh, mm, ss, year = m.groups()
    else:
        return None
    try:
        when = datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hh), int(mm), int(ss),
                        tzinfo=timezone.utc)
    except ValueError:  # 31 Feb, 25:00
        return None
    if _DAYS.split("|")[when.weekday()] != weekday[:3]:
        return None  # the weekday must be the date's
    return when.timestamp()


def parse_retry_after(value: str, now: Optional[float] = None) -> Optional[int]:
    """An RFC 9110 ``Retry-After`` value in milliseconds: delay-seconds
    (``1*DIGIT``) or an HTTP-date (IMF-fixdate, RFC 850, asctime) measured from
    ``now`` (wall clock, seconds since the epoch; a past date is 0). ``None``
    for anything else, fractions and signs included."""
    text = value.strip()  # optional whitespace around a field value is not part of it
    if _DIGITS.fullmatch(text):
        return min(int(text) * 1000, _U64_MAX)
    now = time.time() if now is None else now
    when = _http_date(text, now)
    if when is None:
        return None
    return _seconds_to_ms(max(when - now, 0.0))


def parse_grpc_pushback(value: str) -> Union[int, float]:
    """A ``grpc-retry-pushback-ms`` value in milliseconds, or :data:`NEVER`
    (``math.inf``) when it is negative or unparseable: gRPC A6's "do not retry"."""
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return min(int(text), _U64_MAX)
    return NEVER


def _pushback(exc: BaseException, now: Optional[float]) -> Union[int, float, None]:
    attr = _attr

    # An SDK's own attribute (seconds), e.g. a rate-limit error's `retry_after`.
    ms = _seconds_to_ms(attr(exc, "retry_after"))
    if ms is not None:
        return ms
    # HTTP headers: requests / httpx put them on `exc.response`; urllib's
    # HTTPError and aiohttp's ClientResponseError on the exception.
    response = attr(exc, "response")
    for headers in (attr(response, "headers") if response is not None else None,
                    attr(exc, "headers")):
        if headers is None:
            continue
        text = _header(headers, "Retry-After-Ms")  # OpenAI, Azure: milliseconds
        if text is not None and _DIGITS.fullmatch(text):
            return min(int(text), _U64_MAX)
        text = _header(headers, "Retry-After")
        if text is not None:
            ms = parse_retry_after(text, now)
            if ms is not None:
                return ms
    # gRPC: the `grpc-retry-pushback-ms` trailer. A negative or malformed value
    # means "do not retry" (gRPC A6): NEVER.
    trailers = attr(exc, "trailing_metadata")
    if callable(trailers):
        try:
            metadata = trailers() or ()
            for key, value in metadata:
                if key == "grpc-retry-pushback-ms":
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    return parse_grpc_pushback(text)
        except Exception:
            return None
    return None


def pushback_from_exception(exc: BaseException, now: Optional[float] = None) -> Union[int, float, None]:
    """Server pushback carried by a caught exception, in milliseconds, or ``None``.

    From the outermost exception in the cause chain that has one: a
    ``retry_after`` attribute (seconds, or a ``timedelta``); a ``Retry-After-Ms``
    or ``Retry-After`` header (delay-seconds or an HTTP-date, measured from
    ``now``, the wall clock by default) on ``exc.response.headers`` or
    ``exc.headers``; a gRPC ``grpc-retry-pushback-ms`` trailer. :data:`NEVER`
    (``math.inf``) when the server asked not to retry (gRPC A6).
    """
    if not isinstance(exc, BaseException):
        raise TypeError(f"expected an exception, not {type(exc).__name__}")
    return _chain_pushback(exception_chain(exc), now)


def _chain_pushback(chain: list[BaseException], now: Optional[float]) -> Union[int, float, None]:
    for link in chain:
        ms = _pushback(link, now)
        if ms is not None:
            return ms
    return None

"""Backstop's public value types and exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Optional, Sequence

_S32 = (-(1 << 31), (1 << 31) - 1)


class FailureClass(str, Enum):
    """The classifier's verdict."""

    TRANSIENT = "transient"
    """Worth retrying: the same attempt may well succeed later."""
    PERMANENT = "permanent"
    """Fail fast: retrying cannot help."""
    UNKNOWN = "unknown"
    """No rule matched: retry conservatively, then escalate."""

    def __str__(self) -> str:
        return self.value


class ErrorCode(str, Enum):
    """What kind of problem a :class:`PolicyError` reports (the WIT's ``error-code``)."""

    SYNTAX = "syntax"
    UNKNOWN_FIELD = "unknown-field"
    MISSING_FIELD = "missing-field"
    WRONG_TYPE = "wrong-type"
    INVALID_VALUE = "invalid-value"
    OUT_OF_RANGE = "out-of-range"
    DUPLICATE_ID = "duplicate-id"
    INVALID_REGEX = "invalid-regex"
    TOO_LARGE = "too-large"
    UNKNOWN_POLICY = "unknown-policy"
    INVALID_FAILURE = "invalid-failure"
    INVALID_STATE = "invalid-state"

    def __str__(self) -> str:
        return self.value


def _optional(name: str, value: Any, kind: type) -> None:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise TypeError(f"Failure.{name} must be {kind.__name__} or None, not {type(value).__name__}")


@dataclass(frozen=True)
class Failure:
    """A failed attempt, as observed. Every field is optional; the classifier
    looks only at what is present. Build one from a caught exception with
    :meth:`from_exception`."""

    http_status: Optional[int] = None
    """HTTP status code (100-599)."""
    grpc_code: Optional[str] = None
    """gRPC status by canonical name (``"UNAVAILABLE"``) or number (``"14"``)."""
    exit_code: Optional[int] = None
    """Process exit code."""
    signal: Optional[str] = None
    """Terminating signal by name (``"SIGKILL"``, ``"KILL"``) or number (``"9"``)."""
    error_types: Sequence[str] = field(default=())
    """Error type names along the cause chain, outermost first."""
    error_bases: Sequence[str] = field(default=())
    """Base classes of those types, most derived first (the MRO's qualified
    names): a rule naming a base class matches its subclasses."""
    error_code: Optional[str] = None
    """Provider or errno code, such as ``ThrottlingException`` or ``ECONNRESET``."""
    message: Optional[str] = None
    """The error message or the last lines of output."""

    def __post_init__(self) -> None:
        # Catch mistakes here, with the field's name, rather than deep in the ABI glue.
        _optional("http_status", self.http_status, int)
        if self.http_status is not None and not 0 <= self.http_status <= 0xFFFF:
            raise ValueError(f"Failure.http_status {self.http_status} is not an HTTP status code")
        _optional("exit_code", self.exit_code, int)
        if self.exit_code is not None and not _S32[0] <= self.exit_code <= _S32[1]:
            raise ValueError(f"Failure.exit_code {self.exit_code} does not fit in 32 bits")
        for name in ("grpc_code", "signal", "error_code", "message"):
            _optional(name, getattr(self, name), str)
        for name in ("error_types", "error_bases"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)):
                raise TypeError(f"Failure.{name} must be a sequence of str, not a single string")
            names = tuple(value)
            if not all(isinstance(t, str) for t in names):
                raise TypeError(f"Failure.{name} must contain only str")
            object.__setattr__(self, name, names)

    @classmethod
    def from_exception(cls, exc: BaseException) -> "Failure":
        """Describe a caught exception: see :func:`backstop.failure_from_exception`."""
        from ._exceptions import failure_from_exception

        return failure_from_exception(exc)


@dataclass(frozen=True)
class Classification:
    """Which rule classified a failure, and why."""

    failure_class: FailureClass
    rule: Optional[str]
    """Id of the matching rule; ``None`` when no rule matched (class ``UNKNOWN``)."""
    reason: str

    @property
    def is_transient(self) -> bool:
        return self.failure_class is FailureClass.TRANSIENT

    @property
    def is_permanent(self) -> bool:
        return self.failure_class is FailureClass.PERMANENT


class PolicyError(Exception):
    """A diagnostic from the policy engine: a bad policy document, an unknown
    policy, or a failure the classifier cannot interpret.

    ``path`` names the field (``classify.rules[2].http_status``) or is empty;
    ``line`` and ``column`` are one-based (columns in characters) or ``None``.
    """

    def __init__(self, code: ErrorCode, message: str, path: str = "",
                 line: Optional[int] = None, column: Optional[int] = None) -> None:
        super().__init__(code, message, path, line, column)
        self.code = ErrorCode(code)
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        at = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{where}{self.message}{at} [{self.code.value}]"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r}, "
                f"path={self.path!r}, line={self.line!r}, column={self.column!r})")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.args == other.args

    __hash__ = Exception.__hash__


class PolicyLoadError(PolicyError):
    """A policy document was refused. ``errors`` holds every diagnostic, in
    document order; the exception's own ``code``, ``message``, ``path``,
    ``line`` and ``column`` are those of the first one."""

    def __init__(self, errors: Iterable[PolicyError], filename: Optional[str] = None) -> None:
        errors = list(errors)
        if not errors:
            raise ValueError("PolicyLoadError needs at least one PolicyError")
        first = errors[0]
        super().__init__(first.code, first.message, first.path, first.line, first.column)
        self.args = (errors, filename)
        self.errors: list[PolicyError] = errors
        self.filename = filename
        """The file the policy came from, when loaded with ``load_policy_file``."""

    def __reduce__(self) -> Any:
        return (type(self), self.args)

    def __str__(self) -> str:
        source = f"{self.filename}: " if self.filename else ""
        if len(self.errors) == 1:
            return f"{source}invalid policy: {self.errors[0]}"
        lines = "".join(f"\n  - {e}" for e in self.errors)
        return f"{source}invalid policy ({len(self.errors)} errors):{lines}"

    def __repr__(self) -> str:
        return f"PolicyLoadError(errors={self.errors!r}, filename={self.filename!r})"


class EngineError(RuntimeError):
    """The WebAssembly engine trapped. The instance was discarded; the next
    call runs in a fresh one, and loaded policies are reloaded transparently.
    The original ``wasmtime`` error is the ``__cause__``."""

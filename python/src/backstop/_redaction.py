"""Secret redaction's value types: the WIT ``redaction`` interface's records
as frozen dataclasses, with the canonical JSON form of ``tests/README.md``
(``{"text", "redactions": [{"rule", "count"}]}``).

The guest does the redacting, so Python redacts exactly as every other host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Tuple

from ._planner import _trusted

#: What replaces each secret.
REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class RuleCount:
    """How many secrets one rule replaced (never the values)."""

    rule: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "count": self.count}


@dataclass(frozen=True)
class RedactionReport:
    """A redacted text. From :meth:`backstop.Policy.redact`."""

    text: str
    """The text with each secret replaced by ``[REDACTED]`` (ANSI escape
    sequences removed)."""
    redactions: Tuple[RuleCount, ...]
    """Rules that redacted something, in rule order."""

    @property
    def total(self) -> int:
        """How many secrets were replaced in all."""
        return sum(r.count for r in self.redactions)

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form of ``tests/README.md``."""
        return {"text": self.text, "redactions": [r.to_dict() for r in self.redactions]}

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "RedactionReport":
        text, redactions = raw
        return _trusted(cls, text, tuple(_trusted(RuleCount, rule, count)
                                         for rule, count in redactions))

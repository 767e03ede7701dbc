"""Why the engine refuses an input.

``EngineError`` carries one or more ``Problem``s, each with a code from the
API contract's ``ErrorCode`` and the path of the offending input field.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Code(str, Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    INVALID_STATE = "INVALID_STATE"
    DUPLICATE = "DUPLICATE"
    IDEMPOTENCY_MISMATCH = "IDEMPOTENCY_MISMATCH"
    OUT_OF_RANGE = "OUT_OF_RANGE"


@dataclass(frozen=True)
class Problem:
    code: Code
    message: str
    field: tuple[str, ...] | None = None


class EngineError(Exception):
    """An input the billing rules reject; nothing was computed."""

    def __init__(
        self,
        code: Code | list[Problem],
        message: str = "",
        field: tuple[str, ...] | None = None,
    ) -> None:
        if isinstance(code, list):
            self.problems = code
        else:
            self.problems = [Problem(code, message, field)]
        super().__init__("; ".join(p.message for p in self.problems))

    @property
    def code(self) -> Code:
        return self.problems[0].code

    def __repr__(self) -> str:
        return f"EngineError({self.problems!r})"

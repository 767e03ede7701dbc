"""Failures a service reports.

    DomainError            an operation refused; nothing was written
    ├── NotFound           no such entity (or the caller may not see it)
    └── ... carried codes: INVALID, CONFLICT, INVALID_STATE, DUPLICATE,
                           IDEMPOTENCY_MISMATCH, OUT_OF_RANGE
    AccessDenied           the caller's role may not do this (FORBIDDEN)
    Unauthenticated        no caller, or a bad token

Engine errors (``orbit.engine.errors.EngineError``) carry the same codes and
are converted into ``DomainError`` by the services.
"""

from __future__ import annotations

from orbit.engine.errors import Code, EngineError, Problem

__all__ = [
    "AccessDenied",
    "Code",
    "DomainError",
    "NotFound",
    "Problem",
    "Unauthenticated",
]


class DomainError(Exception):
    def __init__(
        self,
        code: Code | list[Problem],
        message: str = "",
        field: tuple[str, ...] | list[str] | None = None,
    ) -> None:
        if isinstance(code, list):
            self.problems = code
        else:
            self.problems = [Problem(code, message, tuple(field) if field else None)]
        super().__init__("; ".join(p.message for p in self.problems))

    @classmethod
    def from_engine(cls, error: EngineError, prefix: tuple[str, ...] = ()) -> DomainError:
        return cls(
            [
                Problem(p.code, p.message, (*prefix, *p.field) if p.field else prefix or None)
                for p in error.problems
            ]
        )

    @property
    def code(self) -> Code:
        return self.problems[0].code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.problems!r})"


class NotFound(DomainError):
    def __init__(self, what: str, field: tuple[str, ...] | list[str] | None = None) -> None:
        super().__init__(Code.NOT_FOUND, f"{what} not found", field)


class AccessDenied(Exception):
    """The caller is known but may not perform this operation."""

    def __init__(self, message: str = "not allowed") -> None:
        super().__init__(message)


class Unauthenticated(Exception):
    def __init__(self, message: str = "authentication required") -> None:
        super().__init__(message)

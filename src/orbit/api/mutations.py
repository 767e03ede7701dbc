"""Running a mutation: permission failures become GraphQL errors, domain failures
become userErrors, and an idempotency key replays the first result.

A mutation's work runs in one transaction; its result is a small JSON-able
dict (ids and values) from which the payload is built after the commit. With
an idempotency key, that dict is stored in the same transaction under
(caller, mutation, key) with a digest of the input, so the same key and input
returns the first result and writes nothing new.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from orbit.api.context import Info
from orbit.api.errors import BadInput, Forbidden
from orbit.api.inputs import take_problems
from orbit.db.models import IdempotencyKey
from orbit.services.access import Actor, Permission
from orbit.services.errors import AccessDenied, Code, DomainError, Problem

P = TypeVar("P")
#: a caller without any of these (a VIEWER) is FORBIDDEN any mutation, bad input or not
WRITES = frozenset(Permission) - {Permission.READ, Permission.READ_RUNS}
Result = dict[str, Any]
MAX_KEY = 200


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date | datetime | Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in sorted(vars(value).items()) if not k.startswith("_")}
    return str(value)


def digest(request: Any) -> str:
    text = json.dumps(_plain(request), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def run(
    info: Info,
    operation: str,
    work: Callable[[Actor], Awaitable[Result]],
    build: Callable[[Result], Awaitable[P]],
    failed: Callable[[list[Problem]], P],
    idempotency_key: str | None = None,
    request: Any = None,
) -> P:
    actor = info.context.actor
    refused = take_problems()  # bad dates or strings in the input: nothing runs
    if refused:
        if not any(actor.can(p) for p in WRITES):
            raise Forbidden(f"role {actor.role.value} may not write")
        return failed(refused)
    try:
        if idempotency_key is None:
            result = await work(actor)
        else:
            result = await _idempotent(actor, operation, idempotency_key, request, work)
    except DomainError as error:
        return failed(error.problems)
    except AccessDenied as denied:
        raise Forbidden(str(denied)) from None
    return await build(_plain(result))


async def _idempotent(
    actor: Actor,
    operation: str,
    key: str,
    request: Any,
    work: Callable[[Actor], Awaitable[Result]],
) -> Result:
    if not key or len(key) > MAX_KEY:
        raise BadInput(f"idempotencyKey must be 1 to {MAX_KEY} characters")
    user_id = actor.user_id or 0
    request_digest = digest(request)

    async def replay() -> Result | None:
        stored = await IdempotencyKey.get_or_none(user_id=user_id, operation=operation, key=key)
        if stored is None:
            return None
        if stored.request_digest != request_digest:
            raise DomainError(
                Code.IDEMPOTENCY_MISMATCH,
                "this idempotency key was used with a different input",
                ("idempotencyKey",),
            )
        result: Result = json.loads(stored.result)
        return result

    first = await replay()
    if first is not None:
        return first
    try:
        async with in_transaction():
            result = await work(actor)
            await IdempotencyKey.create(
                user_id=user_id,
                operation=operation,
                key=key,
                request_digest=request_digest,
                result=json.dumps(_plain(result)),
            )
    except IntegrityError:
        # a concurrent call with the same key won: return what it stored
        again = await replay()
        if again is None:
            raise
        return again
    return result

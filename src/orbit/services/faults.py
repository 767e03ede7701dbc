"""Faults, classified by cause: what is worth retrying and what is one item's fault.

Only faults of the connection or of concurrency clear by themselves, so only
they are retried, a bounded number of times:

- PostgreSQL errors whose SQLSTATE class is 08 (connection), 40 (serialization
  failure, deadlock), 53 (insufficient resources), 57 (operator intervention:
  shutdown, statement cancelled) or 58 (system / I/O error), read from the
  asyncpg exception wherever it sits in the cause chain (tortoise wraps them);
- asyncpg and operating-system connection errors (a closed or reset
  connection, a refused connect, a timeout);
- Redis connection and timeout errors;
- SQLite's "database is locked" / "busy".

Everything else (a numeric overflow, a violated constraint, a bug, bad data) is
the fault of the account or contract being worked on: it is recorded on that
item and the work goes on with the others.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tortoise.models import Model
from tortoise.transactions import in_transaction

log = logging.getLogger("orbit.faults")

T = TypeVar("T")

#: SQLSTATE classes of the faults that clear by themselves
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})

#: attempts of one unit of work within one job, before the job itself is retried
ATTEMPTS = 3
#: the first pause between two attempts (doubled each time), in seconds
FIRST_PAUSE = 0.1

#: longest message kept for one failure
MAX_MESSAGE = 2000

_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ENOTCONN,
    }
)
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
_SQLITE_BUSY_TEXT = ("database is locked", "database table is locked", "database is busy")
_CLOSED_TEXT = ("connection is closed", "connection was closed", "connection has been closed")


class TransientError(Exception):
    """A connection or concurrency fault that outlived the attempts made in this job:
    the job is retried later (a bounded number of times)."""


def chain(error: BaseException) -> list[BaseException]:
    """The error, its cause, the cause's cause ... (explicit or implicit), each once."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of the first PostgreSQL error in the chain, if any."""
    for link in chain(error):
        state = getattr(link, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5:
            return state
    return None


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is a connection or concurrency fault, worth retrying."""
    state = sqlstate(error)
    if state is not None:
        # PostgreSQL said what happened: that decides
        return state[:2] in TRANSIENT_SQLSTATE_CLASSES
    return any(_transient_link(link) for link in chain(error))


def _transient_link(error: BaseException) -> bool:
    import asyncpg
    from redis import exceptions as redis_errors

    if isinstance(error, TransientError):
        return True
    if isinstance(error, redis_errors.AuthenticationError | redis_errors.AuthorizationError):
        return False
    if isinstance(error, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return True
    if isinstance(error, asyncpg.InterfaceError):
        return any(text in str(error).lower() for text in _CLOSED_TEXT)
    if isinstance(error, sqlite3.OperationalError):
        name = getattr(error, "sqlite_errorname", "") or ""
        return name.startswith(_SQLITE_BUSY) or _busy_text(error)
    if isinstance(error, ConnectionError | TimeoutError | asyncio.TimeoutError | socket.gaierror):
        return True
    if isinstance(error, OSError):
        # asyncio reports failing to connect to every address of a host as one OSError
        # without an errno ("Multiple exceptions: [Errno 111] Connect call failed ...")
        return error.errno in _NETWORK_ERRNOS or "connect call failed" in str(error).lower()
    # tortoise re-raises SQLite's errors as its own OperationalError, with the text
    return type(error).__name__ == "OperationalError" and _busy_text(error)


def _busy_text(error: BaseException) -> bool:
    text = str(error).lower()
    return any(busy in text for busy in _SQLITE_BUSY_TEXT)


def describe(error: BaseException) -> str:
    """How a failure reads where it is recorded: the error's kind, its SQLSTATE if
    PostgreSQL gave one, and the first line of its message (PostgreSQL's DETAIL
    lines, which quote the failing row, stay in the log)."""
    state = sqlstate(error)
    root = next((link for link in chain(error) if getattr(link, "sqlstate", None)), error)
    kind = type(root).__name__
    text = (str(root) or str(error) or kind).strip().splitlines()[0]
    label = f"{kind} [SQLSTATE {state}]" if state else kind
    return f"{label}: {text}"[:MAX_MESSAGE]


async def attempt(
    work: Callable[[], Awaitable[T]],
    attempts: int | None = None,
    first_pause: float | None = None,
    what: str = "work",
) -> T:
    """Run ``work``; on a transient fault pause (``FIRST_PAUSE``, doubling each time)
    and run it again, at most ``attempts`` (``ATTEMPTS``) times in all. Any other
    fault, or the last transient one, propagates. ``work`` must be a whole
    transaction, so that running it again is safe."""
    attempts = ATTEMPTS if attempts is None else attempts
    pause = FIRST_PAUSE if first_pause is None else first_pause
    for number in range(1, attempts + 1):
        try:
            return await work()
        except Exception as error:
            if number >= attempts or not is_transient(error):
                raise
            log.warning(
                "%s: transient fault (attempt %s of %s), again in %.2fs: %s",
                what,
                number,
                attempts,
                pause,
                describe(error),
            )
        await asyncio.sleep(pause)
        pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover


async def isolated(
    work: Callable[[], Awaitable[T]],
    on_failure: Callable[[str], Awaitable[object]],
    what: str,
    retry_transient: bool = False,
) -> T | None:
    """Run one item's ``work`` (a whole transaction) so that its failure stops only it.

    A transient fault is attempted again (``attempt``); if it outlives the attempts
    and ``retry_transient`` is set, ``TransientError`` asks the caller's job to retry
    later. Any other fault, or a transient one on the job's last try, is the item's:
    ``on_failure(message)`` records it, the fault is logged, and None is returned so
    the caller goes on with the next item.
    """
    try:
        return await attempt(work, what=what)
    except Exception as error:
        message = describe(error)
        if is_transient(error):
            if retry_transient:
                raise TransientError(message) from error
            message = f"gave up after repeated connection or concurrency faults: {message}"
        log.warning("%s failed: %s", what, message, exc_info=True)
    try:
        await attempt(lambda: on_failure(message), what=f"recording the failure of {what}")
    except Exception as error:
        if is_transient(error):
            raise
        log.exception("%s: the failure could not be recorded", what)
    return None


async def record_failure(action: str, entity: Model, message: str) -> bool:
    """Record that work on ``entity`` failed, as an audit event ``action`` by the system
    with ``{"error": message}``, visible in the audit trail. A job that meets the same
    failure again (every hour, until the data is fixed) does not record it again while
    that event is still the entity's latest. Returns whether an event was written."""
    from orbit.db.models import AuditEvent
    from orbit.services.access import Actor
    from orbit.services.audit import record
    from orbit.services.ids import global_id

    async with in_transaction():
        latest = await AuditEvent.filter(entity_id=global_id(entity)).order_by("-id").first()
        if (
            latest is not None
            and latest.action == action
            and json.loads(latest.details or "{}").get("error") == message
        ):
            return False
        await record(Actor.system(), action, entity, {"error": message})
    return True

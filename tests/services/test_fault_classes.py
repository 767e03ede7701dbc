"""Faults are classified by cause, not by the class name tortoise gives them: only
connection and concurrency faults are transient. Most cases are real errors, raised
by the database under test."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis import exceptions as redis_errors
from tortoise.exceptions import IntegrityError, OperationalError

from orbit.db.connection import db, dialect
from orbit.services import faults
from orbit.services.faults import TransientError, describe, is_transient, sqlstate
from tests.support import TestDatabase

postgres_only = pytest.mark.postgres


async def raised(sql: str) -> Exception:
    """The error the database under test raises for ``sql``, as Orbit's code sees it."""
    try:
        await db().execute_query(sql)
    except Exception as error:
        return error
    raise AssertionError(f"{sql!r} did not fail")


@postgres_only
@pytest.mark.parametrize(
    ("sql", "state", "transient"),
    [
        ("SELECT 1e20::numeric(20,3)", "22003", False),  # the reported overflow
        ("SELECT 1 / 0", "22012", False),
        ("SELECT * FROM no_such_table", "42P01", False),
        (
            "INSERT INTO document_sequences (document_type, last_number) VALUES (NULL, 0)",
            "23502",
            False,
        ),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$", "40001", True),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$", "40P01", True),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '53300'; END $$", "53300", True),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '58030'; END $$", "58030", True),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '08006'; END $$", "08006", True),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '55P03'; END $$", "55P03", False),
    ],
)
async def test_postgresql_errors_are_classified_by_their_sqlstate(
    sql: str, state: str, transient: bool
) -> None:
    error = await raised(sql)
    assert sqlstate(error) == state
    assert is_transient(error) is transient
    assert f"[SQLSTATE {state}]" in describe(error)


@postgres_only
async def test_a_cancelled_statement_and_a_killed_connection_are_transient(
    database: TestDatabase,
) -> None:
    connection = await asyncpg.connect(database.url)
    try:
        await connection.execute("SET statement_timeout = 10")
        with pytest.raises(asyncpg.QueryCanceledError) as cancelled:
            await connection.execute("SELECT pg_sleep(1)")
        assert is_transient(cancelled.value)  # 57014
        await connection.execute("SET statement_timeout = 0")
        with pytest.raises(Exception) as killed:
            await connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        assert is_transient(killed.value), repr(killed.value)
        with pytest.raises(Exception) as closed:
            await connection.execute("SELECT 1")
        assert is_transient(closed.value), repr(closed.value)
    finally:
        await connection.close()


async def test_a_database_error_of_the_data_is_not_transient() -> None:
    if dialect() == "postgres":
        error = await raised("SELECT 1e20::numeric(20,3)")
    else:
        error = await raised("SELECT * FROM no_such_table")
    # tortoise reports both as its OperationalError, which Orbit once took for transient
    assert isinstance(error, OperationalError)
    assert not is_transient(error)


def test_sqlite_database_is_locked_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x INT)")
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("INSERT INTO t VALUES (1)")
        assert "locked" in str(locked.value)
        assert is_transient(locked.value)
        # as tortoise re-raises it
        try:
            raise OperationalError(locked.value)
        except OperationalError as wrapped:
            assert is_transient(wrapped)
        holder.execute("ROLLBACK")
        with pytest.raises(sqlite3.OperationalError) as missing:
            other.execute("SELECT * FROM no_such_table")
        assert not is_transient(missing.value)
    finally:
        holder.close()
        other.close()


def _caused(error: BaseException, by: BaseException) -> BaseException:
    try:
        try:
            raise by
        except BaseException as cause:
            raise error from cause
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionResetError(), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (OSError(errno.EHOSTUNREACH, "no route to host"), True),
        (OSError(errno.ENOENT, "no such file"), False),
        (
            OSError(
                "Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432, 0, 0), "
                "[Errno 111] Connect call failed ('127.0.0.1', 5432)"
            ),
            True,
        ),
        (redis_errors.ConnectionError("Connection closed by server."), True),
        (redis_errors.TimeoutError("Timeout reading from socket"), True),
        (redis_errors.BusyLoadingError("loading"), True),
        (redis_errors.AuthenticationError("invalid password"), False),
        (redis_errors.ResponseError("WRONGTYPE"), False),
        (asyncpg.InterfaceError("connection is closed"), True),
        (
            asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
            False,
        ),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle"), True),
        (asyncpg.exceptions.SerializationError("could not serialize"), True),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), True),
        (asyncpg.exceptions.NumericValueOutOfRangeError("numeric field overflow"), False),
        (asyncpg.exceptions.CheckViolationError("violates check constraint"), False),
        (TransientError("gone"), True),
        (RuntimeError("boom"), False),
        (ValueError("bad data"), False),
        (LookupError("account 7 does not exist"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_faults_by_cause(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
    # wherever it sits in the chain
    assert is_transient(_caused(OperationalError("wrapped"), error)) is transient
    assert is_transient(_caused(IntegrityError("wrapped"), error)) is transient


def test_what_a_failure_reads() -> None:
    overflow = _caused(
        OperationalError("numeric field overflow"),
        asyncpg.exceptions.NumericValueOutOfRangeError("numeric field overflow\nDETAIL: row"),
    )
    assert describe(overflow) == (
        "NumericValueOutOfRangeError [SQLSTATE 22003]: numeric field overflow"
    )
    assert describe(RuntimeError("boom")) == "RuntimeError: boom"
    assert describe(ConnectionResetError()) == "ConnectionResetError: ConnectionResetError"
    assert len(describe(ValueError("x" * 5000))) == faults.MAX_MESSAGE


async def test_attempt_retries_only_transient_faults_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(faults, "FIRST_PAUSE", 0.0)
    calls: list[str] = []

    def work(errors: list[Exception]) -> Any:
        async def run() -> str:
            calls.append("call")
            if errors:
                raise errors.pop(0)
            return "done"

        return run

    assert await faults.attempt(work([ConnectionResetError(), ConnectionResetError()])) == "done"
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(ConnectionResetError):
        await faults.attempt(work([ConnectionResetError()] * 10))
    assert len(calls) == faults.ATTEMPTS
    calls.clear()
    with pytest.raises(ValueError):
        await faults.attempt(work([ValueError("bad")]))
    assert calls == ["call"]


async def test_a_refused_connection_is_transient() -> None:
    """Real connects to a port nobody listens on: PostgreSQL's driver and Redis's."""
    from redis.asyncio import Redis

    with pytest.raises(OSError) as postgres:
        await asyncpg.connect("postgresql://postgres@127.0.0.1:1/orbit", timeout=5)
    assert is_transient(postgres.value), repr(postgres.value)
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=5)
    try:
        with pytest.raises(redis_errors.ConnectionError) as redis:
            await client.ping()
    finally:
        await client.aclose()
    assert is_transient(redis.value), repr(redis.value)

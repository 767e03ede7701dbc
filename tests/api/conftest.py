from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from orbit import clock
from orbit.api.app import create_app
from orbit.db.connection import db, dialect
from orbit.db.migrations.m0002_guards import SEED
from orbit.db.models import Role
from orbit.services.access import Actor, create_user
from tests.support import TestDatabase, empty_database, tables

#: "today" for every API test unless a test pins another moment
TODAY = datetime(2026, 2, 15, 12, 0, tzinfo=UTC)


_superuser: bool | None = None


async def wipe() -> None:
    """Delete every row, fast: on PostgreSQL (as a superuser), DELETE with foreign keys
    and guards off for the transaction is ten times faster than TRUNCATE of every
    table. Row ids are not restarted (no test depends on them)."""
    global _superuser
    if dialect() == "postgres" and _superuser is None:
        rows = await db().execute_query_dict(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        _superuser = bool(rows and rows[0]["rolsuper"])
    if dialect() != "postgres" or not _superuser:
        await empty_database()
        return
    names = await tables()
    deletes = " ".join(f'DELETE FROM "{name}";' for name in names)
    await db().execute_script(
        f"BEGIN; SET LOCAL session_replication_role = replica; {deletes} {'; '.join(SEED)}; COMMIT;"
    )


@pytest.fixture(autouse=True)
async def clean(database: TestDatabase) -> AsyncIterator[None]:
    await wipe()
    clock.pin(TODAY)
    yield
    clock.pin(None)


class Api:
    """A GraphQL client for one caller."""

    def __init__(self, client: httpx.AsyncClient, token: str | None) -> None:
        self.client = client
        self.token = token

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {}
        bearer = token if token is not None else self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    def as_(self, token: str | None) -> Api:
        return Api(self.client, token)


@pytest.fixture(scope="session")
async def api_app(database: TestDatabase) -> AsyncIterator[Starlette]:
    """One app for the session (building one per test costs more than most tests). Its
    embedded worker runs queued jobs (invoice runs, hold rules) but no cron jobs: they
    follow the wall clock and would write in the middle of a test."""
    patch = pytest.MonkeyPatch()
    patch.setattr("workers.settings.cron_jobs", lambda settings: [])
    try:
        app = create_app(config_for(database), manage_database=False)
        async with app.router.lifespan_context(app):
            patch.undo()
            yield app
    finally:
        patch.undo()


@pytest.fixture
async def app_client(api_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    queue = api_app.state.queue
    if queue is not None:
        # SQLite reuses row ids after a wipe: forget the jobs of earlier tests, or arq
        # would take a new run for a finished job of the same id
        await queue.pool.flushall()
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orbit.test") as client:
        client.app = api_app  # type: ignore[attr-defined]
        yield client
        await settle(client)


def config_for(database: TestDatabase, env: str = "test") -> Any:
    from orbit import config

    return config.Settings(database_url=database.url, env=env)


async def settle(client: httpx.AsyncClient, timeout: float = 10.0) -> None:
    """Wait until the embedded worker has no queued or running job."""
    queue = client.app.state.queue  # type: ignore[attr-defined]
    if queue is None or queue.worker is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await queue.pool.zcard(queue.worker.queue_name) or any(
        not task.done() for task in queue.worker.tasks.values()
    ):
        assert loop.time() < deadline, "the embedded worker did not settle"
        await asyncio.sleep(0.01)


async def reset(client: httpx.AsyncClient) -> None:
    """Start over within a test: wait for the worker, delete every row and forget the
    queue's jobs (SQLite reuses row ids after a wipe, and arq would take a new run for
    a finished job of the same id)."""
    await settle(client)
    await wipe()
    queue = client.app.state.queue  # type: ignore[attr-defined]
    if queue is not None:
        await queue.pool.flushall()


@pytest.fixture
async def admin(app_client: httpx.AsyncClient) -> Api:
    _, token = await create_user(Actor.system(), "admin@example.com", "Ada Admin", Role.ADMIN)
    return Api(app_client, token)


async def make_user(role: Role, email: str | None = None) -> tuple[int, str]:
    user, token = await create_user(
        Actor.system(), email or f"{role.value.lower()}@example.com", role.value.title(), role
    )
    return user.id, token


async def row_counts() -> dict[str, int]:
    """Rows in every table."""
    conn = db()
    counts = {}
    for name in await tables():
        rows = await conn.execute_query_dict(f'SELECT COUNT(*) AS n FROM "{name}"')
        counts[name] = int(rows[0]["n"])
    return counts


async def snapshot() -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table (as text, sorted): equal snapshots before and after
    a call prove that it wrote nothing, not even an update."""
    conn = db()
    state = {}
    for name in await tables():
        rows = await conn.execute_query_dict(f'SELECT * FROM "{name}"')
        state[name] = sorted(tuple(str(v) for v in row.values()) for row in rows)
    return state


def assert_unchanged(
    before: dict[str, list[tuple[str, ...]]], after: dict[str, list[tuple[str, ...]]]
) -> None:
    changed = {
        name: (len(before[name]), len(after.get(name, [])))
        for name in before
        if before[name] != after.get(name)
    }
    assert not changed, f"rows written (table: rows before, after): {changed}"


class Statements(logging.Handler):
    """Counts the SQL statements tortoise runs (one DEBUG record on tortoise.db_client
    per statement) while in a ``with`` block."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []
        self._logger = logging.getLogger("tortoise.db_client")
        self._level = self._logger.level

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith(("Created connection pool", "Closed connection pool")):
            self.sql.append(message)

    def __enter__(self) -> Statements:
        self._logger.addHandler(self)
        self._logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def __len__(self) -> int:
        return len(self.sql)

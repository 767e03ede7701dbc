"""Shared test helpers: a database per test session, emptied between tests."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from orbit.db.connection import close_db, db, dialect, open_db
from orbit.db.migrations import TABLE, migrate
from orbit.db.migrations.m0002_guards import SEED

PG_ADMIN_URL = os.environ.get(
    "ORBIT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def backend() -> str:
    """'sqlite' (default) or 'postgres', from ORBIT_TEST_BACKEND."""
    return os.environ.get("ORBIT_TEST_BACKEND", "sqlite")


class TestDatabase:
    """A dedicated database for one test session: created, migrated, dropped."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"orbit_test_{uuid.uuid4().hex[:10]}"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.url = ""

    async def create(self) -> str:
        if self.kind == "postgres":
            admin = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await admin.execute(f'CREATE DATABASE "{self.name}"')
            finally:
                await admin.close()
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            self.url = f"{base}/{self.name}"
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="orbit-test-")
            self.url = f"sqlite://{Path(self._tmp.name) / 'orbit.sqlite3'}"
        return self.url

    async def drop(self) -> None:
        if self.kind == "postgres":
            admin = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await admin.close()
        elif self._tmp is not None:
            self._tmp.cleanup()


async def open_test_database() -> AsyncIterator[TestDatabase]:
    database = TestDatabase(backend())
    url = await database.create()
    await open_db(url)
    await migrate()
    try:
        yield database
    finally:
        await close_db()
        await database.drop()


async def tables() -> list[str]:
    conn = db()
    if dialect() == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        )
    else:
        rows = await conn.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    return sorted(r["name"] for r in rows if r["name"] != TABLE)


async def empty_database() -> None:
    """Delete every row (keeping the schema and the migration record)."""
    conn = db()
    names = await tables()
    if dialect() == "postgres":
        quoted = ", ".join(f'"{n}"' for n in names)
        await conn.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        await conn.execute_script("PRAGMA foreign_keys = OFF")
        for name in names:
            await conn.execute_script(f'DELETE FROM "{name}"')
        await conn.execute_script("DELETE FROM sqlite_sequence")
        await conn.execute_script("PRAGMA foreign_keys = ON")
    for statement in SEED:
        await conn.execute_script(statement)

"""Orbit's migrations: numbered steps applied in order, recorded in the database.

A step is a module ``mNNNN_name`` of this package with either

- ``def statements(dialect: str) -> list[str]``: the SQL statements it runs, in order
  (preferred: its checksum is that of the SQL itself), or
- ``async def apply(db, dialect)``: code that runs SQL on ``db`` (``execute_script``,
  ``execute_query``, ...); its checksum is that of the module's source. On SQLite
  ``db.execute_script`` runs the script one statement at a time inside the migration's
  transaction (``sqlite3``'s ``executescript`` would commit first).

``migrate()`` is one transaction that holds the migrate lock from its first statement
to its end (PostgreSQL: ``pg_advisory_xact_lock``; SQLite: ``BEGIN IMMEDIATE``): it
verifies the checksums of the steps already applied (a step changed since is an error
naming it), applies the pending ones and records each with its checksum. If anything
fails, everything rolls back and the database is exactly as it was. ``pending()`` only
reads; the API refuses to start while a step is pending.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from orbit.db.connection import db, dialect

TABLE = "orbit_migrations"
#: the PostgreSQL advisory lock migrations take (any constant, Orbit's own)
LOCK_KEY = 0x0B17_3A11


class MigrationError(RuntimeError):
    """The database and the migration steps disagree in a way only a person can fix."""


@dataclass(frozen=True)
class Step:
    name: str
    module: ModuleType

    def checksum(self, dialect: str) -> str:
        """SHA-256 of what the step does on ``dialect``: its statements, or the source
        of a step that has only ``apply``."""
        digest = hashlib.sha256()
        if hasattr(self.module, "statements"):
            digest.update(b"statements\n")
            for statement in self.module.statements(dialect):
                digest.update(statement.strip().encode())
                digest.update(b"\n;\n")
        else:
            digest.update(b"module\n")
            digest.update(Path(str(self.module.__file__)).read_bytes())
        return digest.hexdigest()

    async def run(self, conn: BaseDBAsyncClient, dialect: str) -> None:
        if hasattr(self.module, "statements"):
            for statement in self.module.statements(dialect):
                await _execute(conn, dialect, statement)
        else:
            await self.module.apply(StepConnection(conn, dialect), dialect)


def steps() -> list[Step]:
    found = [
        info.name
        for info in pkgutil.iter_modules(__path__)
        if info.name[:1] == "m" and info.name[1:5].isdigit()
    ]
    return [Step(name[1:], importlib.import_module(f"{__name__}.{name}")) for name in sorted(found)]


def split(script: str) -> list[str]:
    """The statements of a script: separated by ``;`` outside strings, comments and
    trigger bodies (``sqlite3.complete_statement``; PostgreSQL ``$$`` bodies are not
    understood: a step that needs them lists its statements itself)."""
    statements: list[str] = []
    current = ""
    pieces = script.split(";")
    for i, piece in enumerate(pieces):
        current += piece
        if i < len(pieces) - 1:
            current += ";"
            if not sqlite3.complete_statement(current):
                continue
        text = current.strip()
        if text.rstrip(";").strip():
            statements.append(text)
        current = ""
    return statements


async def _execute(conn: BaseDBAsyncClient, dialect: str, statement: str) -> None:
    if dialect == "sqlite":
        # one statement through the transaction's cursor (never executescript)
        await conn.execute_query(statement)
    else:
        await conn.execute_script(statement)


class StepConnection:
    """What an ``apply(db, dialect)`` step is given: the migration's transaction, whose
    ``execute_script`` runs a script statement by statement on SQLite."""

    def __init__(self, conn: BaseDBAsyncClient, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect

    async def execute_script(self, query: str) -> None:
        if self._dialect != "sqlite":
            await self._conn.execute_script(query)  # inside the transaction on PostgreSQL
            return
        for statement in split(query):
            await self._conn.execute_query(statement)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _placeholder(dialect: str, n: int) -> str:
    return "?" if dialect == "sqlite" else f"${n}"


async def _columns(conn: BaseDBAsyncClient, dialect: str) -> set[str]:
    """The columns of the migrations table; empty when there is no table (reads only)."""
    if dialect == "sqlite":
        rows = await conn.execute_query_dict(f'PRAGMA table_info("{TABLE}")')
    else:
        rows = await conn.execute_query_dict(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1",
            [TABLE],
        )
    return {row["name"] for row in rows}


async def _recorded(conn: BaseDBAsyncClient, dialect: str) -> dict[str, str | None]:
    """Applied step -> its recorded checksum (None: recorded before checksums were)."""
    columns = await _columns(conn, dialect)
    if not columns:
        return {}
    if "checksum" not in columns:
        rows = await conn.execute_query_dict(f'SELECT "name" FROM "{TABLE}"')
        return {row["name"]: None for row in rows}
    rows = await conn.execute_query_dict(f'SELECT "name", "checksum" FROM "{TABLE}"')
    return {row["name"]: row["checksum"] for row in rows}


def _verify(recorded: dict[str, str | None], known: list[Step], dialect: str) -> None:
    changed = [
        step.name
        for step in known
        if recorded.get(step.name) is not None and recorded[step.name] != step.checksum(dialect)
    ]
    if changed:
        raise MigrationError(
            f"migration step(s) changed since they were applied to this database: "
            f"{', '.join(changed)}. A step that has been applied must not change: restore "
            "it and make the change a new step."
        )


async def pending() -> list[str]:
    """The steps not yet applied, in order. Reads only (no table is created); raises
    ``MigrationError`` when an applied step has changed since."""
    conn, kind = db(), dialect()
    recorded = await _recorded(conn, kind)
    known = steps()
    _verify(recorded, known, kind)
    return [step.name for step in known if step.name not in recorded]


async def _lock(conn: BaseDBAsyncClient, dialect: str) -> None:
    """Take the migrate lock until the transaction ends."""
    if dialect == "postgres":
        # a second migrator waits here, then finds the steps applied
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])
    else:
        # the transaction was begun DEFERRED; begin it again IMMEDIATE: the write lock
        # from the start, so a second migrator (another process) waits for this one
        await conn.execute_query("ROLLBACK")
        await conn.execute_query("BEGIN IMMEDIATE")


async def _prepare_table(conn: BaseDBAsyncClient, dialect: str) -> None:
    columns = await _columns(conn, dialect)
    if not columns:
        await _execute(
            conn,
            dialect,
            f'CREATE TABLE "{TABLE}" ('
            '"name" VARCHAR(200) NOT NULL PRIMARY KEY, '
            '"applied_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, '
            '"checksum" VARCHAR(64))',
        )
    elif "checksum" not in columns:  # made before steps carried a checksum
        await _execute(conn, dialect, f'ALTER TABLE "{TABLE}" ADD COLUMN "checksum" VARCHAR(64)')


async def migrate() -> list[str]:
    """Apply every pending step, all or nothing, under the migrate lock; returns the
    names applied. Steps recorded without a checksum (before checksums were kept) get
    the checksum of the step as it is now."""
    kind = dialect()
    known = steps()
    ran: list[str] = []
    async with in_transaction() as conn:
        await _lock(conn, kind)
        await _prepare_table(conn, kind)
        recorded = await _recorded(conn, kind)
        _verify(recorded, known, kind)
        p1, p2 = _placeholder(kind, 1), _placeholder(kind, 2)
        for step in known:
            if step.name in recorded:
                if recorded[step.name] is None:
                    await conn.execute_query(
                        f'UPDATE "{TABLE}" SET "checksum" = {p1} WHERE "name" = {p2}',
                        [step.checksum(kind), step.name],
                    )
                continue
            await step.run(conn, kind)
            await conn.execute_query(
                f'INSERT INTO "{TABLE}" ("name", "checksum") VALUES ({p1}, {p2})',
                [step.name, step.checksum(kind)],
            )
            ran.append(step.name)
    return ran

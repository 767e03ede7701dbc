"""Real database errors on chosen rows, for the fault tests.

``refuse`` makes writing a matching row fail with a genuine error of the database
(a CHECK constraint on PostgreSQL, SQLSTATE 23514; a trigger that aborts on
SQLite), not a Python exception raised by a patch. ``transient`` (PostgreSQL)
makes it fail with SQLSTATE 40001, the first ``times`` times or always, counting
every time it fired in a sequence (which a rollback does not undo). Everything
is removed when the test ends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from tortoise.exceptions import OperationalError

from orbit.db.connection import db, dialect


class Poison:
    def __init__(self) -> None:
        self.undo: list[str] = []
        self.count = 0

    def _name(self) -> str:
        self.count += 1
        return f"poison_{self.count}"

    async def refuse(self, table: str, condition: str) -> str:
        """Writing a row of ``table`` for which ``condition`` holds fails. The condition
        names the new row's columns as ``{new}column``. Returns the constraint's name."""
        name = self._name()
        if dialect() == "postgres":
            check = condition.format(new="")
            await db().execute_script(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" '
                f"CHECK (({check}) IS NOT TRUE) NOT VALID"
            )
            self.undo.append(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')
        else:
            when = condition.format(new="NEW.")
            for event in ("INSERT", "UPDATE"):
                trigger = f"{name}_{event.lower()}"
                await db().execute_script(
                    f'CREATE TRIGGER "{trigger}" BEFORE {event} ON "{table}" WHEN ({when}) '
                    f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
                )
                self.undo.append(f'DROP TRIGGER IF EXISTS "{trigger}"')
        return name

    async def transient(self, table: str, condition: str, times: int | None = None) -> str:
        """(PostgreSQL) Writing a matching row fails with SQLSTATE 40001 (serialization
        failure) the first ``times`` times, or always with None. Returns the name to
        pass to ``fired``."""
        assert dialect() == "postgres"
        name = self._name()
        when = condition.format(new="NEW.")
        limit = "TRUE" if times is None else f"nextval('{name}_seq') <= {times}"
        await db().execute_script(
            f'CREATE SEQUENCE "{name}_seq"; CREATE SEQUENCE "{name}_fired";'
            f'CREATE FUNCTION "{name}"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
            f"IF {when} THEN "
            f"  IF {limit} THEN PERFORM nextval('{name}_fired');"
            f"    RAISE EXCEPTION 'simulated serialization failure' USING ERRCODE = '40001';"
            f"  END IF; "
            f"END IF; RETURN NEW; END $$;"
            f'CREATE TRIGGER "{name}" BEFORE INSERT OR UPDATE ON "{table}" '
            f'FOR EACH ROW EXECUTE FUNCTION "{name}"()'
        )
        self.undo.append(
            f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"; '
            f'DROP FUNCTION IF EXISTS "{name}"(); '
            f'DROP SEQUENCE IF EXISTS "{name}_seq"; DROP SEQUENCE IF EXISTS "{name}_fired"'
        )
        return name

    async def fired(self, name: str) -> int:
        """How many times a ``transient`` poison made a write fail."""
        rows = await db().execute_query_dict(f'SELECT last_value, is_called FROM "{name}_fired"')
        return int(rows[0]["last_value"]) if rows[0]["is_called"] else 0

    async def cleanup(self) -> None:
        for statement in reversed(self.undo):
            await db().execute_script(statement)
        self.undo.clear()


@pytest.fixture
async def poison() -> AsyncIterator[Poison]:
    made = Poison()
    yield made
    await made.cleanup()


def locked(times: int | None) -> Callable[..., Any]:
    """A stand-in that raises SQLite's "database is locked" as tortoise reports it, the
    first ``times`` calls (always with None); ``.calls`` counts them."""

    def fail(*args: Any, **kwargs: Any) -> None:
        fail.calls += 1  # type: ignore[attr-defined]
        if times is None or fail.calls <= times:  # type: ignore[attr-defined]
            try:
                raise sqlite3.OperationalError("database is locked")
            except sqlite3.OperationalError as error:
                raise OperationalError(error) from error

    fail.calls = 0  # type: ignore[attr-defined]
    return fail

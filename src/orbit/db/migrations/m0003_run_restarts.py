"""The sweeper's restarts of an invoice run: how many in a row without progress,
and when the last one was, so that a run that keeps stalling is restarted a
bounded number of times and then FAILED with why."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

#: (column, PostgreSQL definition, SQLite definition)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("restarts", "INT NOT NULL DEFAULT 0", "INT NOT NULL DEFAULT 0"),
    ("restarted_at", "TIMESTAMPTZ", "TIMESTAMP"),
)

#: (table, name, condition every row must satisfy, the same on a SQLite trigger's NEW row),
#: as in 0002_guards
CHECKS: tuple[tuple[str, str, str, str], ...] = (
    ("invoice_runs", "invoice_runs_restarts", "restarts >= 0", "NEW.restarts >= 0"),
)


def statements(dialect: str) -> list[str]:
    sql = []
    for column, postgres, sqlite in COLUMNS:
        definition = postgres if dialect == "postgres" else sqlite
        sql.append(f'ALTER TABLE "invoice_runs" ADD COLUMN "{column}" {definition}')
    for table, name, condition, new_row in CHECKS:
        if dialect == "postgres":
            sql.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" CHECK ({condition})')
        else:
            for event in ("INSERT", "UPDATE"):
                sql.append(
                    f'CREATE TRIGGER "{name}_{event.lower()}" BEFORE {event} ON "{table}" '
                    f"WHEN NOT ({new_row}) "
                    f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
                )
    return sql


async def apply(db: BaseDBAsyncClient, dialect: str) -> None:
    for statement in statements(dialect):
        await db.execute_script(statement)

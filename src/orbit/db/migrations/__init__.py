"""Orbit's migrations: numbered steps applied in order, recorded in the database.

Each step is a module ``mNNNN_name`` with ``async def apply(db, dialect)``.
``orbit migrate`` applies what is pending, one transaction per step; the API
refuses to start while any step is pending.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from orbit.db.connection import db, dialect

TABLE = "orbit_migrations"
#: the PostgreSQL advisory lock migrations take (any constant, Orbit's own)
LOCK_KEY = 0x0B17_3A11


@dataclass(frozen=True)
class Step:
    name: str
    module: ModuleType


def steps() -> list[Step]:
    found = [
        info.name
        for info in pkgutil.iter_modules(__path__)
        if info.name[:1] == "m" and info.name[1:5].isdigit()
    ]
    return [Step(name[1:], importlib.import_module(f"{__name__}.{name}")) for name in sorted(found)]


async def _ensure_table(conn: BaseDBAsyncClient) -> None:
    await conn.execute_script(
        f'CREATE TABLE IF NOT EXISTS "{TABLE}" ('
        '"name" VARCHAR(200) NOT NULL PRIMARY KEY, '
        '"applied_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)'
    )


async def applied() -> set[str]:
    conn = db()
    await _ensure_table(conn)
    rows = await conn.execute_query_dict(f'SELECT "name" FROM "{TABLE}"')
    return {row["name"] for row in rows}


async def pending() -> list[str]:
    done = await applied()
    return [step.name for step in steps() if step.name not in done]


async def migrate() -> list[str]:
    """Apply every pending step; returns the names applied."""
    done = await applied()
    kind = dialect()
    ran = []
    for step in steps():
        if step.name in done:
            continue
        async with in_transaction() as conn:
            if kind == "postgres":
                # one migrator at a time: a second one waits, then finds the step applied
                await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])
                rows = await conn.execute_query_dict(
                    f'SELECT 1 FROM "{TABLE}" WHERE "name" = $1', [step.name]
                )
                if rows:
                    continue
            await step.module.apply(conn, kind)
            await conn.execute_query(
                f'INSERT INTO "{TABLE}" ("name") VALUES (?)'
                if kind == "sqlite"
                else f'INSERT INTO "{TABLE}" ("name") VALUES ($1)',
                [step.name],
            )
        ran.append(step.name)
    return ran

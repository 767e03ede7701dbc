"""The schema the migrations build is the schema the models declare: a model change
without its migration fails here."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import Tortoise, fields
from tortoise.models import Model

from orbit.db.connection import db, dialect
from orbit.db.migrations import TABLE, migrate, pending, steps
from orbit.db.migrations.m0002_guards import CHECKS, PARTIAL_UNIQUE
from tests.support import tables


def models() -> list[type[Model]]:
    return sorted(Tortoise.apps["models"].values(), key=lambda m: m._meta.db_table)


def declared(model: type[Model]) -> dict[str, bool]:
    """column -> nullable, as the model declares it."""
    meta = model._meta
    return {
        column: meta.fields_map[name].null for name, column in meta.fields_db_projection.items()
    }


async def catalog(table: str) -> dict[str, bool]:
    """column -> nullable, as the database has it."""
    conn = db()
    if dialect() == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = $1",
            [table],
        )
        return {r["column_name"]: r["is_nullable"] == "YES" for r in rows}
    rows = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
    return {r["name"]: not r["notnull"] for r in rows}


async def test_every_model_has_its_table_and_no_table_is_left_over() -> None:
    assert {m._meta.db_table for m in models()} == set(await tables())


async def test_every_table_has_exactly_the_columns_its_model_declares() -> None:
    mismatched = {}
    for model in models():
        table = model._meta.db_table
        want, have = declared(model), await catalog(table)
        if want != have:
            mismatched[table] = {
                "missing": sorted(set(want) - set(have)),
                "unexpected": sorted(set(have) - set(want)),
                "nullability": sorted(c for c in set(want) & set(have) if want[c] != have[c]),
            }
    assert not mismatched


async def test_decimal_columns_keep_their_declared_places() -> None:
    if dialect() != "postgres":
        return  # SQLite keeps decimals as text
    conn = db()
    for model in models():
        for name, field in model._meta.fields_map.items():
            if not isinstance(field, fields.DecimalField):
                continue
            column = model._meta.fields_db_projection[name]
            (row,) = await conn.execute_query_dict(
                "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
                "WHERE table_name = $1 AND column_name = $2",
                [model._meta.db_table, column],
            )
            assert (row["numeric_precision"], row["numeric_scale"]) == (
                field.max_digits,
                field.decimal_places,
            ), f"{model.__name__}.{name}"


async def test_every_step_is_recorded_and_migrating_again_does_nothing() -> None:
    assert await pending() == []
    assert await migrate() == []
    rows = await db().execute_query_dict(f'SELECT "name" FROM "{TABLE}" ORDER BY "name"')
    recorded = [r["name"] for r in rows]
    assert recorded == [step.name for step in steps()]
    assert recorded[:2] == ["0001_initial", "0002_guards"]


async def test_two_migrators_at_once_apply_each_step_once() -> None:
    """Two `orbit migrate` at the same moment: the second waits and skips (PostgreSQL)."""
    if dialect() != "postgres":
        pytest.skip("SQLite allows one writer at a time")
    undo = [f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"' for table, name, _ in CHECKS]
    undo += [f'DROP INDEX "{name}"' for name, *_ in PARTIAL_UNIQUE]
    undo += [
        "DELETE FROM document_sequences",
        f"DELETE FROM \"{TABLE}\" WHERE name = '0002_guards'",
    ]
    try:
        await db().execute_script("; ".join(undo))
        first, second = await asyncio.gather(migrate(), migrate())
    finally:
        await migrate()
    assert sorted(first + second) == ["0002_guards"]
    rows = await db().execute_query_dict(f'SELECT "name" FROM "{TABLE}" ORDER BY "name"')
    assert [r["name"] for r in rows] == [step.name for step in steps()]

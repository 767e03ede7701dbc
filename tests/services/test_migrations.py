"""The schema the migrations build is the schema the models declare: a model change
without its migration fails here."""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise, fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from orbit import config
from orbit.api.app import prepare_database
from orbit.db import migrations
from orbit.db.connection import close_db, db, dialect, open_db
from orbit.db.migrations import LOCK_KEY, TABLE, MigrationError, migrate, pending, split, steps
from orbit.db.migrations.m0002_guards import CHECKS, PARTIAL_UNIQUE
from tests.support import TestDatabase, backend, tables


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


# --- all or nothing, under one lock, checksummed; pending() only reads ---------------


@pytest.fixture
async def fresh(database: TestDatabase) -> AsyncIterator[TestDatabase]:
    """A new, empty database of the session's backend, open as the default connection
    for the test (the session's database is opened again after it)."""
    new = TestDatabase(backend())
    await new.create()
    await close_db()
    await open_db(new.url)
    try:
        yield new
    finally:
        await close_db()
        await new.drop()
        await open_db(database.url)


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str, str], None]]:
    """``inject("9001_name", source)``: a step module ``m9001_name`` with that source,
    found by ``steps()`` beside the real ones, for the test."""
    folder = tmp_path / "steps"
    folder.mkdir()
    monkeypatch.setattr(migrations, "__path__", [*migrations.__path__, str(folder)])

    def add(name: str, source: str) -> None:
        (folder / f"m{name}.py").write_text(textwrap.dedent(source))
        sys.modules.pop(f"{migrations.__name__}.m{name}", None)
        importlib.invalidate_caches()

    yield add
    for path in folder.glob("m*.py"):
        sys.modules.pop(f"{migrations.__name__}.{path.stem}", None)


async def everything() -> dict[str, Any]:
    """Every object of the schema (tables, indexes, constraints, triggers) and every
    row of every table, the migrations table included."""
    conn = db()
    if dialect() == "postgres":
        objects = await conn.execute_query_dict(
            "SELECT 'table' AS type, tablename AS name, '' AS sql FROM pg_tables "
            "WHERE schemaname = 'public' UNION ALL "
            "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "UNION ALL SELECT 'constraint', conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
            "UNION ALL SELECT 'trigger', tgname, '' FROM pg_trigger WHERE NOT tgisinternal"
        )
    else:
        objects = await conn.execute_query_dict("SELECT type, name, sql FROM sqlite_master")
    names = sorted(o["name"] for o in objects if o["type"] == "table")
    state: dict[str, Any] = {
        "schema": sorted((o["type"], o["name"], str(o["sql"])) for o in objects)
    }
    for name in names:
        rows = await conn.execute_query_dict(f'SELECT * FROM "{name}"')
        state[name] = sorted(repr(sorted(row.items())) for row in rows)
    return state


async def all_tables() -> list[str]:
    state = await everything()
    return sorted(kind_name[1] for kind_name in state["schema"] if kind_name[0] == "table")


#: the step made to fail halfway: a table and a row, then a unique index that the data
#: breaks while two accounts share a name
HALF_SQL = [
    'CREATE TABLE "half_done" ("id" INT NOT NULL PRIMARY KEY)',
    'INSERT INTO "half_done" ("id") VALUES (1)',
    'UPDATE "accounts" SET "payment_term_days" = 99',
    'CREATE UNIQUE INDEX "accounts_name_once" ON "accounts" ("name")',
]
HALF_SCRIPT = ";\n".join(HALF_SQL)
HALF_STEPS = {
    "statements": f"""
        def statements(dialect):
            return {HALF_SQL!r}
        """,
    # the old interface, as m0001 used to run its SQL file: one script
    "apply-script": f"""
        async def apply(db, dialect):
            await db.execute_script({HALF_SCRIPT!r})
        """,
}


async def two_accounts_named_alike() -> None:
    from tests.services import factory

    for _ in range(2):
        await factory.account(name="Acme")


@pytest.mark.parametrize("style", list(HALF_STEPS))
async def test_a_step_that_fails_halfway_leaves_the_database_as_it_was(
    fresh: TestDatabase, inject: Callable[[str, str], None], style: str
) -> None:
    assert await migrate() == [step.name for step in steps()]
    await two_accounts_named_alike()
    inject("9001_half", HALF_STEPS[style])
    before = await everything()

    with pytest.raises(IntegrityError):
        await migrate()

    assert await everything() == before  # no half_done table, no row, terms untouched
    assert await pending() == ["9001_half"]
    # the cause is fixed (the data, here); the next start applies the step whole
    await db().execute_query("UPDATE accounts SET name = 'Acme 2' WHERE id = 2")
    await close_db()
    if backend() == "postgres":
        await open_db(fresh.url)
        assert await migrate() == ["9001_half"]  # `orbit migrate`, then the API starts
        await close_db()
    await prepare_database(config.Settings(database_url=fresh.url, env="test"))
    assert await pending() == []
    assert "half_done" in await all_tables()
    terms = await db().execute_query_dict("SELECT DISTINCT payment_term_days AS t FROM accounts")
    assert terms == [{"t": 99}]


async def test_pending_on_a_fresh_database_creates_nothing(fresh: TestDatabase) -> None:
    before = await everything()
    assert before == {"schema": []}
    assert await pending() == [step.name for step in steps()]
    assert await everything() == before


async def test_pending_writes_nothing_on_a_migrated_database(fresh: TestDatabase) -> None:
    await migrate()
    before = await everything()
    assert await pending() == []
    assert await everything() == before


async def test_applied_steps_are_recorded_with_the_checksum_of_what_they_ran(
    fresh: TestDatabase,
) -> None:
    await migrate()
    rows = await db().execute_query_dict(f'SELECT name, checksum FROM "{TABLE}" ORDER BY name')
    assert [(r["name"], r["checksum"]) for r in rows] == [
        (step.name, step.checksum(dialect())) for step in steps()
    ]
    assert all(len(r["checksum"]) == 64 for r in rows)
    # what the checksum covers: the SQL of the dialect, statement by statement
    initial = steps()[0]
    statements = initial.module.statements(dialect())
    assert len(statements) > 20
    assert initial.checksum(dialect()) != initial.checksum(
        "postgres" if dialect() == "sqlite" else "sqlite"
    )


@pytest.mark.parametrize("style", ["statements", "apply"])
async def test_a_step_changed_after_it_was_applied_is_refused_by_name(
    fresh: TestDatabase, inject: Callable[[str, str], None], style: str
) -> None:
    def source(table: str) -> str:
        if style == "statements":
            return f"def statements(dialect):\n    return ['CREATE TABLE {table} (id INT)']\n"
        return (
            "async def apply(db, dialect):\n"
            f"    await db.execute_script('CREATE TABLE {table} (id INT)')\n"
        )

    inject("9001_first", source("first_table"))
    assert await migrate() == [step.name for step in steps()]
    assert steps()[-1].name == "9001_first"
    inject("9001_first", source("renamed_table"))  # edited after it was applied
    inject("9002_next", source("next_table"))
    before = await everything()

    for check in (pending, migrate):
        with pytest.raises(MigrationError, match="9001_first") as refused:
            await check()
        assert "0001_initial" not in str(refused.value)
        assert "9002_next" not in str(refused.value)
    assert await everything() == before  # 9002_next was not applied either

    inject("9001_first", source("first_table"))  # restored: all is well again
    assert await migrate() == ["9002_next"]


async def test_steps_recorded_before_checksums_get_theirs_at_the_next_migrate(
    fresh: TestDatabase,
) -> None:
    """A database migrated by an Orbit that kept no checksums: its rows are taken as
    they are (unknown, not an error) by pending(), which writes nothing, and get the
    checksum of the steps as they are now at the next migrate()."""
    await migrate()
    conn = db()
    await conn.execute_script(f'DROP TABLE "{TABLE}"')
    await conn.execute_script(
        f'CREATE TABLE "{TABLE}" ("name" VARCHAR(200) NOT NULL PRIMARY KEY, '
        '"applied_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)'
    )
    for step in steps():
        await conn.execute_query(f"INSERT INTO \"{TABLE}\" (name) VALUES ('{step.name}')")
    before = await everything()

    assert await pending() == []
    assert await everything() == before

    assert await migrate() == []
    rows = await conn.execute_query_dict(f'SELECT name, checksum FROM "{TABLE}" ORDER BY name')
    assert [(r["name"], r["checksum"]) for r in rows] == [
        (step.name, step.checksum(dialect())) for step in steps()
    ]


#: what the probe saw, step by step: can another connection take the migrate lock?
PROBES: list[tuple[str, bool]] = []
#: the database the probe connects to
PROBED: list[str] = []


async def probe(step: str) -> None:
    """From a connection of its own, try to take the lock a second migrator would."""
    if dialect() == "postgres":
        import asyncpg

        from tests.support import PG_ADMIN_URL

        name = PROBED[0].rsplit("/", 1)[1]
        other = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        try:
            free = await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
            if free:
                await other.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        finally:
            await other.close()
    else:
        path = PROBED[0].removeprefix("sqlite://")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free = True
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
            free = False
        finally:
            other.close()
    PROBES.append((step, free))


async def test_the_migrate_lock_is_held_from_the_first_step_to_the_last(
    fresh: TestDatabase, inject: Callable[[str, str], None]
) -> None:
    await migrate()
    step = """
        from tests.services.test_migrations import probe
        async def apply(db, dialect):
            await probe(__name__.rsplit(".m", 1)[1])
        """
    inject("9001_first", step)
    inject("9002_second", step)
    PROBES.clear()
    PROBED[:] = [fresh.url]
    await probe("before")
    assert await migrate() == ["9001_first", "9002_second"]
    await probe("after")
    assert PROBES == [
        ("before", True),
        ("9001_first", False),
        ("9002_second", False),
        ("after", True),
    ]


def test_scripts_are_split_into_statements_outside_strings_comments_and_triggers() -> None:
    script = """
        CREATE TABLE "a" ("x" TEXT /* a comment; with a semicolon */);
        INSERT INTO "a" VALUES ('one; two');
        -- a line comment; and another
        CREATE TRIGGER "t" BEFORE INSERT ON "a" BEGIN SELECT RAISE(ABORT, 'no; never'); END;
        INSERT INTO "a" VALUES ('last')
    """
    assert [s.split()[0:2] for s in split(script)] == [
        ["CREATE", "TABLE"],
        ["INSERT", "INTO"],
        ["--", "a"],
        ["INSERT", "INTO"],
    ]
    assert len(split(script)) == 4
    assert split("  ;\n ; ") == []

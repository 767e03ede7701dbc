from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from graphlib import TopologicalSorter

import pytest
from tortoise import Tortoise

from orbit import clock
from orbit.db.connection import db, dialect
from orbit.db.migrations.m0002_guards import SEED
from orbit.db.models import Invoice
from tests.services import factory
from tests.support import TestDatabase, backend, empty_database


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "postgres: needs PostgreSQL (row locks, concurrent transactions); skipped on SQLite, "
        "which ignores SELECT ... FOR UPDATE and serialises every writer",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if backend() == "postgres":
        return
    skip = pytest.mark.skip(
        reason="PostgreSQL only: run with ORBIT_TEST_BACKEND=postgres (CI runs both backends)"
    )
    for item in items:
        if item.get_closest_marker("postgres") is not None:
            item.add_marker(skip)


def _deletion_order() -> list[str]:
    """Every table, each before the tables its foreign keys point to."""
    referenced_by: dict[str, set[str]] = {}
    for model in Tortoise.apps["models"].values():
        table = model._meta.db_table
        referenced_by.setdefault(table, set())
        for name in model._meta.fk_fields:
            target = model._meta.fields_map[name].related_model._meta.db_table
            if target != table:
                referenced_by.setdefault(target, set()).add(table)
    return list(TopologicalSorter(referenced_by).static_order())


async def _empty() -> None:
    """Empty every table. PostgreSQL's TRUNCATE costs ~120 ms for these ~20 tables
    (most of a test's time); DELETE in foreign-key order costs ~1 ms."""
    if dialect() != "postgres":
        await empty_database()
        return
    conn = db()
    await conn.execute_script("; ".join(f'DELETE FROM "{t}"' for t in _deletion_order()))
    for statement in SEED:
        await conn.execute_script(statement)


@pytest.fixture(autouse=True)
async def clean(database: TestDatabase) -> AsyncIterator[None]:
    """Every service test starts on an empty database (tests/conftest.py's session
    database) with a free clock, and leaves the clock free."""
    await _empty()
    clock.pin(None)
    yield
    clock.pin(None)


Bill = Callable[..., Awaitable[Invoice | None]]


@pytest.fixture(params=["bill_account", "invoice_run"])
def bill(request: pytest.FixtureRequest) -> Bill:
    """Bill one account for a date (``await bill(account, on, invoice_date=None)``), both
    ways a document comes to be: ``bill_account`` alone, and an invoice run (set-based
    on PostgreSQL). A test taking this fixture runs once each way."""
    return factory.bill if request.param == "bill_account" else factory.bill_by_run

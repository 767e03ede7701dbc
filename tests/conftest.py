"""Hypothesis profiles for the whole suite.

``HYPOTHESIS_PROFILE=ci`` runs every property 500 times; the default ``dev``
profile runs 100 for quick local runs.
"""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=500, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# A database for the whole session (SQLite by default, PostgreSQL with
# ORBIT_TEST_BACKEND=postgres), emptied before every test that uses it.

from collections.abc import AsyncIterator  # noqa: E402

import pytest  # noqa: E402

from tests.support import TestDatabase, empty_database, open_test_database  # noqa: E402


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[TestDatabase]:
    async for opened in open_test_database():
        yield opened


@pytest.fixture
async def clean(database: TestDatabase) -> AsyncIterator[None]:
    from orbit import clock

    await empty_database()
    clock.pin(None)
    yield
    clock.pin(None)

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support import TestDatabase, empty_database, open_test_database


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[TestDatabase]:
    async for database in open_test_database():
        yield database


@pytest.fixture(autouse=True)
async def clean(database: TestDatabase) -> AsyncIterator[None]:
    await empty_database()
    yield

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.faults.harness import PrivateRedis, Workers
from tests.support import TestDatabase, backend

pytestmark = pytest.mark.skipif(
    backend() != "postgres",
    reason="worker fault tests need PostgreSQL and Redis (ORBIT_TEST_BACKEND=postgres)",
)


@pytest.fixture
async def shared_redis() -> AsyncIterator[str]:
    import os

    url = os.environ.get("ORBIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    client = Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    yield url
    client = Redis.from_url(url)
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.cleanup()


@pytest.fixture
def workers_for(database: TestDatabase) -> Iterator[object]:
    started: list[Workers] = []

    def make(redis_url: str) -> Workers:
        workers = Workers(database.url, redis_url)
        started.append(workers)
        return workers

    yield make
    for workers in started:
        workers.stop_all()
        workers.cleanup()


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 20 accounts, so a crash or a restart lands in the middle of a run."""
    monkeypatch.setenv("ORBIT_RUN_CHUNK_SIZE", "20")

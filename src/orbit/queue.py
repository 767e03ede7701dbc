"""Enqueueing background work: arq on Redis, or arq inside this process.

With ORBIT_REDIS_URL the API only enqueues, and ``orbit worker`` processes run
the jobs. Without it, ``orbit serve`` runs an arq worker in-process on an
in-memory Redis (fakeredis): the same job functions, no services needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import arq.worker
from arq.connections import ArqRedis, create_pool
from arq.worker import Worker

from orbit.config import Settings

log = logging.getLogger("orbit.queue")


async def _no_redis_info(redis: Any, log_func: Any) -> None:
    log_func("in-memory queue (no Redis)")


class JobQueue:
    def __init__(self, pool: ArqRedis, worker: Worker | None = None) -> None:
        self.pool = pool
        self.worker = worker
        self._task: asyncio.Task[Any] | None = None

    async def enqueue(self, function: str, *args: Any, job_id: str | None = None) -> None:
        await self.pool.enqueue_job(function, *args, _job_id=job_id)

    async def enqueue_run(self, run_id: int) -> None:
        await self.enqueue("start_invoice_run", run_id, job_id=f"run-{run_id}")

    async def enqueue_hold_rules(self, account_id: int | None = None) -> None:
        await self.enqueue("apply_hold_rules", account_id)

    def start_worker(self) -> None:
        if self.worker is not None:
            self._task = asyncio.create_task(self.worker.async_run())

    async def close(self) -> None:
        if self.worker is not None and self._task is not None:
            # stop the worker's loop first: closing a worker whose loop has not
            # started yet would leave that loop running on a closed pool
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            await self.worker.close()
        else:
            await self.pool.aclose()


def embedded_worker(pool: ArqRedis, settings: Settings, burst: bool = False) -> Worker:
    from workers.settings import cron_jobs, functions

    # fakeredis has no INFO command, which arq's start-up log uses
    setattr(arq.worker, "log_redis_info", _no_redis_info)  # noqa: B010
    return Worker(
        functions=functions(),
        cron_jobs=[] if burst else cron_jobs(settings),
        redis_pool=pool,
        handle_signals=False,
        poll_delay=0.05,
        burst=burst,
        max_jobs=settings.worker_concurrency,
        ctx={"settings": settings},
    )


def memory_pool() -> ArqRedis:
    from fakeredis import FakeAsyncRedisConnection, FakeServer
    from redis.asyncio import ConnectionPool

    pool = ConnectionPool(connection_class=FakeAsyncRedisConnection, server=FakeServer())
    return ArqRedis(connection_pool=pool)


async def open_queue(settings: Settings) -> JobQueue:
    if settings.redis_url is not None:
        from workers.settings import redis_settings

        pool = await create_pool(redis_settings(settings.redis_url))
        return JobQueue(pool)
    pool = memory_pool()
    queue = JobQueue(pool, embedded_worker(pool, settings))
    queue.start_worker()
    log.info("jobs run inside this process (no ORBIT_REDIS_URL)")
    return queue

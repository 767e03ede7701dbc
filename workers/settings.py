"""arq settings: ``arq workers.settings.WorkerSettings`` or ``orbit worker``."""

from __future__ import annotations

import os
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orbit import config
from workers import jobs

#: the longest a job may run. arq waits this long (plus 10 s) before it gives a
#: job lost with its worker to another worker, so it is kept close to real work;
#: the sweeper usually finishes a lost run sooner.
JOB_TIMEOUT = 120


def sweep_seconds() -> set[int]:
    """Seconds of each minute at which the sweeper runs (ORBIT_SWEEP_INTERVAL_SECONDS)."""
    interval = int(os.environ.get("ORBIT_SWEEP_INTERVAL_SECONDS", "30"))
    interval = min(max(interval, 1), 60)
    return set(range(0, 60, interval))


def functions() -> list[Any]:
    counted = jobs.counted
    return [
        func(
            counted(jobs.start_invoice_run),
            name="start_invoice_run",
            timeout=60,
            max_tries=jobs.START_TRIES,
        ),
        func(
            counted(jobs.bill_run_chunk),
            name="bill_run_chunk",
            timeout=JOB_TIMEOUT,
            max_tries=jobs.CHUNK_TRIES,
            keep_result=0,
        ),
        func(
            counted(jobs.apply_hold_rules),
            name="apply_hold_rules",
            timeout=JOB_TIMEOUT,
            max_tries=jobs.RULE_TRIES,
        ),
        func(
            counted(jobs.release_due_holds),
            name="release_due_holds",
            timeout=JOB_TIMEOUT,
            max_tries=jobs.RULE_TRIES,
        ),
        func(
            counted(jobs.renew_and_expire),
            name="renew_and_expire",
            timeout=JOB_TIMEOUT,
            max_tries=jobs.RULE_TRIES,
        ),
        func(counted(jobs.sweep), name="sweep", timeout=60, max_tries=1),
        func(
            counted(jobs.scheduled_invoice_run),
            name="scheduled_invoice_run",
            timeout=60,
            max_tries=1,
        ),
    ]


def cron_jobs(settings: config.Settings) -> list[Any]:
    """Every minute: release due holds; twice a minute: sweep; hourly: overdue rule,
    renewals."""
    counted = jobs.counted
    jobs_ = [
        cron(
            counted(jobs.release_due_holds),
            name="cron:release_due_holds",
            max_tries=jobs.RULE_TRIES,
            second=5,
            keep_result=3600,
            unique=True,
        ),
        cron(
            counted(jobs.sweep),
            name="cron:sweep",
            second=sweep_seconds(),
            keep_result=3600,
            unique=True,
        ),
        cron(
            counted(jobs.apply_hold_rules),
            name="cron:apply_hold_rules",
            max_tries=jobs.RULE_TRIES,
            minute=7,
            second=0,
            keep_result=3600,
            unique=True,
        ),
        cron(
            counted(jobs.renew_and_expire),
            name="cron:renew_and_expire",
            max_tries=jobs.RULE_TRIES,
            minute=17,
            second=0,
            keep_result=3600,
            unique=True,
        ),
    ]
    when = jobs.scheduled_minute(settings)
    if when is not None:
        jobs_.append(
            cron(
                counted(jobs.scheduled_invoice_run),
                name="cron:scheduled_invoice_run",
                hour=when[0],
                minute=when[1],
                second=0,
                keep_result=3600 * 24,
                unique=True,
            )
        )
    return jobs_


async def startup(ctx: dict[str, Any]) -> None:
    from tortoise import Tortoise

    from orbit.db.connection import close_db, open_db
    from orbit.logs import configure

    settings = config.load()
    configure(settings, component="worker")
    ctx["settings"] = settings
    if Tortoise._inited:
        await close_db()
    await open_db(settings.database_url)


async def shutdown(ctx: dict[str, Any]) -> None:
    from orbit.db.connection import close_db

    await close_db()


def redis_settings(url: str | None) -> RedisSettings:
    """Redis settings that ride out a short Redis outage (a restart) instead of dying."""
    settings = RedisSettings.from_dsn(url or "redis://127.0.0.1:6379/0")
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    settings.retry = RedisRetry(ExponentialBackoff(cap=5, base=0.5), retries=12)
    settings.conn_retries = 10
    return settings


def _settings() -> config.Settings:
    """The environment's settings; a bad one is reported by startup(), not at import."""
    try:
        return config.load()
    except config.ConfigError:
        return config.Settings()


_SETTINGS = _settings()


class WorkerSettings:
    """For the ``arq`` command line; ``orbit worker`` builds the same worker."""

    functions = functions()
    cron_jobs = cron_jobs(_SETTINGS)
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings(_SETTINGS.redis_url)
    max_jobs = _SETTINGS.worker_concurrency
    job_timeout = JOB_TIMEOUT
    retry_jobs = True

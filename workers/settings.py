"""arq settings: ``arq workers.settings.WorkerSettings`` or ``orbit worker``."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func

from orbit import config
from workers import jobs

JOB_TIMEOUT = 300


def functions() -> list[Any]:
    return [
        func(jobs.start_invoice_run, timeout=60, max_tries=20),
        func(jobs.bill_run_chunk, timeout=JOB_TIMEOUT, max_tries=20, keep_result=0),
        func(jobs.apply_hold_rules, timeout=JOB_TIMEOUT, max_tries=5),
        func(jobs.release_due_holds, timeout=JOB_TIMEOUT, max_tries=5),
        func(jobs.renew_and_expire, timeout=JOB_TIMEOUT, max_tries=5),
        func(jobs.sweep, timeout=60, max_tries=1),
        func(jobs.scheduled_invoice_run, timeout=60, max_tries=1),
    ]


def cron_jobs(settings: config.Settings) -> list[Any]:
    """Every minute: release due holds, sweep; hourly: overdue rule, renewals."""
    jobs_ = [
        cron(jobs.release_due_holds, second=5, keep_result=3600, unique=True),
        cron(jobs.sweep, second=35, keep_result=3600, unique=True),
        cron(jobs.apply_hold_rules, minute=7, second=0, keep_result=3600, unique=True),
        cron(jobs.renew_and_expire, minute=17, second=0, keep_result=3600, unique=True),
    ]
    when = jobs.scheduled_minute(settings)
    if when is not None:
        jobs_.append(cron(jobs.scheduled_invoice_run, hour=when[0], minute=when[1], second=0,
                          keep_result=3600 * 24, unique=True))
    return jobs_


async def startup(ctx: dict[str, Any]) -> None:
    from orbit.db.connection import open_db
    from orbit.logs import configure

    settings = config.load()
    configure(settings, component="worker")
    ctx["settings"] = settings
    await open_db(settings.database_url)


async def shutdown(ctx: dict[str, Any]) -> None:
    from orbit.db.connection import close_db

    await close_db()


def redis_settings(url: str | None) -> RedisSettings:
    return RedisSettings.from_dsn(url or "redis://127.0.0.1:6379/0")


def _settings() -> config.Settings:
    try:
        return config.load()
    except config.ConfigError:
        return config.Settings()


class WorkerSettings:
    """For the ``arq`` command line; ``orbit worker`` builds the same worker."""

    functions = functions()
    cron_jobs = cron_jobs(_settings())
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings(_settings().redis_url)
    max_jobs = _settings().worker_concurrency
    job_timeout = JOB_TIMEOUT
    retry_jobs = True

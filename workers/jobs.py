"""Job functions. Each is thin: it calls a service, and the database makes a job
that runs twice (a retry, a duplicate delivery, the sweeper) add nothing."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from arq import Retry

from orbit import clock, config, logs, metrics
from orbit.services import faults, holds, renewals, runs
from orbit.services.access import Actor

log = logging.getLogger("orbit.workers")

Ctx = dict[str, Any]
T = TypeVar("T")
Job = Callable[..., Awaitable[Any]]


#: tries arq gives each job (``max_tries`` in workers/settings.py). A job that meets a
#: connection or concurrency fault asks arq to run it again later (``Retry``, with a
#: growing pause); on its last try it records what still fails instead of retrying.
START_TRIES = 8
CHUNK_TRIES = 8
RULE_TRIES = 5


def stall_after(settings: config.Settings | None = None) -> timedelta:
    """A run with no progress for this long is restarted by the sweeper
    (ORBIT_SWEEP_STALL_SECONDS, default 60)."""
    return timedelta(seconds=(settings or config.load()).sweep_stall_seconds)


def retry_delay(ctx: Ctx) -> float:
    """The pause before the next try: 2, 4, 8, 16, then 30 seconds."""
    return float(min(30, 2 ** int(ctx.get("job_try", 1))))


def last_try(ctx: Ctx, tries: int) -> bool:
    return int(ctx.get("job_try", 1)) >= tries


def _settings(ctx: Ctx) -> config.Settings:
    settings = ctx.get("settings")
    return settings if isinstance(settings, config.Settings) else config.load()


async def start_invoice_run(ctx: Ctx, run_id: int, sweep: str = "") -> int:
    """Mark the run RUNNING and fan its pending chunks out to the workers."""
    logs.run_id.set(run_id)
    try:
        chunks = await runs.begin(run_id)
        for chunk in chunks:
            await ctx["redis"].enqueue_job(
                "bill_run_chunk", run_id, chunk, _job_id=f"run-{run_id}-chunk-{chunk}{sweep}"
            )
        if not chunks:
            await runs.finish_if_done(run_id)
        return len(chunks)
    except Exception as error:
        if faults.is_transient(error):
            if last_try(ctx, START_TRIES):
                # the sweeper starts the run again later (a bounded number of times)
                log.error("invoice run %s could not start: %s", run_id, faults.describe(error))
                raise
            raise Retry(defer=retry_delay(ctx)) from error
        log.exception("invoice run %s could not start", run_id)
        await runs.fail_run(run_id, faults.describe(error))
        raise


async def bill_run_chunk(ctx: Ctx, run_id: int, chunk: int) -> int:
    """Bill one chunk of a run's accounts, then close the run if nothing is pending.

    An account's own fault marks it FAILED and the chunk goes on. A connection or
    concurrency fault that outlives the attempts made here retries the job later;
    on its last try the accounts it still stops are marked FAILED with the message.
    """
    started = time.monotonic()
    logs.run_id.set(run_id)
    final = last_try(ctx, CHUNK_TRIES)
    try:
        billed = await runs.bill_chunk(run_id, chunk, last_try=final)
        finished = await runs.finish_if_done(run_id)
    except Exception as error:
        if faults.is_transient(error) and not final:
            log.warning(
                "run %s chunk %s: transient fault, try %s of %s, again later: %s",
                run_id,
                chunk,
                ctx.get("job_try", 1),
                CHUNK_TRIES,
                faults.describe(error),
            )
            raise Retry(defer=retry_delay(ctx)) from error
        raise
    metrics.LINES_BILLED.inc(billed.lines)
    metrics.DOCUMENTS_CREATED.inc(billed.documents)
    if finished is not None and finished.started_at and finished.finished_at:
        metrics.RUN_SECONDS.observe((finished.finished_at - finished.started_at).total_seconds())
    log.info(
        "run %s chunk %s: %s accounts billed in %.2fs",
        run_id,
        chunk,
        billed.accounts,
        time.monotonic() - started,
    )
    return billed.accounts


async def apply_hold_rules(ctx: Ctx, account_id: int | None = None) -> int:
    """Place or release OVERDUE_RULE holds (one account, or every account concerned);
    an account that fails is recorded and the others are judged."""
    ids = None if account_id is None else [account_id]
    return await _retrying(
        ctx, lambda final: holds.apply_overdue_rule(ids, retry_transient=not final)
    )


async def release_due_holds(ctx: Ctx) -> int:
    """Release MANUAL holds whose releaseOn date has come."""
    return await _retrying(
        ctx, lambda final: holds.release_due_manual_holds(retry_transient=not final)
    )


async def renew_and_expire(ctx: Ctx) -> tuple[int, int]:
    """Renew or expire the contracts that are due; a contract that fails is recorded
    and the others proceed."""
    return await _retrying(ctx, lambda final: renewals.process_renewals(retry_transient=not final))


async def _retrying(ctx: Ctx, work: Callable[[bool], Awaitable[T]]) -> T:
    """Run a per-item job: a connection or concurrency fault that outlived its attempts
    retries the job later; on its last try the job records the items it still stops
    and goes on with the others."""
    final = last_try(ctx, RULE_TRIES)
    try:
        return await work(final)
    except Exception as error:
        if faults.is_transient(error) and not final:
            log.warning("transient fault, job retried later: %s", faults.describe(error))
            raise Retry(defer=retry_delay(ctx)) from error
        raise


async def sweep(ctx: Ctx) -> int:
    """Restart runs whose jobs were lost (no progress for a while), a bounded number of
    times in a row; a run that still makes no progress is FAILED with why."""
    settings = _settings(ctx)
    limit = stall_after(settings)
    swept = await runs.sweep_stalled(limit, settings.sweep_max_restarts)
    stamp = int(clock.now().timestamp() * 1000)
    for run_id in swept.restarted:
        log.warning("invoice run %s made no progress for %s: restarted", run_id, limit)
        await ctx["redis"].enqueue_job(
            "start_invoice_run",
            run_id,
            f"-sweep-{stamp}",
            _job_id=f"run-{run_id}-sweep-{stamp}",
        )
    return len(swept.restarted)


async def scheduled_invoice_run(ctx: Ctx) -> int | None:
    """The optional daily run, for every account, targeting today in the configured zone."""
    settings = ctx["settings"]
    if settings.scheduled_run_time is None:
        return None
    today = clock.now().astimezone(ZoneInfo(settings.scheduled_run_timezone)).date()
    run = await runs.start_run(Actor.system(), runs.RunRequest(target_date=today))
    await ctx["redis"].enqueue_job("start_invoice_run", run.id, _job_id=f"run-{run.id}")
    return run.id


def scheduled_minute(settings: Any) -> tuple[int, int] | None:
    """(hour, minute) in UTC of today's scheduled run, for the cron schedule."""
    if settings.scheduled_run_time is None:
        return None
    zone = ZoneInfo(settings.scheduled_run_timezone)
    local = datetime.combine(clock.now().astimezone(zone).date(), settings.scheduled_run_time, zone)
    utc = local.astimezone(ZoneInfo("UTC"))
    return utc.hour, utc.minute


def counted(job: Job) -> Any:
    """Count each run of a job by outcome: complete, retried or failed."""

    @functools.wraps(job)
    async def run(ctx: Ctx, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await job(ctx, *args, **kwargs)
        except Retry:
            metrics.JOBS.labels(job.__name__, "retried").inc()
            raise
        except BaseException:
            metrics.JOBS.labels(job.__name__, "failed").inc()
            raise
        metrics.JOBS.labels(job.__name__, "complete").inc()
        return result

    return run


FUNCTIONS = [
    start_invoice_run,
    bill_run_chunk,
    apply_hold_rules,
    release_due_holds,
    renew_and_expire,
    sweep,
    scheduled_invoice_run,
]

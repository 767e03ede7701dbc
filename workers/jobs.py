"""Job functions. Each is thin: it calls a service, and the database makes a job
that runs twice (a retry, a duplicate delivery, the sweeper) add nothing."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from arq import Retry

from orbit import clock, logs, metrics
from orbit.db.models import Account
from orbit.services import holds, renewals, runs
from orbit.services.access import Actor

log = logging.getLogger("orbit.workers")

Ctx = dict[str, Any]
Job = Callable[..., Awaitable[Any]]


def stall_after() -> timedelta:
    """A run with no progress for this long is finished by the sweeper
    (ORBIT_SWEEP_STALL_SECONDS, default 60)."""
    import os

    return timedelta(seconds=int(os.environ.get("ORBIT_SWEEP_STALL_SECONDS", "60")))


def _retry_delay(ctx: Ctx) -> float:
    return float(min(30, 2 ** int(ctx.get("job_try", 1))))


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
    except runs.TransientError as error:
        raise Retry(defer=_retry_delay(ctx)) from error
    except Exception as error:
        if runs.is_transient(error):
            raise Retry(defer=_retry_delay(ctx)) from error
        log.exception("invoice run %s could not start", run_id)
        await runs.fail_run(run_id, f"{type(error).__name__}: {error}")
        raise


async def bill_run_chunk(ctx: Ctx, run_id: int, chunk: int) -> int:
    """Bill one chunk of a run's accounts, then close the run if nothing is pending."""
    started = time.monotonic()
    logs.run_id.set(run_id)
    try:
        billed = await runs.bill_chunk(run_id, chunk)
        finished = await runs.finish_if_done(run_id)
    except runs.TransientError as error:
        log.warning("run %s chunk %s: transient fault, retrying: %s", run_id, chunk, error)
        raise Retry(defer=_retry_delay(ctx)) from error
    except Exception as error:
        if runs.is_transient(error):
            raise Retry(defer=_retry_delay(ctx)) from error
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
    """Place or release OVERDUE_RULE holds (one account, or every account concerned)."""
    from tortoise.transactions import in_transaction

    ids = [account_id] if account_id is not None else await holds.accounts_with_overdue_candidates()
    changed = 0
    for one in ids:
        async with in_transaction():
            account = await Account.filter(id=one).select_for_update().first()
            if account is None:
                continue
            if await holds.evaluate_overdue_rule(account) is not None:
                changed += 1
    return changed


async def release_due_holds(ctx: Ctx) -> int:
    """Release MANUAL holds whose releaseOn date has come."""
    return await holds.release_due_manual_holds()


async def renew_and_expire(ctx: Ctx) -> tuple[int, int]:
    return await renewals.process_renewals()


async def sweep(ctx: Ctx) -> int:
    """Finish work a lost job left behind: re-enqueue runs that stopped making progress."""
    limit = stall_after()
    stalled = await runs.stalled_runs(limit)
    for run_id in stalled:
        log.warning("invoice run %s made no progress for %s: re-enqueued", run_id, limit)
        await ctx["redis"].enqueue_job(
            "start_invoice_run",
            run_id,
            f"-sweep-{int(time.time())}",
            _job_id=f"run-{run_id}-sweep-{int(time.time())}",
        )
    return len(stalled)


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

"""The sweeper restarts a run that makes no progress a bounded number of times in a
row, then marks it FAILED with why; progress starts the count again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from orbit import clock, config
from orbit.db.models import AuditEvent, InvoiceRun, InvoiceRunAccount, InvoiceRunStatus
from orbit.services import runs
from orbit.services.runs import RunRequest, start_run
from tests.services import factory
from tests.services.factory import SYSTEM
from workers import jobs, settings

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STALL = 60
RESTARTS = 3


class Redis:
    """Records what the sweeper enqueues."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...]]] = []

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> None:
        self.jobs.append((function, args))


def ctx(redis: Redis) -> dict[str, Any]:
    return {
        "redis": redis,
        "settings": replace(
            config.Settings(), sweep_stall_seconds=STALL, sweep_max_restarts=RESTARTS
        ),
    }


async def stalled_run() -> InvoiceRun:
    """A RUNNING run of two accounts whose jobs were lost."""
    factory.pin_today(date(2026, 3, 1))
    seats = await factory.product("30.00")
    for name in ("A", "B"):
        account = await factory.account(billing_day_of_month=1, name=name)
        await factory.contract(account, seats, date(2026, 3, 1))
    clock.pin(START)
    run = await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))
    await runs.begin(run.id)
    return run


async def sweep_at(redis: Redis, seconds: int) -> int:
    clock.pin(START + timedelta(seconds=seconds))
    return await jobs.sweep(ctx(redis))


async def test_a_run_that_keeps_stalling_is_restarted_n_times_then_failed_with_why() -> None:
    run = await stalled_run()
    redis = Redis()
    assert await sweep_at(redis, STALL - 1) == 0  # not stalled yet
    restarted_at = []
    moment = STALL
    for _ in range(RESTARTS):
        assert await sweep_at(redis, moment) == 1
        restarted_at.append(moment)
        # within a stall period of the restart: left alone
        assert await sweep_at(redis, moment + STALL // 2) == 0
        moment += STALL
    assert [f for f, _ in redis.jobs] == ["start_invoice_run"] * RESTARTS
    assert {args[0] for _, args in redis.jobs} == {run.id}
    assert len({args[1] for _, args in redis.jobs}) == RESTARTS  # a new job id each time
    still = await InvoiceRun.get(id=run.id)
    assert (still.status, still.restarts) == (InvoiceRunStatus.RUNNING, RESTARTS)

    assert await sweep_at(redis, moment) == 0
    failed = await InvoiceRun.get(id=run.id)
    assert failed.status is InvoiceRunStatus.FAILED
    assert failed.finished_at == START + timedelta(seconds=moment)
    assert failed.error == (
        f"stalled: no progress for {STALL}s after {RESTARTS} restarts by the sweeper; "
        f"2 of 2 accounts were not billed (see the workers' log for invoice run {run.id})"
    )
    event = await AuditEvent.get(action="invoice_run.fail")
    assert str(RESTARTS) in event.details
    assert len(redis.jobs) == RESTARTS  # not enqueued again
    assert await sweep_at(redis, moment + 10 * STALL) == 0
    # a job still queued finds the run finished and bills nothing
    assert await runs.bill_chunk(run.id, 0) == runs.ChunkResult()


async def test_progress_after_a_restart_starts_the_count_again() -> None:
    run = await stalled_run()
    redis = Redis()
    assert await sweep_at(redis, STALL) == 1
    assert await sweep_at(redis, 2 * STALL) == 1
    assert (await InvoiceRun.get(id=run.id)).restarts == 2
    # a worker bills one account at 2 x STALL + 10: the run moved
    clock.pin(START + timedelta(seconds=2 * STALL + 10))
    share = await InvoiceRunAccount.filter(run_id=run.id).order_by("account_id").first()
    assert share is not None
    await runs.bill_one(run, share.account_id)
    assert await sweep_at(redis, 3 * STALL) == 0  # its progress is recent
    assert await sweep_at(redis, 3 * STALL + 10) == 1
    assert (await InvoiceRun.get(id=run.id)).restarts == 1
    for n in range(2, RESTARTS + 1):
        assert await sweep_at(redis, (3 + n - 1) * STALL + 10) == 1
    assert (await InvoiceRun.get(id=run.id)).restarts == RESTARTS
    assert await sweep_at(redis, (3 + RESTARTS) * STALL + 10) == 0
    failed = await InvoiceRun.get(id=run.id)
    assert failed.status is InvoiceRunStatus.FAILED
    assert failed.error is not None and "1 of 2 accounts were not billed" in failed.error
    assert (failed.accounts_processed, failed.invoices_created) == (1, 1)


async def test_a_queued_run_whose_start_was_lost_is_restarted_too() -> None:
    factory.pin_today(date(2026, 3, 1))
    await factory.account(billing_day_of_month=1)
    run = await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))
    redis = Redis()
    clock.pin(run.created_at + timedelta(seconds=STALL - 1))
    assert await jobs.sweep(ctx(redis)) == 0
    clock.pin(run.created_at + timedelta(seconds=STALL))
    assert await jobs.sweep(ctx(redis)) == 1
    assert [(f, args[0]) for f, args in redis.jobs] == [("start_invoice_run", run.id)]


async def test_a_finished_run_is_never_swept() -> None:
    run = await stalled_run()
    await runs.run_inline(run.id)
    assert await sweep_at(Redis(), 100 * STALL) == 0
    assert (await InvoiceRun.get(id=run.id)).status is InvoiceRunStatus.COMPLETED


def test_every_retried_job_has_a_bounded_number_of_tries() -> None:
    tries = {f.name: f.max_tries for f in settings.functions()}
    assert tries["start_invoice_run"] == jobs.START_TRIES
    assert tries["bill_run_chunk"] == jobs.CHUNK_TRIES
    for name in ("apply_hold_rules", "release_due_holds", "renew_and_expire"):
        assert tries[name] == jobs.RULE_TRIES
    crons = {c.name: c.max_tries for c in settings.cron_jobs(config.Settings())}
    for name in ("apply_hold_rules", "release_due_holds", "renew_and_expire"):
        assert crons[f"cron:{name}"] == jobs.RULE_TRIES
    assert all(0 < t <= 10 for t in [*tries.values(), *crons.values()])


def test_the_sweepers_settings_are_read_and_checked() -> None:
    import pytest

    loaded = config.load({"ORBIT_SWEEP_STALL_SECONDS": "5", "ORBIT_SWEEP_MAX_RESTARTS": "0"})
    assert (loaded.sweep_stall_seconds, loaded.sweep_max_restarts) == (5, 0)
    assert (config.load({}).sweep_stall_seconds, config.load({}).sweep_max_restarts) == (60, 5)
    with pytest.raises(config.ConfigError, match="ORBIT_SWEEP_MAX_RESTARTS"):
        config.load({"ORBIT_SWEEP_MAX_RESTARTS": "-1"})
    with pytest.raises(config.ConfigError, match="ORBIT_SWEEP_STALL_SECONDS"):
        config.load({"ORBIT_SWEEP_STALL_SECONDS": "0"})

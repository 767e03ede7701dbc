"""The optional daily invoice run: scheduled at the configured local time, it starts a
run for every account with today as its target date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from orbit import clock, config
from orbit.db.models import InvoiceRun, InvoiceRunStatus
from tests.services import factory
from workers import jobs
from workers.settings import cron_jobs

pytestmark = pytest.mark.usefixtures("clean")


def test_the_run_is_scheduled_at_the_local_time_in_utc() -> None:
    clock.pin(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
    paris = config.Settings(scheduled_run_time=time(2, 30), scheduled_run_timezone="Europe/Paris")
    assert jobs.scheduled_minute(paris) == (0, 30)  # 02:30 in Paris is 00:30 UTC in July
    names = [job.name for job in cron_jobs(paris)]
    assert "cron:scheduled_invoice_run" in names
    assert "cron:scheduled_invoice_run" not in [job.name for job in cron_jobs(config.Settings())]


async def test_the_scheduled_job_starts_a_run_for_today() -> None:
    clock.pin(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    seats = await factory.product("30.00")
    for name in ("A", "B"):
        account = await factory.account(name=name, billing_day_of_month=1)
        await factory.contract(account, seats, date(2026, 1, 1))
    enqueued: list[tuple[str, tuple[object, ...]]] = []

    class Queue:
        async def enqueue_job(self, name: str, *args: object, **_: object) -> None:
            enqueued.append((name, args))

    settings = config.Settings(scheduled_run_time=time(2, 0), scheduled_run_timezone="Asia/Tokyo")
    run_id = await jobs.scheduled_invoice_run({"settings": settings, "redis": Queue()})
    run = await InvoiceRun.get(id=run_id)
    assert (run.target_date, run.accounts_total, run.status) == (
        date(2026, 3, 1),
        2,
        InvoiceRunStatus.QUEUED,
    )
    assert enqueued == [("start_invoice_run", (run_id,))]
    assert await jobs.scheduled_invoice_run({"settings": config.Settings()}) is None

"""Invoice runs under crashes, retries, duplicates, a Redis restart and a failing
account: real worker processes, real PostgreSQL, real Redis. The billed lines are
compared with the invoice previews taken before each run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from orbit.db.models import Account, InvoiceRunAccount, RunAccountStatus
from orbit.db.models.billing import InvoiceRunStatus
from orbit.queue import JobQueue
from orbit.services import runs
from tests.faults.harness import (
    COMPLETED,
    PrivateRedis,
    Workers,
    assert_counters_true,
    build_book,
    expected_lines,
    outcome,
    poison_with_overflow,
    wait_for,
    wait_until_processed,
)
from tests.services.factory import SYSTEM

ACCOUNTS = 200

pytestmark = pytest.mark.usefixtures("clean")


async def queue_on(url: str) -> JobQueue:
    from arq.connections import create_pool

    from workers.settings import redis_settings

    return JobQueue(await create_pool(redis_settings(url)))


async def start(url: str, target: object) -> int:
    run = await runs.start_run(SYSTEM, runs.RunRequest(target_date=target))  # type: ignore[arg-type]
    queue = await queue_on(url)
    await queue.enqueue_run(run.id)
    await queue.pool.aclose()
    return run.id


@pytest.mark.parametrize("kill_at", [0.15, 0.6], ids=["early", "late"])
async def test_a_worker_killed_mid_run_loses_and_doubles_nothing(
    shared_redis: str, workers_for: Callable[[str], Workers], kill_at: float
) -> None:
    book = await build_book(ACCOUNTS)
    expected = await expected_lines(book)
    workers = workers_for(shared_redis)
    victim = workers.start()
    workers.start()
    run_id = await start(shared_redis, book.target)
    await wait_until_processed(run_id, int(ACCOUNTS * kill_at))
    workers.kill(victim)
    workers.start()
    run = await wait_for(run_id)
    result = await outcome([run_id])
    assert run.status is COMPLETED, workers.output()
    assert result.doubled == 0
    assert expected - result.billed == set()
    assert result.billed - expected == set()
    assert_counters_true(run, result, ACCOUNTS)


async def test_two_runs_for_the_same_date_at_once_bill_each_line_once(
    shared_redis: str, workers_for: Callable[[str], Workers]
) -> None:
    book = await build_book(ACCOUNTS)
    expected = await expected_lines(book)
    workers = workers_for(shared_redis)
    workers.start()
    workers.start()
    first, second = await asyncio.gather(
        start(shared_redis, book.target), start(shared_redis, book.target)
    )
    runs_done = [await wait_for(first), await wait_for(second)]
    result = await outcome([first, second])
    assert [r.status for r in runs_done] == [COMPLETED, COMPLETED]
    assert result.doubled == 0
    assert result.billed == expected
    assert sum(r.invoices_created for r in runs_done) == ACCOUNTS
    assert sum(r.lines_created for r in runs_done) == len(expected)


async def test_the_same_job_delivered_twice_adds_nothing(
    shared_redis: str, workers_for: Callable[[str], Workers]
) -> None:
    book = await build_book(60)
    expected = await expected_lines(book)
    run = await runs.start_run(SYSTEM, runs.RunRequest(target_date=book.target))
    await runs.begin(run.id)
    queue = await queue_on(shared_redis)
    for delivery in ("a", "b"):
        for chunk in await runs.pending_chunks(run.id) or [0, 1]:
            await queue.enqueue("bill_run_chunk", run.id, chunk, job_id=f"dup-{delivery}-{chunk}")
    workers = workers_for(shared_redis)
    workers.start()
    workers.start()
    finished = await wait_for(run.id)
    # and once more, after the run is complete
    for chunk in (0, 1):
        await queue.enqueue("bill_run_chunk", run.id, chunk, job_id=f"dup-late-{chunk}")
    await asyncio.sleep(2)
    await queue.pool.aclose()
    result = await outcome([run.id])
    assert finished.status is COMPLETED
    assert result.doubled == 0
    assert result.billed == expected
    assert_counters_true(await wait_for(run.id), result, 60)


async def test_a_redis_restart_mid_run_is_survived(
    private_redis: PrivateRedis, workers_for: Callable[[str], Workers]
) -> None:
    book = await build_book(ACCOUNTS)
    expected = await expected_lines(book)
    workers = workers_for(private_redis.url)
    workers.start()
    workers.start()
    run_id = await start(private_redis.url, book.target)
    await wait_until_processed(run_id, ACCOUNTS // 4)
    private_redis.stop()  # everything queued is lost: Redis keeps nothing on disk
    await asyncio.sleep(2)
    private_redis.start()
    client = Redis.from_url(private_redis.url)
    assert await client.dbsize() == 0
    await client.aclose()
    run = await wait_for(run_id, timeout=180)
    result = await outcome([run_id])
    assert run.status is COMPLETED, workers.output()
    assert result.doubled == 0
    assert result.billed == expected
    assert_counters_true(run, result, ACCOUNTS)


async def test_a_failing_account_is_recorded_and_the_others_are_billed(
    shared_redis: str, workers_for: Callable[[str], Workers]
) -> None:
    book = await build_book(80)
    broken = book.accounts[17]
    expected = await expected_lines(book)
    # a time zone that no longer exists: billing this account raises
    await Account.filter(id=broken).update(timezone="Mars/Olympus_Mons")
    workers = workers_for(shared_redis)
    workers.start()
    run_id = await start(shared_redis, book.target)
    run = await wait_for(run_id)
    result = await outcome([run_id])
    failed = await InvoiceRunAccount.filter(run_id=run_id, status=RunAccountStatus.FAILED)
    assert run.status is InvoiceRunStatus.COMPLETED_WITH_ERRORS, run.error
    assert [f.account_id for f in failed] == [broken]
    assert "Mars/Olympus_Mons" in (failed[0].error or "")
    broken_lines = {line for line in expected if line in await _lines_of(broken)}
    assert result.billed == expected - broken_lines
    assert run.accounts_processed == 80
    assert run.invoices_created == 79 == result.documents


async def _lines_of(account_id: int) -> set[int]:
    from orbit.db.models import ScheduleLine

    return set(await ScheduleLine.filter(account_id=account_id).values_list("id", flat=True))


async def test_an_account_whose_invoice_overflows_fails_alone_and_the_run_finishes(
    shared_redis: str, workers_for: Callable[[str], Workers]
) -> None:
    """The reported bug: the overflow was taken for a transient fault, the chunk was
    retried for ever and the run never finished. (SQLite keeps decimals as text and
    cannot overflow: there the database refuses the account's invoice by a trigger.)"""
    from orbit.db.connection import dialect
    from tests.services.poison import Poison

    book = await build_book(80)
    broken = book.accounts[30]
    expected = await expected_lines(book)
    broken_lines = await _lines_of(broken)
    poison = Poison()
    if dialect() == "postgres":
        await poison_with_overflow(broken, book.target)
        message = "SQLSTATE 22003"
    else:
        message = await poison.refuse("invoices", f"{{new}}account_id = {broken}")
    workers = workers_for(shared_redis)
    workers.start()
    workers.start()
    try:
        started = time.monotonic()
        run_id = await start(shared_redis, book.target)
        run = await wait_for(run_id, timeout=60)
        assert time.monotonic() - started < 30, workers.output()
    finally:
        await poison.cleanup()
    result = await outcome([run_id])
    assert run.status is InvoiceRunStatus.COMPLETED_WITH_ERRORS, workers.output()
    (failed,) = await InvoiceRunAccount.filter(run_id=run_id, status=RunAccountStatus.FAILED)
    assert failed.account_id == broken
    assert message in (failed.error or "")
    assert result.doubled == 0
    assert result.billed == expected - broken_lines
    assert (run.accounts_processed, run.invoices_created) == (80, 79)
    assert run.lines_created == result.lines

"""Measure an invoice run with one poisoned account, carried out by real worker
processes on PostgreSQL and Redis: accounts billed, the run's status, the time.

    ORBIT_TEST_REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python -m tests.faults.poisoned_run \\
        --accounts 200 --timeout 180

The poisoned account's lines due by the target date are set so that each fits its
column but their sum overflows the invoice's NUMERIC(20,3) total (SQLSTATE 22003).
A new database is created and dropped; the Redis database given is emptied.
Self-contained (it only uses the test harness's book and workers), so the same
file measures an older checkout too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from decimal import Decimal

from redis.asyncio import Redis


async def measure(accounts: int, timeout: float, workers: int, poisoned: bool) -> None:
    from arq.connections import create_pool

    from orbit.db.connection import close_db, open_db
    from orbit.db.migrations import migrate
    from orbit.db.models import Invoice, InvoiceRun, InvoiceRunAccount, ScheduleLine
    from orbit.queue import JobQueue
    from orbit.services import runs
    from orbit.services.access import Actor
    from tests.faults.harness import Workers, build_book
    from tests.support import TestDatabase
    from workers.settings import redis_settings

    redis_url = os.environ.get("ORBIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    database = TestDatabase("postgres")
    url = await database.create()
    await open_db(url)
    await migrate()
    processes = Workers(url, redis_url)
    try:
        book = await build_book(accounts)
        victim = book.accounts[accounts // 2]
        if poisoned:
            await ScheduleLine.filter(account_id=victim, period_start__lte=book.target).update(
                amount=Decimal("60000000000000000.000")
            )
        client = Redis.from_url(redis_url)
        await client.flushdb()
        await client.aclose()
        for _ in range(workers):
            processes.start()
        await asyncio.sleep(2)  # let the workers start
        started = time.monotonic()
        run = await runs.start_run(Actor.system(), runs.RunRequest(target_date=book.target))
        queue = JobQueue(await create_pool(redis_settings(redis_url)))
        await queue.enqueue_run(run.id)
        await queue.pool.aclose()
        while time.monotonic() - started < timeout:
            run = await InvoiceRun.get(id=run.id)
            if run.status in runs.FINISHED:
                break
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
        run = await InvoiceRun.get(id=run.id)
        billed = await Invoice.filter(invoice_run_id=run.id).count()
        failed = await InvoiceRunAccount.filter(run_id=run.id, status="FAILED").values_list(
            "account_id", "error"
        )
        print(f"accounts: {accounts} (poisoned: {victim if poisoned else 'none'})")
        print(f"status: {run.status.value} after {elapsed:.1f}s (limit {timeout:.0f}s)")
        print(f"accounts processed: {run.accounts_processed}/{run.accounts_total}")
        print(f"accounts billed (documents): {billed}")
        print(f"lines billed: {run.lines_created}")
        for account_id, error in failed:
            print(f"FAILED account {account_id}: {error}")
        if run.error:
            print(f"run error: {run.error}")
    finally:
        processes.stop_all()
        processes.cleanup()
        await close_db()
        await database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-poison", action="store_true")
    options = parser.parse_args()
    asyncio.run(measure(options.accounts, options.timeout, options.workers, not options.no_poison))


if __name__ == "__main__":
    main()

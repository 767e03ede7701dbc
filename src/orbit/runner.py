"""Starting an invoice run from the command line and following it."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Sequence
from datetime import date
from typing import TextIO

from orbit.config import Settings
from orbit.db.models import InvoiceRun
from orbit.services import runs
from orbit.services.access import Actor
from orbit.services.runs import FINISHED

BAR = 30


def progress_line(run: InvoiceRun) -> str:
    total = max(run.accounts_total, 1)
    done = int(BAR * run.accounts_processed / total)
    return (
        f"[{'#' * done}{'.' * (BAR - done)}] {run.accounts_processed}/{run.accounts_total} "
        f"accounts, {run.invoices_created} documents, {run.lines_created} lines "
        f"({run.status.value})"
    )


async def follow(run_id: int, interval: float = 0.5, out: TextIO | None = None) -> InvoiceRun:
    stream = out or sys.stderr
    while True:
        run = await InvoiceRun.get(id=run_id)
        print("\r" + progress_line(run), end="", file=stream, flush=True)
        if run.status in FINISHED:
            print(file=stream)
            return run
        await asyncio.sleep(interval)


async def start_and_follow(
    settings: Settings,
    target: date,
    invoice_date: date | None,
    accounts: Sequence[int] | None,
    auto_post: bool,
    wait: bool,
) -> int:
    from orbit.queue import JobQueue, embedded_worker, memory_pool, open_queue
    from orbit.services.errors import DomainError

    try:
        run = await runs.start_run(
            Actor.system(), runs.RunRequest(target, invoice_date, accounts, auto_post)
        )
    except DomainError as error:
        print(f"orbit: {error}", file=sys.stderr)
        return 1
    print(f"invoice run {run.id} started for {run.accounts_total} accounts (target {target})")
    if settings.redis_url is not None:
        queue = await open_queue(settings)
        await queue.enqueue_run(run.id)
        await queue.close()
        if not wait:
            return 0
        finished = await follow(run.id)
    else:
        # no Redis: this process carries the run out with the same job functions
        pool = memory_pool()
        queue = JobQueue(pool, embedded_worker(pool, settings, burst=True))
        await queue.enqueue_run(run.id)
        worker = queue.worker
        assert worker is not None
        task = asyncio.create_task(worker.async_run())
        finished = await follow(run.id, out=sys.stderr if wait else io.StringIO())
        await task
        await pool.aclose()
    print(f"invoice run {finished.id}: {finished.status.value}")
    return 0 if finished.status.value == "COMPLETED" else 1

"""Invoice runs: recorded, split into chunks of accounts, each account billed once.

The unit of work is one account's share of a run (``InvoiceRunAccount``): it
is marked DONE in the same transaction that writes the account's document
and bumps the run's counters, so a retried or duplicated job finds it done
and adds nothing. A run whose jobs were lost is finished by the sweeper.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.connection import dialect
from orbit.db.models import (
    Account,
    InvoiceRun,
    InvoiceRunAccount,
    InvoiceRunStatus,
    RunAccountStatus,
)
from orbit.services import bulk, faults
from orbit.services.access import Actor, Permission
from orbit.services.audit import record
from orbit.services.billing import BillResult, bill_account
from orbit.services.errors import Code, DomainError, NotFound

log = logging.getLogger("orbit.runs")


def chunk_size() -> int:
    """Accounts per chunk of a run (ORBIT_RUN_CHUNK_SIZE, default 200): the unit of work a
    worker takes, and on PostgreSQL the accounts billed in one transaction."""
    import os

    return max(1, int(os.environ.get("ORBIT_RUN_CHUNK_SIZE", "200")))


MAX_ERROR = 2000


@dataclass(frozen=True)
class RunRequest:
    target_date: date
    invoice_date: date | None = None
    account_ids: Sequence[int] | None = None
    auto_post: bool = False


async def start_run(actor: Actor, request: RunRequest) -> InvoiceRun:
    """Record a QUEUED run and its accounts; the caller enqueues it."""
    actor.require(Permission.INVOICE_RUNS)
    invoice_date = request.invoice_date or request.target_date
    async with in_transaction():
        if request.account_ids is not None:
            ids = sorted(set(request.account_ids))
            found = {int(a) for a in await Account.filter(id__in=ids).values_list("id", flat=True)}
            for index, account_id in enumerate(request.account_ids):
                if account_id not in found:
                    raise NotFound("account", ("accountIds", str(index)))
            if not ids:
                raise DomainError(Code.INVALID, "accountIds is empty", ("accountIds",))
        else:
            ids = [int(a) for a in await Account.all().order_by("id").values_list("id", flat=True)]
        run = await InvoiceRun.create(
            status=InvoiceRunStatus.QUEUED,
            target_date=request.target_date,
            invoice_date=invoice_date,
            auto_post=request.auto_post,
            account_scope=json.dumps(ids) if request.account_ids is not None else None,
            accounts_total=len(ids),
        )
        size = chunk_size()
        await InvoiceRunAccount.bulk_create(
            [
                InvoiceRunAccount(run_id=run.id, account_id=account_id, chunk=i // size)
                for i, account_id in enumerate(ids)
            ],
            batch_size=5000,
        )
        await record(
            actor,
            "invoice_run.start",
            run,
            {"targetDate": request.target_date, "accounts": len(ids)},
        )
    return run


async def get_run(run_id: int) -> InvoiceRun:
    run = await InvoiceRun.get_or_none(id=run_id)
    if run is None:
        raise NotFound("invoice run", ("invoiceRunId",))
    return run


async def begin(run_id: int) -> list[int]:
    """Mark the run RUNNING; return the chunks that still have pending accounts."""
    async with in_transaction():
        run = await InvoiceRun.filter(id=run_id).select_for_update().first()
        if run is None:
            return []
        if run.status is InvoiceRunStatus.QUEUED:
            run.status = InvoiceRunStatus.RUNNING
            run.started_at = clock.now()
            await run.save(update_fields=["status", "started_at"])
    return await pending_chunks(run_id)


async def pending_chunks(run_id: int) -> list[int]:
    chunks = (
        await InvoiceRunAccount.filter(run_id=run_id, status=RunAccountStatus.PENDING)
        .distinct()
        .values_list("chunk", flat=True)
    )
    return sorted(int(c) for c in chunks)


@dataclass(frozen=True)
class ChunkResult:
    accounts: int = 0
    documents: int = 0
    lines: int = 0


async def bill_chunk(run_id: int, chunk: int, last_try: bool = False) -> ChunkResult:
    """Bill every pending account of one chunk; returns what was billed now.

    On PostgreSQL the chunk is first billed in one set-based transaction. If that
    fails with a fault of the chunk's data, its accounts are billed one by one,
    so a bad account is marked FAILED and the others are billed. A connection or
    concurrency fault is retried here a few times (``faults.attempt``); if it does
    not clear, ``TransientError`` asks the job to retry later, except on the job's
    ``last_try``: then every account gets its own attempts and the ones whose
    fault never cleared are marked FAILED, so no account stays pending for ever.
    """
    run = await InvoiceRun.get_or_none(id=run_id)
    if run is None or run.status in FINISHED:
        return ChunkResult()
    accounts = [
        int(a)
        for a in await InvoiceRunAccount.filter(
            run_id=run_id, chunk=chunk, status=RunAccountStatus.PENDING
        )
        .order_by("account_id")
        .values_list("account_id", flat=True)
    ]
    if not accounts:
        return ChunkResult()
    if dialect() == "postgres":
        try:
            billed = await faults.attempt(
                lambda: bulk.bill_accounts(run, accounts),
                what=f"invoice run {run_id} chunk {chunk}",
            )
            return ChunkResult(billed.accounts, billed.documents, billed.lines)
        except Exception as error:
            transient = faults.is_transient(error)
            if transient and not last_try:
                raise faults.TransientError(faults.describe(error)) from error
            log.warning(
                "invoice run %s chunk %s: billing account by account (%s)",
                run_id,
                chunk,
                faults.describe(error),
            )
    done = documents = lines = 0
    for account_id in accounts:
        result = await bill_one(run, account_id, last_try)
        if result is not None and result.fresh:
            done += 1
            documents += 1 if result.invoice else 0
            lines += result.lines
    return ChunkResult(done, documents, lines)


async def bill_one(run: InvoiceRun, account_id: int, last_try: bool = False) -> BillResult | None:
    """Bill one account of a run in its own transaction. A fault of the account is
    recorded on its share (FAILED, with the message) and the run goes on; a
    connection or concurrency fault is retried a few times, then raised as
    ``TransientError`` (or, on the job's last try, recorded like any other)."""

    async def work() -> BillResult:
        async with in_transaction():
            return await bill_account(
                account_id, run.target_date, run.invoice_date, run=run, auto_post=run.auto_post
            )

    return await faults.isolated(
        work,
        lambda message: fail_account(run.id, account_id, message),
        what=f"invoice run {run.id} account {account_id}",
        retry_transient=not last_try,
    )


#: kept for callers of the former names
TransientError = faults.TransientError
is_transient = faults.is_transient


async def fail_account(run_id: int, account_id: int, error: BaseException | str) -> None:
    """Mark a pending share of the run FAILED with why, and count it processed."""
    message = (error if isinstance(error, str) else faults.describe(error))[:MAX_ERROR]
    async with in_transaction():
        updated = await InvoiceRunAccount.filter(
            run_id=run_id, account_id=account_id, status=RunAccountStatus.PENDING
        ).update(status=RunAccountStatus.FAILED, error=message, processed_at=clock.now())
        if updated:
            await InvoiceRun.filter(id=run_id).update(
                accounts_processed=F("accounts_processed") + 1
            )


FINISHED = (
    InvoiceRunStatus.COMPLETED,
    InvoiceRunStatus.COMPLETED_WITH_ERRORS,
    InvoiceRunStatus.FAILED,
)


async def finish_if_done(run_id: int) -> InvoiceRun | None:
    """Close the run when no account is pending. Returns the run when this call
    closed it, None otherwise."""
    async with in_transaction():
        run = await InvoiceRun.filter(id=run_id).select_for_update().first()
        if run is None or run.status in FINISHED:
            return None
        if await InvoiceRunAccount.filter(run_id=run_id, status=RunAccountStatus.PENDING).exists():
            return None
        failed = await InvoiceRunAccount.filter(
            run_id=run_id, status=RunAccountStatus.FAILED
        ).exists()
        run.status = (
            InvoiceRunStatus.COMPLETED_WITH_ERRORS if failed else InvoiceRunStatus.COMPLETED
        )
        run.finished_at = clock.now()
        if run.started_at is None:
            run.started_at = run.finished_at
        await run.save(update_fields=["status", "finished_at", "started_at"])
    log.info("invoice run %s finished: %s", run_id, run.status.value)
    return run


async def fail_run(run_id: int, message: str) -> None:
    """The run itself could not proceed."""
    await (
        InvoiceRun.filter(id=run_id)
        .exclude(status__in=FINISHED)
        .update(status=InvoiceRunStatus.FAILED, error=message[:MAX_ERROR], finished_at=clock.now())
    )


async def run_inline(run_id: int) -> InvoiceRun:
    """Carry out a whole run in this process (CLI, tests, embedded fallback)."""
    for chunk in await begin(run_id):
        await bill_chunk(run_id, chunk)
    await finish_if_done(run_id)
    return await get_run(run_id)


async def last_progress(run: InvoiceRun) -> datetime:
    """When the run last moved: its latest processed account, else its start."""
    last = (
        await InvoiceRunAccount.filter(run_id=run.id, processed_at__not_isnull=True)
        .order_by("-processed_at")
        .first()
    )
    if last is not None and last.processed_at is not None:
        return last.processed_at
    return run.started_at or run.created_at


@dataclass(frozen=True)
class Swept:
    """What one pass of the sweeper did: runs to enqueue again, runs it gave up on."""

    restarted: list[int]
    failed: list[int]


async def sweep_stalled(stall_after: timedelta, max_restarts: int) -> Swept:
    """Restart the QUEUED or RUNNING runs that made no progress for ``stall_after``
    (since their last progress and since their last restart), at most
    ``max_restarts`` times in a row without progress; a run still stalled after
    that is FAILED with why. Progress after a restart starts the count again.
    Returns the runs the caller must enqueue again, and the runs failed now."""
    now = clock.now()
    restarted: list[int] = []
    failed: list[int] = []
    ids = (
        await InvoiceRun.filter(status__in=[InvoiceRunStatus.QUEUED, InvoiceRunStatus.RUNNING])
        .order_by("id")
        .values_list("id", flat=True)
    )
    for run_id in ids:
        async with in_transaction():
            run = await InvoiceRun.filter(id=run_id).select_for_update().first()
            if run is None or run.status in FINISHED:
                continue
            progress = await last_progress(run)
            restarted_at = run.restarted_at
            quiet_since = max(progress, restarted_at) if restarted_at is not None else progress
            if now - quiet_since < stall_after:
                continue
            # restarts in a row without progress
            in_a_row = run.restarts if restarted_at is not None and progress <= restarted_at else 0
            if in_a_row >= max_restarts:
                await _give_up(run, now, stall_after, in_a_row)
                failed.append(run.id)
                continue
            run.restarts = in_a_row + 1
            run.restarted_at = now
            await run.save(update_fields=["restarts", "restarted_at"])
            restarted.append(run.id)
    return Swept(restarted, failed)


async def _give_up(run: InvoiceRun, now: datetime, stall_after: timedelta, restarts: int) -> None:
    pending = await InvoiceRunAccount.filter(run_id=run.id, status=RunAccountStatus.PENDING).count()
    seconds = int(stall_after.total_seconds())
    run.status = InvoiceRunStatus.FAILED
    run.error = (
        f"stalled: no progress for {seconds}s after {restarts} restarts by the sweeper; "
        f"{pending} of {run.accounts_total} accounts were not billed (see the workers' log "
        f"for invoice run {run.id})"
    )[:MAX_ERROR]
    run.finished_at = now
    if run.started_at is None:
        run.started_at = now
    await run.save(update_fields=["status", "error", "finished_at", "started_at"])
    await record(
        Actor.system(), "invoice_run.fail", run, {"error": run.error, "restarts": restarts}
    )
    log.error("invoice run %s failed: %s", run.id, run.error)

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
from orbit.services import bulk
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


class TransientError(Exception):
    """A fault worth retrying later (lost connection, deadlock)."""


@dataclass(frozen=True)
class ChunkResult:
    accounts: int = 0
    documents: int = 0
    lines: int = 0


async def bill_chunk(run_id: int, chunk: int) -> ChunkResult:
    """Bill every pending account of one chunk; returns what was billed now.

    On PostgreSQL the chunk is billed in one set-based transaction; if that fails
    for any reason but a transient fault, its accounts are billed one by one, so a
    bad account is recorded and the others are billed.
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
            billed = await bulk.bill_accounts(run, accounts)
            return ChunkResult(billed.accounts, billed.documents, billed.lines)
        except Exception as error:
            if is_transient(error):
                raise TransientError(str(error)) from error
            log.warning(
                "invoice run %s chunk %s: billing account by account (%s: %s)",
                run_id,
                chunk,
                type(error).__name__,
                error,
            )
    done = documents = lines = 0
    for account_id in accounts:
        result = await bill_one(run, account_id)
        if result is not None and result.fresh:
            done += 1
            documents += 1 if result.invoice else 0
            lines += result.lines
    return ChunkResult(done, documents, lines)


async def bill_one(run: InvoiceRun, account_id: int) -> BillResult | None:
    """Bill one account of a run; a failure is recorded on the run and the run goes on."""
    try:
        async with in_transaction():
            return await bill_account(
                account_id, run.target_date, run.invoice_date, run=run, auto_post=run.auto_post
            )
    except Exception as error:  # an account's failure must not stop the run
        if is_transient(error):
            raise TransientError(str(error)) from error
        log.warning(
            "invoice run %s: account %s failed: %s", run.id, account_id, error, exc_info=True
        )
        await fail_account(run.id, account_id, error)
        return None


def is_transient(error: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(error)}
    transient = {
        "ConnectionError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "ConnectionDoesNotExistError",
        "InterfaceError",
        "DeadlockDetectedError",
        "SerializationError",
        "CannotConnectNowError",
        "TooManyConnectionsError",
        "OperationalError",
    }
    return bool(names & transient)


def _chain(error: BaseException) -> list[BaseException]:
    seen = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


async def fail_account(run_id: int, account_id: int, error: BaseException) -> None:
    message = f"{type(error).__name__}: {error}"[:MAX_ERROR]
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


async def stalled_runs(older_than: timedelta) -> list[int]:
    """Runs QUEUED or RUNNING whose last progress is older than ``older_than``."""
    limit: datetime = clock.now() - older_than
    runs = await InvoiceRun.filter(
        status__in=[InvoiceRunStatus.QUEUED, InvoiceRunStatus.RUNNING]
    ).order_by("id")
    stalled = []
    for run in runs:
        last = (
            await InvoiceRunAccount.filter(run_id=run.id, processed_at__not_isnull=True)
            .order_by("-processed_at")
            .first()
        )
        moment = (
            last.processed_at if last and last.processed_at else (run.started_at or run.created_at)
        )
        if moment is not None and moment <= limit:
            stalled.append(run.id)
    return stalled

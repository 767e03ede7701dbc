"""An invoice run with a poisoned account: the database refuses that account's
document (a real database error, not a patched exception). The run goes on with
every other account, names the poisoned one, and ends COMPLETED_WITH_ERRORS with
true counters. A connection or concurrency fault is retried and clears; one that
never clears is given up after a bounded number of tries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from arq import Retry

from orbit.db.connection import dialect
from orbit.db.models import (
    Account,
    Invoice,
    InvoiceRun,
    InvoiceRunAccount,
    InvoiceRunStatus,
    RunAccountStatus,
    ScheduleLine,
)
from orbit.services import faults, runs
from orbit.services.runs import RunRequest, run_inline, start_run
from tests.services import factory
from tests.services.factory import SYSTEM
from tests.services.poison import Poison, locked
from tests.services.test_runs import counters, shares_agree_with_counters
from workers import jobs

ACCOUNTS = 12
TARGET = date(2026, 3, 1)


@pytest.fixture
async def poison() -> AsyncIterator[Poison]:
    made = Poison()
    yield made
    await made.cleanup()


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 5 accounts (the poisoned one sits in the middle chunk); no pauses
    between attempts."""
    monkeypatch.setenv("ORBIT_RUN_CHUNK_SIZE", "5")
    monkeypatch.setattr(faults, "FIRST_PAUSE", 0.0)


async def book() -> list[Account]:
    """ACCOUNTS accounts, account i billing 30.00 x (1 + i % 3) on 03-01."""
    factory.pin_today(TARGET)
    seats = await factory.product("30.00")
    accounts = []
    for i in range(ACCOUNTS):
        account = await factory.account(billing_day_of_month=1, name=f"Account {i:02d}")
        await factory.contract(account, seats, TARGET, quantity=1 + i % 3)
        accounts.append(account)
    return accounts


def expected_total(index: int) -> Decimal:
    return Decimal("30.00") * (1 + index % 3)


async def assert_billed_all_but(run: InvoiceRun, accounts: list[Account], poisoned: int) -> None:
    """Every account but ``poisoned`` has its one document of the run, for its full
    amount; the poisoned one has none, and its lines are still unbilled."""
    documents = {i.account_id: i for i in await Invoice.filter(invoice_run_id=run.id)}
    for index, account in enumerate(accounts):
        if account.id == poisoned:
            assert account.id not in documents
            continue
        assert documents[account.id].total == expected_total(index), account.name
    assert len(documents) == ACCOUNTS - 1
    assert await Invoice.filter(account_id=poisoned).count() == 0
    lines = await ScheduleLine.filter(account_id=poisoned).values_list("id", flat=True)
    assert lines and not await _billed(list(lines))


async def _billed(line_ids: list[int]) -> bool:
    from orbit.db.models import InvoiceLine

    return await InvoiceLine.filter(schedule_line_id__in=line_ids, bills=True).exists()


async def failed_share(run_id: int) -> InvoiceRunAccount:
    (share,) = await InvoiceRunAccount.filter(run_id=run_id, status=RunAccountStatus.FAILED)
    return share


async def test_a_poisoned_account_fails_alone_and_the_run_completes_with_errors(
    poison: Poison,
) -> None:
    accounts = await book()
    bad = accounts[7]
    name = await poison.refuse("invoices", f"{{new}}account_id = {bad.id}")

    run = await run_inline((await start_run(SYSTEM, RunRequest(TARGET))).id)

    assert run.status is InvoiceRunStatus.COMPLETED_WITH_ERRORS
    assert counters(run) == (ACCOUNTS, ACCOUNTS, ACCOUNTS - 1, ACCOUNTS - 1)
    share = await failed_share(run.id)
    assert share.account_id == bad.id
    assert share.error is not None and name in share.error
    if dialect() == "postgres":
        assert "SQLSTATE 23514" in share.error
    await assert_billed_all_but(run, accounts, bad.id)
    await shares_agree_with_counters(run.id)

    # once the data is fixed, a new run bills it and nothing else
    await poison.cleanup()
    again = await run_inline((await start_run(SYSTEM, RunRequest(TARGET))).id)
    assert (again.status, counters(again)) == (
        InvoiceRunStatus.COMPLETED,
        (ACCOUNTS, ACCOUNTS, 1, 1),
    )
    assert (await Invoice.get(invoice_run_id=again.id)).account_id == bad.id


@pytest.mark.postgres
async def test_an_invoice_that_overflows_its_column_fails_its_account_only() -> None:
    """The reported bug: an invoice total beyond NUMERIC(20,3) was taken for a
    transient fault and the run retried for ever, billing nobody."""
    accounts = await book()
    bad = accounts[3]
    await factory.contract(bad, await factory.product("30.00"), TARGET)
    # two lines that each fit their column but whose sum does not
    await ScheduleLine.filter(account_id=bad.id, period_start=TARGET).update(
        amount=Decimal("60000000000000000.000")
    )

    run = await run_inline((await start_run(SYSTEM, RunRequest(TARGET))).id)

    assert run.status is InvoiceRunStatus.COMPLETED_WITH_ERRORS
    assert counters(run) == (ACCOUNTS, ACCOUNTS, ACCOUNTS - 1, ACCOUNTS - 1)
    share = await failed_share(run.id)
    assert share.account_id == bad.id
    assert share.error is not None
    assert "SQLSTATE 22003" in share.error and "overflow" in share.error
    await assert_billed_all_but(run, accounts, bad.id)
    await shares_agree_with_counters(run.id)


async def test_a_transient_fault_is_attempted_again_and_clears(
    poison: Poison, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = await book()
    bad = accounts[6]
    if dialect() == "postgres":
        # a real serialization failure (SQLSTATE 40001), twice, on the chunk's statement
        name = await poison.transient("invoices", f"{{new}}account_id = {bad.id}", times=2)
    else:
        stand_in = _fail_account_with(monkeypatch, bad.id, locked(2))

    run = await run_inline((await start_run(SYSTEM, RunRequest(TARGET))).id)

    assert (run.status, counters(run)) == (
        InvoiceRunStatus.COMPLETED,
        (ACCOUNTS, ACCOUNTS, ACCOUNTS, ACCOUNTS),
    )
    if dialect() == "postgres":
        assert await poison.fired(name) == 2
    else:
        assert stand_in.calls == 3
    await shares_agree_with_counters(run.id)


async def test_a_transient_fault_that_never_clears_is_given_up_after_bounded_tries(
    poison: Poison, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each try of the chunk's job attempts the work ATTEMPTS times, then asks arq to
    retry later; the last try marks the account FAILED and bills the others."""
    accounts = await book()
    bad = accounts[6]  # in chunk 1
    if dialect() == "postgres":
        name = await poison.transient("invoices", f"{{new}}account_id = {bad.id}")
    else:
        stand_in = _fail_account_with(monkeypatch, bad.id, locked(None))
    run = await start_run(SYSTEM, RunRequest(TARGET))
    ctx: dict[str, Any] = {"redis": None}
    assert await runs.begin(run.id) == [0, 1, 2]
    for chunk in (0, 2):
        await jobs.bill_run_chunk({**ctx, "job_try": 1}, run.id, chunk)

    for job_try in range(1, jobs.CHUNK_TRIES):
        with pytest.raises(Retry):
            await jobs.bill_run_chunk({**ctx, "job_try": job_try}, run.id, 1)
        halfway = await shares_agree_with_counters(run.id)
        assert halfway.status is InvoiceRunStatus.RUNNING
    last = await jobs.bill_run_chunk({**ctx, "job_try": jobs.CHUNK_TRIES}, run.id, 1)
    # the chunk's other accounts: all four (PostgreSQL's set-based tries billed none of
    # them), or the three after the poisoned one (one by one, the first was billed on
    # the first try)
    assert last == (4 if dialect() == "postgres" else 3)

    done = await InvoiceRun.get(id=run.id)
    assert done.status is InvoiceRunStatus.COMPLETED_WITH_ERRORS
    assert counters(done) == (ACCOUNTS, ACCOUNTS, ACCOUNTS - 1, ACCOUNTS - 1)
    share = await failed_share(run.id)
    assert share.account_id == bad.id
    assert share.error is not None
    assert share.error.startswith("gave up after repeated connection or concurrency faults")
    await assert_billed_all_but(done, accounts, bad.id)
    await shares_agree_with_counters(run.id)
    attempts = faults.ATTEMPTS
    if dialect() == "postgres":
        assert "SQLSTATE 40001" in share.error
        # every try: the set-based chunk, ATTEMPTS times; the last try also the
        # account alone, ATTEMPTS times
        assert await poison.fired(name) == jobs.CHUNK_TRIES * attempts + attempts
    else:
        assert "database is locked" in share.error
        assert stand_in.calls == jobs.CHUNK_TRIES * attempts


async def test_a_fault_of_the_account_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug or bad data fails at once: attempted once, on the first try of the job."""
    accounts = await book()
    bad = accounts[2]
    calls = 0

    def broken(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no such price")

    _fail_account_with(monkeypatch, bad.id, broken)
    run = await start_run(SYSTEM, RunRequest(TARGET))
    for chunk in await runs.begin(run.id):
        await jobs.bill_run_chunk({"redis": None, "job_try": 1}, run.id, chunk)
    done = await InvoiceRun.get(id=run.id)
    assert done.status is InvoiceRunStatus.COMPLETED_WITH_ERRORS
    assert calls == (2 if dialect() == "postgres" else 1)  # the chunk, then the account
    assert (await failed_share(run.id)).error == "ValueError: no such price"


def _fail_account_with(monkeypatch: pytest.MonkeyPatch, account_id: int, fail: Any) -> Any:
    """Billing ``account_id`` calls ``fail`` first (which raises, or not), account by
    account and in the set-based chunk that holds it."""
    from orbit.services import bulk

    one_by_one, set_based = runs.bill_account, bulk.bill_accounts

    async def bill_account(target_id: int, *args: Any, **kwargs: Any) -> Any:
        if target_id == account_id:
            fail()
        return await one_by_one(target_id, *args, **kwargs)

    async def bill_accounts(run: InvoiceRun, account_ids: Any) -> Any:
        if account_id in account_ids:
            fail()
        return await set_based(run, account_ids)

    monkeypatch.setattr(runs, "bill_account", bill_account)
    monkeypatch.setattr(bulk, "bill_accounts", bill_accounts)
    return fail

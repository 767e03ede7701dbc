"""Invoice runs carried out inline: scope, counters, one document per account,
accounts that fail, retries that add nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from orbit.db.models import (
    Account,
    Invoice,
    InvoiceRun,
    InvoiceRunAccount,
    InvoiceRunStatus,
    InvoiceStatus,
    OrderProduct,
    RunAccountStatus,
)
from orbit.services import bulk, runs
from orbit.services.errors import Code
from orbit.services.runs import RunRequest, TransientError, run_inline, start_run
from tests.services import factory
from tests.services.factory import SYSTEM, d, refused


class ThreeAccounts:
    """Two accounts with a line due 03-01 (30.00 and 2 x 10.00), one with nothing due."""

    async def build(self) -> ThreeAccounts:
        factory.pin_today(date(2026, 3, 1))
        self.seats = await factory.product("30.00")
        self.small = await factory.product("10.00")
        self.a = await factory.account(billing_day_of_month=1, name="A")
        self.b = await factory.account(billing_day_of_month=1, name="B", payment_term_days=14)
        self.c = await factory.account(billing_day_of_month=1, name="C")
        await factory.contract(self.a, self.seats, date(2026, 3, 1))
        await factory.contract(self.b, self.small, date(2026, 3, 1), quantity=2)
        await factory.contract(self.b, self.small, date(2026, 3, 1))
        await factory.contract(self.c, self.seats, date(2026, 4, 1))
        return self


@pytest.fixture
async def three() -> ThreeAccounts:
    return await ThreeAccounts().build()


def counters(run: InvoiceRun) -> tuple[int, int, int, int]:
    return (run.accounts_total, run.accounts_processed, run.invoices_created, run.lines_created)


async def test_a_run_bills_every_account_in_scope_once(three: ThreeAccounts) -> None:
    queued = await start_run(SYSTEM, RunRequest(date(2026, 3, 1), invoice_date=date(2026, 3, 2)))
    assert (queued.status, counters(queued)) == (InvoiceRunStatus.QUEUED, (3, 0, 0, 0))
    assert await InvoiceRunAccount.filter(run_id=queued.id).count() == 3

    run = await run_inline(queued.id)
    assert (run.status, counters(run)) == (InvoiceRunStatus.COMPLETED, (3, 3, 2, 3))
    assert run.started_at is not None and run.finished_at is not None
    documents = {i.account_id: i for i in await Invoice.filter(invoice_run_id=run.id)}
    assert set(documents) == {three.a.id, three.b.id}
    assert documents[three.a.id].total == Decimal("30.00")
    assert documents[three.b.id].total == Decimal("30.00")
    assert (documents[three.b.id].invoice_date, documents[three.b.id].due_date) == (
        d("2026-03-02"),
        d("2026-03-16"),
    )
    assert {i.status for i in documents.values()} == {InvoiceStatus.DRAFT}
    shares = {s.account_id: s for s in await InvoiceRunAccount.filter(run_id=run.id)}
    assert {s.status for s in shares.values()} == {RunAccountStatus.DONE}
    assert (shares[three.b.id].invoice_id, shares[three.b.id].lines) == (
        documents[three.b.id].id,
        2,
    )
    assert (shares[three.c.id].invoice_id, shares[three.c.id].lines) == (None, 0)


async def test_running_a_run_again_adds_nothing(three: ThreeAccounts) -> None:
    run = await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))
    await run_inline(run.id)
    before = await factory.snapshot()
    again = await run_inline(run.id)
    await runs.bill_chunk(run.id, 0)  # a retried job
    assert await factory.snapshot() == before
    assert counters(again) == (3, 3, 2, 3)

    second = await run_inline((await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))).id)
    assert (second.status, counters(second)) == (InvoiceRunStatus.COMPLETED, (3, 3, 0, 0))
    assert await Invoice.all().count() == 2


async def test_a_run_limited_to_some_accounts(three: ThreeAccounts) -> None:
    run = await start_run(
        SYSTEM, RunRequest(date(2026, 3, 1), account_ids=[three.b.id, three.c.id])
    )
    run = await run_inline(run.id)
    assert counters(run) == (2, 2, 1, 2)
    assert await Invoice.filter(account_id=three.a.id).count() == 0


@pytest.mark.parametrize(
    ("account_ids", "code"),
    [([], Code.INVALID), ([999_999], Code.NOT_FOUND)],
    ids=["empty-scope", "unknown-account"],
)
async def test_start_run_refuses_a_bad_scope(
    three: ThreeAccounts, account_ids: list[int], code: Code
) -> None:
    await refused(start_run(SYSTEM, RunRequest(date(2026, 3, 1), account_ids=account_ids)), code)


async def test_auto_post_posts_each_document(three: ThreeAccounts) -> None:
    run = await start_run(SYSTEM, RunRequest(date(2026, 3, 1), auto_post=True))
    await run_inline(run.id)
    documents = await Invoice.filter(invoice_run_id=run.id).order_by("account_id")
    assert [(i.status, i.number) for i in documents] == [
        (InvoiceStatus.POSTED, "INV-000001"),
        (InvoiceStatus.POSTED, "INV-000002"),
    ]


def fail_for(monkeypatch: pytest.MonkeyPatch, account_id: int, error: Exception) -> None:
    """Billing ``account_id`` raises ``error``: account by account (``bill_account``), and
    for the set-based chunk billing PostgreSQL tries first (a chunk holding the account
    fails, and the run falls back to billing its accounts one by one)."""
    one_by_one, set_based = runs.bill_account, bulk.bill_accounts

    async def bill_account(target_id: int, *args: Any, **kwargs: Any) -> Any:
        if target_id == account_id:
            raise error
        return await one_by_one(target_id, *args, **kwargs)

    async def bill_accounts(run: InvoiceRun, account_ids: Sequence[int]) -> Any:
        if account_id in account_ids:
            raise error
        return await set_based(run, account_ids)

    monkeypatch.setattr(runs, "bill_account", bill_account)
    monkeypatch.setattr(bulk, "bill_accounts", bill_accounts)


async def test_an_account_that_fails_is_named_and_the_others_are_billed(
    three: ThreeAccounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_for(monkeypatch, three.a.id, RuntimeError("boom"))
    run = await run_inline((await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))).id)
    assert (run.status, counters(run)) == (InvoiceRunStatus.COMPLETED_WITH_ERRORS, (3, 3, 1, 2))
    share = await InvoiceRunAccount.get(run_id=run.id, account_id=three.a.id)
    assert (share.status, share.error) == (RunAccountStatus.FAILED, "RuntimeError: boom")
    assert [i.account_id for i in await Invoice.filter(invoice_run_id=run.id)] == [three.b.id]
    assert await Invoice.filter(account_id=three.a.id).count() == 0


async def test_an_account_with_broken_data_fails_alone(three: ThreeAccounts) -> None:
    # no monkeypatching: an order product of A names a product that is not there
    await OrderProduct.filter(account_id=three.a.id).update(product_id=987_654)
    run = await run_inline((await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))).id)
    assert (run.status, counters(run)) == (InvoiceRunStatus.COMPLETED_WITH_ERRORS, (3, 3, 1, 2))
    share = await InvoiceRunAccount.get(run_id=run.id, account_id=three.a.id)
    assert share.status is RunAccountStatus.FAILED and share.error
    assert [i.account_id for i in await Invoice.filter(invoice_run_id=run.id)] == [three.b.id]


async def shares_agree_with_counters(run_id: int) -> InvoiceRun:
    """The run's counters are what its accounts' shares say, at any moment."""
    run = await InvoiceRun.get(id=run_id)
    shares = await InvoiceRunAccount.filter(run_id=run_id)
    processed = [s for s in shares if s.status is not RunAccountStatus.PENDING]
    assert counters(run) == (
        len(shares),
        len(processed),
        sum(1 for s in processed if s.invoice_id is not None),
        sum(s.lines for s in processed),
    )
    billed = await Invoice.filter(invoice_run_id=run_id).values_list("account_id", flat=True)
    assert sorted(billed) == sorted(s.account_id for s in processed if s.invoice_id)
    return run


async def test_a_transient_fault_leaves_the_account_for_a_retry(
    three: ThreeAccounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))
    with monkeypatch.context() as patch:
        fail_for(patch, three.b.id, ConnectionResetError())
        with pytest.raises(TransientError):
            await run_inline(run.id)
    halfway = await shares_agree_with_counters(run.id)
    assert halfway.status is InvoiceRunStatus.RUNNING
    share = await InvoiceRunAccount.get(run_id=run.id, account_id=three.b.id)
    assert share.status is RunAccountStatus.PENDING

    done = await run_inline(run.id)
    assert (done.status, counters(done)) == (InvoiceRunStatus.COMPLETED, (3, 3, 2, 3))
    await shares_agree_with_counters(run.id)


async def test_a_run_that_cannot_proceed_fails(three: ThreeAccounts) -> None:
    run = await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))
    await runs.fail_run(run.id, "database gone")
    failed = await InvoiceRun.get(id=run.id)
    assert (failed.status, failed.error) == (InvoiceRunStatus.FAILED, "database gone")
    await runs.bill_chunk(run.id, 0)  # a job still queued
    assert await Invoice.all().count() == 0
    assert await Account.all().count() == 3

"""Concurrent transactions on PostgreSQL: row locks and the database guards keep a
line from being billed twice and document numbers gapless.

Each task opens its own transaction, and so its own pooled connection (tortoise's
asyncpg pool holds up to 5). ``together`` lets no task go on before every one of them
has begun its transaction, so the transactions really overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from tortoise.transactions import in_transaction

from orbit.db.models import (
    Application,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceRunStatus,
    PaymentStatus,
    ScheduleLine,
)
from orbit.services.amendments import cancel_contract, preview_cancellation
from orbit.services.billing import bill_account, invoice_preview
from orbit.services.invoices import post_invoice
from orbit.services.receivables import record_payment
from orbit.services.runs import RunRequest, run_inline, start_run
from tests.services import factory
from tests.services.factory import SYSTEM

pytestmark = pytest.mark.postgres

T = TypeVar("T")


async def together(*bodies: Callable[[], Awaitable[T]]) -> list[T]:
    """Run each body in its own transaction, all begun before any body starts."""
    begun = asyncio.Barrier(len(bodies))

    async def run(body: Callable[[], Awaitable[T]]) -> T:
        async with in_transaction() as conn:
            await conn.execute_query("SELECT 1")  # the transaction holds its connection
            await begun.wait()
            return await body()

    return await asyncio.gather(*(run(body) for body in bodies))


async def _bill(account_id: int, on: date) -> Invoice | None:
    async with in_transaction():
        return (await bill_account(account_id, on, on)).invoice


def billing(account_id: int, on: date) -> Callable[[], Awaitable[Any]]:
    async def body() -> Invoice | None:
        return (await bill_account(account_id, on, on)).invoice

    return body


async def _customers(count: int, price: str = "30.00") -> list[int]:
    factory.pin_today(date(2026, 3, 1))
    seats = await factory.product(price)
    ids = []
    for n in range(count):
        account = await factory.account(billing_day_of_month=1, name=f"Customer {n}")
        await factory.contract(account, seats, date(2026, 3, 1), quantity=n + 1)
        ids.append(account.id)
    return ids


async def test_two_concurrent_bills_of_one_account_make_one_document() -> None:
    (account_id,) = await _customers(1)
    results = await together(*(billing(account_id, date(2026, 4, 1)) for _ in range(2)))
    made = [r for r in results if r is not None]
    assert len(made) == 1 and made[0].total == Decimal("60.00")
    assert await Invoice.all().count() == 1
    billed = await InvoiceLine.filter(bills=True).values_list("schedule_line_id", flat=True)
    assert len(billed) == len(set(billed)) == 2


async def test_concurrent_postings_take_consecutive_numbers_without_gaps() -> None:
    ids = await _customers(5)
    drafts = [await _bill(account_id, date(2026, 3, 1)) for account_id in ids]
    posted = await together(
        *((lambda draft_id=draft.id: post_invoice(SYSTEM, draft_id)) for draft in drafts if draft)
    )
    numbers = sorted(p.number for p in posted if p.number)
    assert numbers == [f"INV-{n:06d}" for n in range(1, 6)]
    assert await Invoice.filter(number__isnull=True).count() == 0


async def test_two_runs_for_the_same_date_at_once_bill_each_account_once() -> None:
    ids = await _customers(4)
    first = await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))
    second = await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))
    done = await asyncio.gather(run_inline(first.id), run_inline(second.id))
    assert {r.status for r in done} == {InvoiceRunStatus.COMPLETED}
    runs = [await InvoiceRun.get(id=r.id) for r in done]
    assert [(r.accounts_processed, r.accounts_total) for r in runs] == [(4, 4), (4, 4)]
    assert sum(r.invoices_created for r in runs) == 4
    assert sum(r.lines_created for r in runs) == 4
    per_account = await Invoice.all().values_list("account_id", flat=True)
    assert sorted(per_account) == sorted(ids)


async def test_concurrent_payments_never_apply_more_than_is_open() -> None:
    (account_id,) = await _customers(1, price="100.00")
    invoice = await _bill(account_id, date(2026, 3, 1))
    assert invoice is not None
    await post_invoice(SYSTEM, invoice.id)
    await together(
        *(
            (
                lambda n=n: record_payment(
                    SYSTEM, account_id, Decimal(60), date(2026, 3, 2), f"wire {n}"
                )
            )
            for n in range(2)
        )
    )
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.open_balance, invoice.payment_status) == (Decimal(0), PaymentStatus.PAID)
    applied = await Application.filter(invoice_id=invoice.id).values_list("amount", flat=True)
    assert sum(applied) == Decimal(100)


async def _prepaid_with_drafts(count: int, payment: str | None) -> tuple[int, list[Invoice]]:
    """An account with ``payment`` recorded before anything was billed and ``count``
    draft invoices of 60.00."""
    factory.pin_today(date(2026, 3, 1))
    account = await factory.account(billing_day_of_month=1)
    if payment is not None:
        await record_payment(SYSTEM, account.id, Decimal(payment), date(2026, 3, 1), "prepaid")
    drafts = []
    for _ in range(count):
        seats = await factory.product("60.00")
        await factory.contract(account, seats, date(2026, 3, 1))
        draft = await _bill(account.id, date(2026, 3, 1))
        assert draft is not None
        drafts.append(draft)
    return account.id, drafts


async def test_concurrent_postings_never_apply_one_credit_twice() -> None:
    account_id, drafts = await _prepaid_with_drafts(2, "100.00")
    await together(*((lambda i=d.id: post_invoice(SYSTEM, i)) for d in drafts))
    applied = await Application.filter(account_id=account_id).values_list("amount", flat=True)
    assert sum(applied) == Decimal(100)
    opens = await Invoice.filter(account_id=account_id).values_list("open_balance", flat=True)
    assert sum(opens) == Decimal(20)


async def overlapping(
    first: Callable[[], Awaitable[Any]], second: Callable[[], Awaitable[Any]]
) -> None:
    """``first`` does its work in a transaction and, before committing, waits until
    ``second`` (its own transaction) is done, or 0.5 s when a lock ``first`` holds keeps
    ``second`` waiting. Without a common lock, ``second`` never sees ``first``'s work."""
    first_done, second_done = asyncio.Event(), asyncio.Event()

    async def run_first() -> None:
        async with in_transaction():
            await first()
            first_done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(second_done.wait(), 0.5)

    async def run_second() -> None:
        await first_done.wait()
        async with in_transaction():
            await second()
        second_done.set()

    await asyncio.gather(run_first(), run_second())


async def test_a_payment_recorded_while_an_invoice_is_posted_is_applied() -> None:
    """Posting locks the account row first, as recording a payment does."""
    account_id, (draft,) = await _prepaid_with_drafts(1, None)
    await overlapping(
        lambda: record_payment(SYSTEM, account_id, Decimal(60), date(2026, 3, 2), "wire"),
        lambda: post_invoice(SYSTEM, draft.id),
    )
    invoice = await Invoice.get(id=draft.id)
    assert (invoice.open_balance, invoice.payment_status) == (Decimal(0), PaymentStatus.PAID)


async def test_a_cancellation_during_a_bill_credits_what_that_bill_billed() -> None:
    """Amendments lock the account row first, as billing does."""
    factory.pin_today(date(2026, 3, 1))
    account = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(account, seats, date(2026, 3, 1))
    march = await _bill(account.id, date(2026, 3, 1))
    assert march is not None and march.total == Decimal("30.00")
    await overlapping(
        lambda: bill_account(account.id, date(2026, 4, 1), date(2026, 4, 1)),
        lambda: cancel_contract(SYSTEM, contract.id, date(2026, 3, 16)),
    )
    await _bill(account.id, date(2027, 3, 1))
    # over the contract's life: March 1-15 only
    totals = await Invoice.all().values_list("total", flat=True)
    assert sum(totals) == Decimal("14.52")


async def test_an_evergreen_schedule_extended_twice_at_once_stores_each_line_once() -> None:
    factory.pin_today(date(2026, 3, 1))
    account = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    _, order = await factory.contract(account, seats, date(2026, 3, 1), months=None)
    (op,) = await factory.order_products(order)
    far = date(2028, 6, 1)  # past the 13 months stored at activation
    await together(
        billing(account.id, far),
        lambda: invoice_preview(account, far),
        lambda: preview_cancellation(SYSTEM, order.contract_id, far),
    )
    starts = await ScheduleLine.filter(order_product_id=op.id, removed=False).values_list(
        "period_start", flat=True
    )
    assert len(starts) == len(set(starts))
    assert max(starts) >= far
    billed = await InvoiceLine.filter(bills=True).count()
    assert billed == 28  # March 2026 to June 2028

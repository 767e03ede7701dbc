"""A run bills exactly what the engine drafts from the loaded book, on either path.

On PostgreSQL a run bills each chunk of accounts set-based (services.bulk). It must
bill exactly what billing one account at a time bills: the same lines on the same
documents, with the same totals, descriptions, holds and overrides. On both
backends a run bills exactly its previews (both are the engine's drafts)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from orbit.db.models import (
    Invoice,
    InvoiceLine,
    InvoiceRunStatus,
    OrderProduct,
)
from orbit.engine.enums import BillingFrequency, BillingType, ChargeType
from orbit.services import holds, runs
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract
from orbit.services.billing import bill_account, invoice_preview
from orbit.services.controls import OverrideInput, override_billing_dates
from orbit.services.holds import HoldInput, update_hold_rules
from orbit.services.invoices import post_invoice
from tests.services import factory
from tests.services.factory import SYSTEM
from tests.support import backend

pytestmark = pytest.mark.usefixtures("clean")
postgres_only = pytest.mark.skipif(
    backend() != "postgres", reason="set-based billing is PostgreSQL's"
)

TARGET = date(2026, 4, 10)


class Rollback(Exception):
    pass


async def a_varied_book() -> list[int]:
    """Accounts exercising every rule a run applies."""
    factory.pin_today(date(2026, 1, 5))
    monthly = await factory.product("30.00", name="Seats")
    quarterly_arrears = await factory.product(
        "300.00",
        frequency=BillingFrequency.QUARTERLY,
        billing_type=BillingType.ARREARS,
        term=3,
        name="Usage",
    )
    setup = await factory.product("500.00", charge_type=ChargeType.ONE_TIME, name="Setup")
    accounts = []

    plain = await factory.account(name="Plain", billing_day_of_month=1)
    await factory.contract(plain, monthly, date(2026, 1, 15), quantity=3)
    await factory.contract(plain, quarterly_arrears, date(2026, 1, 1), quantity=2)
    accounts.append(plain.id)

    yen = await factory.account(name="Yen", currency="JPY", billing_day_of_month=10)
    await factory.contract(yen, monthly, date(2026, 1, 20), quantity=7, months=None)
    accounts.append(yen.id)

    held = await factory.account(name="Held", billing_day_of_month=1)
    contract, _ = await factory.contract(held, monthly, date(2026, 1, 1), quantity=1)
    await factory.contract(held, setup, date(2026, 2, 1), months=None)
    await holds.place_hold(SYSTEM, HoldInput(holds.HoldScope.CONTRACT, contract.id, "dispute"))
    accounts.append(held.id)

    po = await factory.account(
        name="Needs a PO", billing_day_of_month=1, requires_purchase_order=True
    )
    await factory.contract(po, monthly, date(2026, 2, 1), quantity=2)
    accounts.append(po.id)

    # a reduction mid-period in advance: a negative line; the contract is held by
    # the overdue rule, which never holds credits
    shrinking = await factory.account(name="Shrinking", billing_day_of_month=1, payment_term_days=0)
    contract, order = await factory.contract(shrinking, monthly, date(2026, 1, 1), quantity=10)
    async with in_transaction():
        first = await bill_account(shrinking.id, date(2026, 1, 1), date(2026, 1, 1))
    assert first.invoice is not None
    await post_invoice(SYSTEM, first.invoice.id)
    line = (await OrderProduct.get(order_id=order.id)).contract_line_id
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract_id=contract.id,
            effective_date=date(2026, 3, 16),
            changes=[ChangeInput(quantity=4, contract_line_id=line)],
        ),
    )
    await update_hold_rules(SYSTEM, 30)
    accounts.append(shrinking.id)

    moved = await factory.account(name="Moved dates", billing_day_of_month=1)
    _, order_a = await factory.contract(moved, monthly, date(2026, 1, 1), quantity=1)
    _, order_b = await factory.contract(moved, monthly, date(2026, 1, 1), quantity=2)
    op_a = await OrderProduct.get(order_id=order_a.id)
    op_b = await OrderProduct.get(order_id=order_b.id)
    await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=op_a.id, next_billing_date=date(2026, 5, 20))
    )
    await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=op_b.id, bill_through_date=date(2026, 1, 14))
    )
    accounts.append(moved.id)

    factory.pin_today(date(2026, 4, 10))
    return accounts


async def documents(run_id: int) -> dict[int, Any]:
    """account -> (type, total, due date, lines as (schedule line, description, amount))."""
    found = {}
    for invoice in await Invoice.filter(invoice_run_id=run_id).order_by("account_id"):
        lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("id")
        found[invoice.account_id] = (
            invoice.document_type,
            invoice.total,
            invoice.due_date,
            [
                (line.schedule_line_id, line.description, line.amount, line.quantity, line.fraction)
                for line in lines
            ],
        )
    return found


async def test_a_run_bills_exactly_its_previews_and_the_previews_write_nothing() -> None:
    accounts = await a_varied_book()
    before = await row_counts()
    previews = {a: await invoice_preview(await _account(a), TARGET) for a in accounts}
    assert await row_counts() == before

    run = await runs.start_run(SYSTEM, runs.RunRequest(TARGET))
    finished = await runs.run_inline(run.id)
    billed = await documents(run.id)

    assert finished.status is InvoiceRunStatus.COMPLETED
    for account_id, preview in previews.items():
        document = billed.get(account_id)
        assert ([line[0] for line in document[3]] if document else []) == [
            d.row.id for d in preview.lines
        ]
        assert (document[1] if document else Decimal(0)) == preview.total
    names = {a.id: a.name for a in await _accounts(accounts)}
    totals = {names[a]: doc[1] for a, doc in billed.items()}
    assert totals == {
        # Jan 15-31 (17/31 of 90.00) 49.35, Feb-Apr 3 x 90.00; Q1 in arrears 600.00
        "Plain": Decimal("919.35"),
        # 142 (21/31 of 210), then three periods of 210 from Feb 10 to Apr 10
        "Yen": Decimal("772"),
        # the one-time setup; the held contract's lines wait
        "Held": Decimal("500.00"),
        # the overdue rule holds the originals, never the reduction: -92.90 - 180.00
        "Shrinking": Decimal("-272.90"),
        # op A waits for its override (May 20); op B: 27.10 + 32.90 + 3 x 60.00
        "Moved dates": Decimal("240.00"),
    }


async def row_counts() -> dict[str, int]:
    from orbit.db.connection import db
    from tests.support import tables

    counts = {}
    for name in await tables():
        rows = await db().execute_query_dict(f'SELECT COUNT(*) AS n FROM "{name}"')
        counts[name] = int(rows[0]["n"])
    return counts


@postgres_only
async def test_a_chunk_billed_set_based_equals_accounts_billed_one_by_one() -> None:
    accounts = await a_varied_book()
    previews = {a: await invoice_preview(await _account(a), TARGET) for a in accounts}

    # one by one, then undone
    one_by_one: dict[int, Any] = {}
    try:
        async with in_transaction():
            run = await runs.start_run(SYSTEM, runs.RunRequest(TARGET))
            for account_id in accounts:
                await bill_account(account_id, TARGET, TARGET, run=run)
            one_by_one = await documents(run.id)
            raise Rollback
    except Rollback:
        pass

    run = await runs.start_run(SYSTEM, runs.RunRequest(TARGET))
    finished = await runs.run_inline(run.id)
    set_based = await documents(run.id)

    assert finished.status is InvoiceRunStatus.COMPLETED
    assert set_based == one_by_one
    for account_id, preview in previews.items():
        billed = set_based.get(account_id)
        expected = [d.row.id for d in preview.lines]
        assert ([line[0] for line in billed[3]] if billed else []) == expected
        if billed:
            assert billed[1] == preview.total
    # what the rules must have done
    names = {a.id: a.name for a in await _accounts(accounts)}
    by_name = {names[a]: doc for a, doc in set_based.items()}
    assert "Held" not in by_name or all("Setup" in line[1] for line in by_name["Held"][3])
    assert "Needs a PO" not in by_name
    shrinking = by_name["Shrinking"]
    assert all(line[2] < 0 for line in shrinking[3])
    assert shrinking[0].value == "CREDIT_NOTE"
    assert finished.invoices_created == len(set_based)
    assert finished.lines_created == sum(len(d[3]) for d in set_based.values())
    moved = by_name["Moved dates"][3]
    assert Decimal("0") not in {line[2] for line in moved}


async def _account(account_id: int) -> Any:
    from orbit.db.models import Account

    return await Account.get(id=account_id)


async def _accounts(ids: list[int]) -> list[Any]:
    from orbit.db.models import Account

    return list(await Account.filter(id__in=ids))


async def test_only_pending_shares_are_billed_on_either_path() -> None:
    """A FAILED share is final for its run; an account outside the run's scope is not
    billed by it; the same on the one-by-one and the set-based path."""
    factory.pin_today(date(2026, 1, 5))
    seats = await factory.product("30.00", name="Seats")
    failed, billed, outside = [await factory.account(name=n) for n in ("F", "B", "O")]
    for account in (failed, billed, outside):
        await factory.contract(account, seats, date(2026, 1, 1), quantity=1)
    run = await runs.start_run(SYSTEM, runs.RunRequest(TARGET, account_ids=[failed.id, billed.id]))
    await runs.fail_account(run.id, failed.id, RuntimeError("earlier failure"))

    async with in_transaction():
        skipped = await bill_account(outside.id, TARGET, TARGET, run=run)
        again = await bill_account(failed.id, TARGET, TARGET, run=run)
    finished = await runs.run_inline(run.id)

    assert (skipped.invoice, skipped.fresh, again.invoice, again.fresh) == (
        None,
        False,
        None,
        False,
    )
    assert finished.status is InvoiceRunStatus.COMPLETED_WITH_ERRORS
    assert set(await documents(run.id)) == {billed.id}
    assert (await documents(run.id))[billed.id][1] == Decimal("120.00")
    assert (finished.accounts_processed, finished.invoices_created, finished.lines_created) == (
        2,
        1,
        4,
    )

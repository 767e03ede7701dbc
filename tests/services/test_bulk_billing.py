"""On PostgreSQL a run bills each chunk of accounts set-based (services.bulk). It must
bill exactly what billing one account at a time bills: the same lines on the same
documents, with the same totals, descriptions, holds and overrides."""

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

pytestmark = [
    pytest.mark.usefixtures("clean"),
    pytest.mark.skipif(backend() != "postgres", reason="set-based billing is PostgreSQL's"),
]

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

"""The billing summary of an order product (read in one statement for the API) says
what its stored schedule says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from orbit.db.models import OrderProduct
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract
from orbit.services.billing import bill_account
from orbit.services.controls import OverrideInput, override_billing_dates
from orbit.services.invoices import post_invoice
from orbit.services.state import billing_summaries, schedule_entries
from tests.services import factory
from tests.services.factory import SYSTEM

pytestmark = pytest.mark.usefixtures("clean")


async def test_summaries_agree_with_the_schedules() -> None:
    factory.pin_today(date(2026, 1, 5))
    seats = await factory.product("30.00")
    account = await factory.account(billing_day_of_month=1)
    contract, order = await factory.contract(account, seats, date(2026, 1, 1), quantity=10)
    _, moved = await factory.contract(account, seats, date(2026, 1, 1), quantity=1)
    _, cut = await factory.contract(account, seats, date(2026, 1, 1), quantity=2)
    async with in_transaction():
        billed = await bill_account(account.id, date(2026, 2, 1), date(2026, 2, 1))
    assert billed.invoice is not None
    await post_invoice(SYSTEM, billed.invoice.id)
    line = (await OrderProduct.get(order_id=order.id)).contract_line_id
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract_id=contract.id,
            effective_date=date(2026, 2, 16),
            changes=[ChangeInput(quantity=0, contract_line_id=line)],
        ),
    )
    moved_op = await OrderProduct.get(order_id=moved.id)
    cut_op = await OrderProduct.get(order_id=cut.id)
    await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=moved_op.id, next_billing_date=date(2026, 2, 20))
    )
    await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=cut_op.id, bill_through_date=date(2026, 3, 10))
    )

    ops = list(await OrderProduct.filter(account_id=account.id))
    summaries = await billing_summaries(ops)
    entries = await schedule_entries(ops)

    for op in ops:
        lines = entries[op.id]
        unbilled = [e for e in lines if not e.billed and not e.row.is_credit]
        billed_ends = [e.row.period_end for e in lines if e.billed and not e.row.is_credit]
        summary = summaries[op.id]
        assert summary.next_due == (unbilled[0].effective_due if unbilled else None)
        assert summary.billed_through == (max(billed_ends) if billed_ends else None)
        assert summary.billed_amount == sum((e.row.amount for e in lines if e.billed), Decimal(0))
    assert summaries[moved_op.id].next_due == date(2026, 2, 20)
    assert summaries[cut_op.id].next_due == date(2026, 3, 1)
    assert summaries[cut_op.id].billed_amount == Decimal("120.00")

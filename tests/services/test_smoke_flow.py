"""One customer's life, end to end through the services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tortoise.transactions import in_transaction

from orbit.db.models import Invoice, InvoiceStatus, ScheduleLine
from orbit.services.billing import bill_account, invoice_preview
from orbit.services.invoices import post_invoice
from orbit.services.receivables import record_payment
from tests.services import factory
from tests.services.factory import SYSTEM


async def test_contract_bills_its_first_line_and_gets_paid() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, order = await factory.contract(acme, seats, date(2026, 3, 10), quantity=2)
    assert contract.end_date == date(2027, 3, 9)
    amounts = (
        await ScheduleLine.filter(order_product__order_id=order.id)
        .order_by("period_start")
        .values_list("amount", flat=True)
    )
    assert [str(a) for a in amounts][:2] == ["42.580", "60.000"]
    assert sum(amounts) == Decimal("720.00")

    preview = await invoice_preview(acme, date(2026, 4, 1))
    assert [str(d.row.amount) for d in preview.lines] == ["42.580", "60.000"]
    async with in_transaction():
        result = await bill_account(acme.id, date(2026, 4, 1), date(2026, 4, 1))
    assert result.invoice is not None and result.invoice.total == Decimal("102.58")
    async with in_transaction():
        again = await bill_account(acme.id, date(2026, 4, 1), date(2026, 4, 1))
    assert again.invoice is None

    invoice = await post_invoice(SYSTEM, result.invoice.id)
    assert invoice.number == "INV-000001"
    await record_payment(SYSTEM, acme.id, Decimal("100.00"), date(2026, 4, 5), "wire 1")
    invoice = await Invoice.get(id=invoice.id)
    assert invoice.status is InvoiceStatus.POSTED
    assert invoice.open_balance == Decimal("2.58")

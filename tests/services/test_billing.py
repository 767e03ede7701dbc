"""Billing one account: eligible lines, one document, catch-up, holds and credit notes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from orbit.db.models import (
    Account,
    Contract,
    ContractLine,
    DocumentType,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Order,
    ScheduleLine,
)
from orbit.engine.enums import BillingType, ChargeType
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract
from orbit.services.billing import invoice_preview
from orbit.services.holds import HoldInput, HoldScope, place_hold, release_hold
from orbit.services.invoices import post_invoice
from tests.services import factory
from tests.services.conftest import Bill
from tests.services.factory import SYSTEM, d


async def _acme(price: str = "30.00", **kwargs: Any) -> tuple[Account, Contract, Order]:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product(price, **kwargs)
    contract, order = await factory.contract(acme, seats, date(2026, 3, 10), quantity=2)
    return acme, contract, order


async def test_the_preview_shows_the_document_a_bill_would_create_and_writes_nothing(
    bill: Bill,
) -> None:
    acme, _, _ = await _acme()
    before = await factory.snapshot()
    preview = await invoice_preview(acme, date(2026, 4, 1))
    assert await factory.snapshot() == before
    assert [(x.row.period_start, x.row.amount, x.effective_due) for x in preview.lines] == [
        (d("2026-03-10"), Decimal("42.58"), d("2026-03-10")),
        (d("2026-04-01"), Decimal("60.00"), d("2026-04-01")),
    ]
    assert preview.total == Decimal("102.58")

    invoice = await bill(acme, date(2026, 4, 1), invoice_date=date(2026, 4, 2))
    assert invoice is not None
    assert (invoice.document_type, invoice.status, invoice.total) == (
        DocumentType.INVOICE,
        InvoiceStatus.DRAFT,
        Decimal("102.58"),
    )
    assert (invoice.invoice_date, invoice.due_date, invoice.number) == (
        d("2026-04-02"),
        d("2026-05-02"),
        None,
    )  # 30 days of payment terms
    assert [(s, a) for s, _, a in await factory.document_lines(invoice)] == [
        (x.row.period_start, x.row.amount) for x in preview.lines
    ]
    assert (await invoice_preview(acme, date(2026, 4, 1))).lines == []


async def test_billing_twice_for_the_same_date_creates_nothing_more() -> None:
    acme, _, _ = await _acme()
    first = await factory.bill(acme, date(2026, 4, 1))
    assert first is not None
    before = await factory.snapshot()
    assert await factory.bill(acme, date(2026, 4, 1)) is None
    assert await factory.snapshot() == before
    assert await Invoice.all().count() == 1
    second = await factory.bill(acme, date(2026, 5, 1))
    assert second is not None and second.total == Decimal("60.00")


async def test_nothing_due_means_no_document(bill: Bill) -> None:
    acme, _, _ = await _acme()
    assert await bill(acme, date(2026, 3, 9)) is None
    assert await Invoice.all().count() == 0


async def test_arrears_lines_come_due_the_day_after_their_period(bill: Bill) -> None:
    acme, _, _ = await _acme(billing_type=BillingType.ARREARS)
    assert await bill(acme, date(2026, 3, 31)) is None
    invoice = await bill(acme, date(2026, 4, 1))
    assert invoice is not None
    assert await factory.document_lines(invoice) == [
        (d("2026-03-10"), d("2026-03-31"), Decimal("42.58"))
    ]


async def test_a_zero_document_is_an_invoice(bill: Bill) -> None:
    acme, _, _ = await _acme("0.00")
    invoice = await bill(acme, date(2026, 3, 10))
    assert invoice is not None
    assert (invoice.document_type, invoice.total) == (DocumentType.INVOICE, Decimal("0.00"))


async def test_a_negative_total_is_a_credit_note(bill: Bill) -> None:
    acme, contract, _ = await _acme()
    assert (await bill(acme, date(2026, 4, 1))).total == Decimal("102.58")
    line = await ContractLine.get(contract_id=contract.id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id, date(2026, 4, 16), [ChangeInput(quantity=1, contract_line_id=line.id)]
        ),
    )
    note = await bill(acme, date(2026, 4, 30))
    assert note is None  # the reduction's first line is due on the next billing date
    note = await bill(acme, date(2026, 5, 1))
    # May at 2 units (60.00), then -1 unit for April 16-30 (-15.00) and for May (-30.00)
    assert note is not None and note.total == Decimal("15.00")
    line_2 = await ContractLine.get(contract_id=contract.id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id, date(2026, 5, 11), [ChangeInput(quantity=0, contract_line_id=line_2.id)]
        ),
    )
    credit = await bill(acme, date(2026, 6, 1))
    assert credit is not None
    # May 11-31 was billed on both order products, each credited on its own:
    # -round(60 x 21/31) = -40.65 and -round(-30 x 21/31) = +20.32
    assert (credit.document_type, credit.total) == (DocumentType.CREDIT_NOTE, Decimal("-20.33"))
    assert credit.due_date == d("2026-07-01")


async def test_catch_up_after_a_hold_bills_every_line_that_came_due(bill: Bill) -> None:
    acme, _, _ = await _acme()
    assert (await bill(acme, date(2026, 3, 10))).total == Decimal("42.58")
    hold = await place_hold(SYSTEM, HoldInput(HoldScope.ACCOUNT, acme.id, "disputed"))
    for day in (date(2026, 4, 1), date(2026, 5, 1)):
        factory.pin_today(day)
        assert await bill(acme, day) is None
    unbilled = (
        await ScheduleLine.filter(account_id=acme.id)
        .exclude(
            id__in=await InvoiceLine.filter(bills=True).values_list("schedule_line_id", flat=True)
        )
        .count()
    )
    assert unbilled == 12  # the held April and May lines stay unbilled

    factory.pin_today(date(2026, 5, 20))
    await release_hold(SYSTEM, hold.id)
    invoice = await bill(acme, date(2026, 6, 1))
    assert invoice is not None
    assert [(s, a) for s, _, a in await factory.document_lines(invoice)] == [
        (d("2026-04-01"), Decimal("60.00")),
        (d("2026-05-01"), Decimal("60.00")),
        (d("2026-06-01"), Decimal("60.00")),
    ]
    assert invoice.total == Decimal("180.00")


async def test_one_document_per_account_across_contracts_and_lines(bill: Bill) -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    setup = await factory.product("99.99", charge_type=ChargeType.ONE_TIME, name="Setup")
    await factory.contract(acme, seats, date(2026, 3, 1))
    await factory.contract(acme, setup, date(2026, 3, 1))
    invoice = await bill(acme, date(2026, 3, 1))
    assert invoice is not None and invoice.total == Decimal("129.99")
    assert await Invoice.all().count() == 1
    assert await InvoiceLine.filter(invoice_id=invoice.id).count() == 2


@pytest.mark.parametrize(
    "currency,price,total", [("JPY", "1000", "1645"), ("BHD", "10.000", "16.452")]
)
async def test_amounts_round_to_the_currency(
    bill: Bill, currency: str, price: str, total: str
) -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1, currency=currency)
    seats = await factory.product(price)
    await factory.contract(acme, seats, date(2026, 3, 12))
    invoice = await bill(acme, date(2026, 4, 1))
    # 20/31 of a period, then a full one
    assert invoice is not None and invoice.total == Decimal(total)
    assert invoice.currency == currency


async def test_posting_does_not_change_what_is_billed(bill: Bill) -> None:
    acme, _, _ = await _acme()
    invoice = await bill(acme, date(2026, 4, 1))
    assert invoice is not None
    await post_invoice(SYSTEM, invoice.id)
    assert await bill(acme, date(2026, 4, 1)) is None

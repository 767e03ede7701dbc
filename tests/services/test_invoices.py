"""Documents after billing: posting, gapless numbers, cancelling drafts, crediting."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from orbit.db.models import (
    Account,
    Application,
    Contract,
    ContractLine,
    DocumentType,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PaymentStatus,
    ScheduleLine,
)
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract
from orbit.services.errors import Code
from orbit.services.invoices import cancel_invoice, credit_invoice, post_invoice, post_run
from orbit.services.receivables import record_payment
from orbit.services.runs import RunRequest, run_inline, start_run
from tests.services import factory
from tests.services.factory import SYSTEM, d, refused


async def _monthly(price: str = "30.00", quantity: int = 1) -> tuple[Account, Contract]:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product(price)
    contract, _ = await factory.contract(acme, seats, date(2026, 3, 1), quantity=quantity)
    return acme, contract


async def test_posting_numbers_documents_without_gaps_per_type() -> None:
    acme, contract = await _monthly()
    march = await factory.bill(acme, date(2026, 3, 1))
    april = await factory.bill(acme, date(2026, 4, 1))
    assert march is not None and april is not None
    factory.pin_today(date(2026, 4, 2))
    posted = await post_invoice(SYSTEM, april.id)
    assert (posted.number, posted.status, posted.posted_on) == (
        "INV-000001",
        InvoiceStatus.POSTED,
        d("2026-04-02"),
    )
    assert (posted.open_balance, posted.payment_status) == (Decimal("30.00"), PaymentStatus.UNPAID)
    line = await ContractLine.get(contract_id=contract.id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id, date(2026, 4, 16), [ChangeInput(quantity=0, contract_line_id=line.id)]
        ),
    )
    note = await factory.bill(acme, date(2026, 5, 1))
    assert note is not None and note.document_type is DocumentType.CREDIT_NOTE
    assert (await post_invoice(SYSTEM, note.id)).number == "CN-000001"
    assert (await post_invoice(SYSTEM, march.id)).number == "INV-000002"
    numbers = await Invoice.all().order_by("number").values_list("number", flat=True)
    assert numbers == ["CN-000001", "INV-000001", "INV-000002"]


async def test_a_zero_invoice_is_paid_when_posted() -> None:
    acme, _ = await _monthly("0.00")
    invoice = await factory.bill(acme, date(2026, 3, 1))
    assert invoice is not None
    posted = await post_invoice(SYSTEM, invoice.id)
    assert (posted.number, posted.payment_status) == ("INV-000001", PaymentStatus.PAID)


async def test_only_a_draft_is_posted_or_cancelled() -> None:
    acme, _ = await _monthly()
    invoice = await factory.bill(acme, date(2026, 3, 1))
    assert invoice is not None
    await post_invoice(SYSTEM, invoice.id)
    await refused(post_invoice(SYSTEM, invoice.id), Code.INVALID_STATE)
    await refused(cancel_invoice(SYSTEM, invoice.id), Code.INVALID_STATE)
    await refused(post_invoice(SYSTEM, 999_999), Code.NOT_FOUND)
    await refused(cancel_invoice(SYSTEM, 999_999), Code.NOT_FOUND)


async def test_a_cancelled_draft_gives_no_number_and_its_lines_are_billed_again() -> None:
    acme, _ = await _monthly()
    draft = await factory.bill(acme, date(2026, 4, 1))
    assert draft is not None
    cancelled = await cancel_invoice(SYSTEM, draft.id)
    assert (cancelled.status, cancelled.number) == (InvoiceStatus.CANCELLED, None)
    assert await InvoiceLine.filter(invoice_id=draft.id, bills=True).count() == 0
    await refused(post_invoice(SYSTEM, draft.id), Code.INVALID_STATE)

    again = await factory.bill(acme, date(2026, 4, 1))
    assert again is not None and again.id != draft.id
    assert await factory.document_lines(again) == await factory.document_lines(draft)
    assert (await post_invoice(SYSTEM, again.id)).number == "INV-000001"


async def test_post_run_posts_every_draft_of_the_run() -> None:
    acme, _ = await _monthly()
    other, _ = await _monthly("10.00")
    run = await start_run(SYSTEM, RunRequest(date(2026, 3, 1)))
    await run_inline(run.id)
    posted = await post_run(SYSTEM, run.id)
    assert sorted(p.number for p in posted) == ["INV-000001", "INV-000002"]
    assert await Invoice.filter(status=InvoiceStatus.DRAFT).count() == 0
    assert {i.account_id for i in posted} == {acme.id, other.id}
    await refused(post_run(SYSTEM, 999_999), Code.NOT_FOUND)


async def test_a_credit_with_rebill_reverses_the_invoice_and_bills_its_lines_anew() -> None:
    acme, _ = await _monthly("30.00", quantity=2)
    invoice = await factory.bill(acme, date(2026, 4, 1))
    assert invoice is not None and invoice.total == Decimal("120.00")
    await post_invoice(SYSTEM, invoice.id)
    factory.pin_today(date(2026, 4, 5))
    _, note = await credit_invoice(SYSTEM, invoice.id)
    assert (note.document_type, note.status, note.number) == (
        DocumentType.CREDIT_NOTE,
        InvoiceStatus.POSTED,
        "CN-000001",
    )
    assert (note.total, note.posted_on, note.reverses_id, note.rebill) == (
        Decimal("-120.00"),
        d("2026-04-05"),
        invoice.id,
        True,
    )
    mirrored = await InvoiceLine.filter(invoice_id=note.id).order_by("id")
    assert [(m.period_start, m.amount, m.bills, m.fraction[0]) for m in mirrored] == [
        (d("2026-03-01"), Decimal("-60.00"), False, "-"),
        (d("2026-04-01"), Decimal("-60.00"), False, "-"),
    ]
    # applied to the invoice it reverses
    application = await Application.get(credit_note_id=note.id)
    assert (application.invoice_id, application.amount, application.applied_on) == (
        invoice.id,
        Decimal("120.00"),
        d("2026-04-05"),
    )
    assert (await Invoice.get(id=invoice.id)).payment_status is PaymentStatus.PAID
    assert (await Invoice.get(id=note.id)).payment_status is PaymentStatus.PAID

    rebilled = await factory.bill(acme, date(2026, 4, 5))
    assert rebilled is not None and rebilled.total == Decimal("120.00")
    await refused(credit_invoice(SYSTEM, invoice.id), Code.INVALID_STATE)


async def test_a_credit_without_rebill_leaves_the_lines_billed() -> None:
    acme, _ = await _monthly()
    invoice = await factory.bill(acme, date(2026, 3, 1))
    assert invoice is not None
    await post_invoice(SYSTEM, invoice.id)
    _, note = await credit_invoice(SYSTEM, invoice.id, rebill=False)
    assert (note.rebill, note.total) == (False, Decimal("-30.00"))
    assert await InvoiceLine.filter(invoice_id=invoice.id, bills=True).count() == 1
    assert await factory.bill(acme, date(2026, 3, 1)) is None


@pytest.mark.parametrize(
    ("credit", "expected"),
    [(None, "-40.65"), (False, "-10.65"), (True, "-10.65")],
    ids=["april-not-credited", "april-credited-without-rebill", "april-credited-and-rebilled"],
)
async def test_a_termination_never_credits_days_already_given_back(
    credit: bool | None, expected: str
) -> None:
    acme, contract = await _monthly()
    march = await factory.bill(acme, date(2026, 3, 1))
    april = await factory.bill(acme, date(2026, 4, 1))
    assert march is not None and april is not None
    await post_invoice(SYSTEM, march.id)
    await post_invoice(SYSTEM, april.id)
    if credit is not None:
        await credit_invoice(SYSTEM, april.id, rebill=credit)
    line = await ContractLine.get(contract_id=contract.id)
    _, _, plan = await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id, date(2026, 3, 21), [ChangeInput(quantity=0, contract_line_id=line.id)]
        ),
    )
    (termination,) = plan.terminations
    credit_line = termination.termination.credit_line
    assert credit_line is not None and credit_line.amount == Decimal(expected)
    stored = await ScheduleLine.get(is_credit=True)
    assert stored.amount == Decimal(expected)


async def test_credit_invoice_refuses_what_cannot_be_credited() -> None:
    acme, _ = await _monthly()
    draft = await factory.bill(acme, date(2026, 3, 1))
    assert draft is not None
    await refused(credit_invoice(SYSTEM, draft.id), Code.INVALID_STATE)
    await post_invoice(SYSTEM, draft.id)
    _, note = await credit_invoice(SYSTEM, draft.id)
    await refused(credit_invoice(SYSTEM, note.id), Code.INVALID)
    await refused(credit_invoice(SYSTEM, 999_999), Code.NOT_FOUND)
    free, _ = await _monthly("0.00")
    zero = await factory.bill(free, date(2026, 3, 1))
    assert zero is not None
    await post_invoice(SYSTEM, zero.id)
    await refused(credit_invoice(SYSTEM, zero.id), Code.INVALID)


async def test_a_credit_on_a_partly_paid_invoice_leaves_the_rest_as_credit() -> None:
    acme, _ = await _monthly("100.00")
    march = await factory.bill(acme, date(2026, 3, 1))
    assert march is not None
    await post_invoice(SYSTEM, march.id)
    await record_payment(SYSTEM, acme.id, Decimal("70.00"), date(2026, 3, 5), "wire")
    factory.pin_today(date(2026, 3, 10))
    _, note = await credit_invoice(SYSTEM, march.id, rebill=False)
    # the earlier payment stays applied; the note covers the open 30.00, 70.00 is left
    assert (await Invoice.get(id=march.id)).open_balance == Decimal("0")
    assert await Application.filter(invoice_id=march.id).order_by("id").values_list(
        "amount", flat=True
    ) == [Decimal("70.00"), Decimal("30.00")]
    note = await Invoice.get(id=note.id)
    assert (note.open_balance, note.payment_status) == (
        Decimal("-70.00"),
        PaymentStatus.PARTIALLY_PAID,
    )
    factory.pin_today(date(2026, 4, 1))
    april = await factory.bill(acme, date(2026, 4, 1))
    assert april is not None
    await post_invoice(SYSTEM, april.id)
    april = await Invoice.get(id=april.id)
    assert (april.open_balance, april.payment_status) == (
        Decimal("30.00"),
        PaymentStatus.PARTIALLY_PAID,
    )
    note = await Invoice.get(id=note.id)
    assert (note.open_balance, note.payment_status) == (Decimal("0"), PaymentStatus.PAID)


async def test_post_invoice_returns_the_document_with_credit_applied() -> None:
    acme, _ = await _monthly("100.00")
    await record_payment(SYSTEM, acme.id, Decimal("40.00"), date(2026, 3, 1), "prepaid")
    invoice = await factory.bill(acme, date(2026, 3, 1))
    assert invoice is not None
    posted = await post_invoice(SYSTEM, invoice.id)
    stored = await Invoice.get(id=invoice.id)
    assert (stored.open_balance, stored.payment_status) == (
        Decimal("60.00"),
        PaymentStatus.PARTIALLY_PAID,
    )
    assert (posted.open_balance, posted.payment_status) == (
        stored.open_balance,
        stored.payment_status,
    )


@pytest.mark.parametrize(
    ("timezone", "posted_on"),
    [
        ("UTC", "2026-03-31"),
        ("Pacific/Auckland", "2026-04-01"),
        ("America/Los_Angeles", "2026-03-31"),
    ],
)
async def test_a_document_is_posted_on_the_accounts_today(timezone: str, posted_on: str) -> None:
    from datetime import UTC, datetime

    from orbit import clock

    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1, timezone=timezone)
    seats = await factory.product("30.00")
    await factory.contract(acme, seats, date(2026, 3, 1))
    invoice = await factory.bill(acme, date(2026, 3, 1))
    assert invoice is not None
    clock.pin(datetime(2026, 3, 31, 13, 0, tzinfo=UTC))
    posted = await post_invoice(SYSTEM, invoice.id)
    assert posted.posted_on == d(posted_on)


async def test_credit_invoice_returns_the_note_with_its_remainder_applied() -> None:
    acme, _ = await _monthly("100.00")
    march = await factory.bill(acme, date(2026, 3, 1))
    assert march is not None
    await post_invoice(SYSTEM, march.id)
    await record_payment(SYSTEM, acme.id, Decimal(70), date(2026, 3, 2), "wire")
    april = await factory.bill(acme, date(2026, 4, 1))
    assert april is not None
    await post_invoice(SYSTEM, april.id)  # 100.00 open
    _, note = await credit_invoice(SYSTEM, march.id, rebill=False)
    # -100.00: 30.00 to March (still open there), the other 70.00 to April
    stored = await Invoice.get(id=note.id)
    assert (stored.open_balance, stored.payment_status) == (Decimal(0), PaymentStatus.PAID)
    assert (note.open_balance, note.payment_status) == (stored.open_balance, stored.payment_status)

"""Each day is credited at most once, whatever the order (spec section 12): the cases
the property test (test_credit_properties.py) found, kept as plain examples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from orbit.db.models import (
    ContractLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    OrderProduct,
    ScheduleLine,
)
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract, cancel_contract
from orbit.services.errors import Code
from orbit.services.invoices import credit_invoice, post_invoice
from tests.services import factory
from tests.services.factory import SYSTEM, d, refused


async def _posted_total(account_id: int) -> Decimal:
    totals = await Invoice.filter(account_id=account_id, status=InvoiceStatus.POSTED).values_list(
        "total", flat=True
    )
    return sum((Decimal(t) for t in totals), Decimal(0))


async def _post_all(account_id: int) -> None:
    for draft in await Invoice.filter(account_id=account_id, status=InvoiceStatus.DRAFT):
        await post_invoice(SYSTEM, draft.id)


async def _month_of_1000() -> tuple[int, int, Invoice]:
    """BDOM 1, 1000.00 a month from 2026-01-01 for a year; January billed and posted."""
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    plan = await factory.product("1000.00")
    contract, _ = await factory.contract(acme, plan, date(2026, 1, 1))
    january = await factory.bill(acme, date(2026, 1, 1))
    assert january is not None and january.total == Decimal("1000.00")
    await post_invoice(SYSTEM, january.id)
    return acme.id, contract.id, january


@pytest.mark.parametrize(
    "credit_first", [False, True], ids=["cancel-then-credit", "credit-then-cancel"]
)
async def test_a_month_cancelled_from_its_first_day_and_credited_nets_zero(
    credit_first: bool,
) -> None:
    account_id, contract_id, january = await _month_of_1000()
    if credit_first:
        _, note = await credit_invoice(SYSTEM, january.id, rebill=False)
        assert note.total == Decimal("-1000.00")
        await cancel_contract(SYSTEM, contract_id, date(2026, 1, 1))
        # the days are at 0 already: the cancellation credits nothing
        assert await ScheduleLine.filter(is_credit=True).count() == 0
        assert await factory.bill(account_id, date(2026, 1, 1)) is None
    else:
        await cancel_contract(SYSTEM, contract_id, date(2026, 1, 1))
        credit = await factory.bill(account_id, date(2026, 1, 1))
        assert credit is not None and credit.total == Decimal("-1000.00")
        await _post_all(account_id)
        # every day January charged was given back by the cancellation's credit
        await refused(credit_invoice(SYSTEM, january.id, rebill=False), Code.INVALID_STATE)
    assert await _posted_total(account_id) == Decimal("0.00")


@pytest.mark.parametrize(
    "credit_first", [False, True], ids=["cancel-then-credit", "credit-then-cancel"]
)
async def test_a_month_cancelled_mid_month_and_credited_nets_zero(credit_first: bool) -> None:
    """Cancelled from 01-17: the cancellation gives back 15/31 of 1000.00 = 483.87; the
    credit without rebill gives back the rest, 516.13 for 01-01..01-16 (or, first,
    the whole 1000.00, and the cancellation then nothing)."""
    account_id, contract_id, january = await _month_of_1000()
    if credit_first:
        _, note = await credit_invoice(SYSTEM, january.id, rebill=False)
        assert note.total == Decimal("-1000.00")
        await cancel_contract(SYSTEM, contract_id, date(2026, 1, 17))
        assert await ScheduleLine.filter(is_credit=True).count() == 0
    else:
        await cancel_contract(SYSTEM, contract_id, date(2026, 1, 17))
        credit = await factory.bill(account_id, date(2026, 1, 17))
        assert credit is not None and credit.total == Decimal("-483.87")
        await _post_all(account_id)
        _, note = await credit_invoice(SYSTEM, january.id, rebill=False)
        assert note.total == Decimal("-516.13")
        (line,) = await InvoiceLine.filter(invoice_id=note.id)
        assert (line.period_start, line.period_end, line.amount) == (
            d("2026-01-01"),
            d("2026-01-16"),
            Decimal("-516.13"),
        )
        assert line.fraction == "-16/31"
    assert await _posted_total(account_id) == Decimal("0.00")


async def test_a_reduction_after_a_credit_without_rebill_gives_nothing_back_twice() -> None:
    """2 x 30.00 a month; March billed (60.00) and credited without rebill; then one
    unit dropped from 03-16: March is at 0 already, so the reduction's first line
    (03-16..03-31) is 0.00, and from April it gives back 30.00 a month."""
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 3, 1), quantity=2)
    march = await factory.bill(acme, date(2026, 3, 1))
    assert march is not None and march.total == Decimal("60.00")
    await post_invoice(SYSTEM, march.id)
    await credit_invoice(SYSTEM, march.id, rebill=False)
    line = await ContractLine.get(contract_id=contract.id)
    _, order, plan = await amend_contract(
        SYSTEM,
        AmendmentInput(contract.id, date(2026, 3, 16), [ChangeInput(1, contract_line_id=line.id)]),
    )
    (delta,) = plan.deltas
    assert [(ln.start, ln.amount) for ln in delta.schedule[:2]] == [
        (d("2026-03-16"), Decimal("0.00")),
        (d("2026-04-01"), Decimal("-30.00")),
    ]
    assert plan.total == Decimal("-330.00")  # 11 months x -30.00
    (op,) = await factory.order_products(order)
    assert (await factory.schedule(op))[0] == (
        d("2026-03-16"),
        d("2026-03-31"),
        d("2026-04-01"),
        Decimal("0.00"),
    )
    april = await factory.bill(acme, date(2026, 4, 1))
    assert april is not None and april.total == Decimal("30.00")
    await post_invoice(SYSTEM, april.id)
    # March: 60.00 - 60.00 + 0.00; April: 60.00 - 30.00
    assert await _posted_total(acme.id) == Decimal("30.00")


async def _two_seats_march_credited_after_reduction(bill_april_first: bool) -> tuple[int, Invoice]:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 3, 1), quantity=2)
    march = await factory.bill(acme, date(2026, 3, 1))
    assert march is not None
    await post_invoice(SYSTEM, march.id)
    line = await ContractLine.get(contract_id=contract.id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(contract.id, date(2026, 3, 16), [ChangeInput(1, contract_line_id=line.id)]),
    )
    if bill_april_first:
        # April 60.00, the reduction's 03-16..03-31 -15.48 and April -30.00
        april = await factory.bill(acme, date(2026, 4, 1))
        assert april is not None and april.total == Decimal("14.52")
        await post_invoice(SYSTEM, april.id)
    _, note = await credit_invoice(SYSTEM, march.id, rebill=False)
    return acme.id, note


async def test_a_credit_without_rebill_after_a_reduction_not_billed_yet() -> None:
    """The reduction's 03-16..03-31 line (-15.48, due 04-01) is not billed when March
    is credited without rebill: March is at 0 now, so that line becomes 0.00."""
    account_id, note = await _two_seats_march_credited_after_reduction(False)
    assert note.total == Decimal("-60.00")
    april = await factory.bill(account_id, date(2026, 4, 1))
    assert april is not None and april.total == Decimal("30.00")
    assert sorted(a for _, _, a in await factory.document_lines(april)) == [
        Decimal("-30.00"),
        Decimal("0.00"),
        Decimal("60.00"),
    ]
    await post_invoice(SYSTEM, april.id)
    assert await _posted_total(account_id) == Decimal("30.00")


async def test_a_credit_without_rebill_after_a_reduction_already_billed() -> None:
    """The reduction's -15.48 for 03-16..03-31 is billed (on April's invoice) when March
    is credited without rebill: the credit note gives March's 60.00 back and takes the
    15.48 back, so the days are credited once: -44.52."""
    account_id, note = await _two_seats_march_credited_after_reduction(True)
    assert note.total == Decimal("-44.52")
    assert sorted(
        (line.period_start, line.amount) for line in await InvoiceLine.filter(invoice_id=note.id)
    ) == [(d("2026-03-01"), Decimal("-60.00")), (d("2026-03-16"), Decimal("15.48"))]
    assert await _posted_total(account_id) == Decimal("30.00")


async def test_a_change_of_billing_day_leaves_a_line_rebilled_after_a_termination_whole() -> None:
    """January (1000.00) billed; the line cancelled from 01-17 (credit -483.87 for
    01-17..01-31); January credited with rebill, so its line is unbilled again and
    still runs to 01-31. Moving the billing day to the 15th must not squeeze that
    line's 1000.00 into 01-01..01-16: it is billed again as it was, and with the
    termination's credit January nets 516.13 (16/31 of 1000.00)."""
    account_id, contract_id, january = await _month_of_1000()
    line = await ContractLine.get(contract_id=contract_id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(contract_id, date(2026, 1, 17), [ChangeInput(0, contract_line_id=line.id)]),
    )
    await credit_invoice(SYSTEM, january.id, rebill=True)
    from orbit.services.controls import change_billing_day

    await change_billing_day(SYSTEM, contract_id, 15)
    (op,) = await OrderProduct.filter(contract_id=contract_id)
    assert await factory.schedule(op) == [
        (d("2026-01-01"), d("2026-01-31"), d("2026-01-01"), Decimal("1000.00")),
        (d("2026-01-17"), d("2026-01-31"), d("2026-02-01"), Decimal("-483.87")),
    ]
    again = await factory.bill(account_id, date(2026, 2, 1))
    assert again is not None and again.total == Decimal("516.13")
    await post_invoice(SYSTEM, again.id)
    assert await _posted_total(account_id) == Decimal("516.13")


async def test_a_reduction_ended_by_a_termination_is_taken_back_for_the_days_credited() -> None:
    """Found by the property test. 2 seats at 1000.00 from 2026-01-01; on 01-03 one
    seat is dropped from 01-01 and January billed: 2000.00 - 1000.00 = 1000.00. The
    line is cancelled from 01-03 (credits -1870.97 and +935.48 for 01-03..01-31, due
    02-01), then January credited without rebill: the credit note gives back the
    original's 01-01..01-02 (-129.03) and takes back the reduction's (+64.52), so the
    customer ends at 0.00, not 64.52 below it."""
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    plan = await factory.product("1000.00")
    contract, _ = await factory.contract(acme, plan, date(2026, 1, 1), quantity=2)
    line = await ContractLine.get(contract_id=contract.id)
    factory.pin_today(date(2026, 1, 3))
    await amend_contract(
        SYSTEM,
        AmendmentInput(contract.id, date(2026, 1, 1), [ChangeInput(1, contract_line_id=line.id)]),
    )
    january = await factory.bill(acme, date(2026, 1, 3))
    assert january is not None and january.total == Decimal("1000.00")
    await post_invoice(SYSTEM, january.id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(contract.id, date(2026, 1, 3), [ChangeInput(0, contract_line_id=line.id)]),
    )
    _, note = await credit_invoice(SYSTEM, january.id, rebill=False)
    assert sorted(
        (ln.period_start, ln.period_end, ln.amount)
        for ln in await InvoiceLine.filter(invoice_id=note.id)
    ) == [
        (d("2026-01-01"), d("2026-01-02"), Decimal("-129.03")),
        (d("2026-01-01"), d("2026-01-02"), Decimal("64.52")),
    ]
    assert note.total == Decimal("-64.51")
    credits = await factory.bill(acme, date(2026, 2, 1))
    assert credits is not None and credits.total == Decimal("-935.49")
    await post_invoice(SYSTEM, credits.id)
    assert await _posted_total(acme.id) == Decimal("0.00")


async def test_a_change_of_billing_day_does_not_value_closed_days_of_a_reduction_again() -> None:
    """Found by the property test. 2 seats at 1000.00 from 2026-01-01; January billed
    (2000.00) and credited without rebill; one seat dropped from 01-01: its January
    line is 0.00 (closed). Moving the billing day to the 10th on 01-01 re-cuts the
    reduction from February on only; January stays 0.00 and the reduction still
    gives back 11 x 1000.00 in all."""
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    plan = await factory.product("1000.00")
    contract, _ = await factory.contract(acme, plan, date(2026, 1, 1), quantity=2)
    january = await factory.bill(acme, date(2026, 1, 1))
    assert january is not None and january.total == Decimal("2000.00")
    await post_invoice(SYSTEM, january.id)
    await credit_invoice(SYSTEM, january.id, rebill=False)
    line = await ContractLine.get(contract_id=contract.id)
    _, order, _ = await amend_contract(
        SYSTEM,
        AmendmentInput(contract.id, date(2026, 1, 1), [ChangeInput(1, contract_line_id=line.id)]),
    )
    (reduction,) = await factory.order_products(order)
    from orbit.services.controls import change_billing_day

    await change_billing_day(SYSTEM, contract.id, 10)
    lines = await factory.schedule(reduction)
    assert lines[0] == (d("2026-01-01"), d("2026-01-31"), d("2026-01-01"), Decimal("0.00"))
    assert lines[1][:2] == (d("2026-02-01"), d("2026-02-09"))
    assert sum((amount for *_, amount in lines), Decimal(0)) == Decimal("-11000.00")

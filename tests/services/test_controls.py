"""Billing-date controls: next billing date and bill-through overrides, change of
billing day (spec section 6). None of them changes what is billed in total."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from orbit.db.models import Contract, ContractLine, OrderProduct, ScheduleLine
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract, cancel_contract
from orbit.services.controls import OverrideInput, change_billing_day, override_billing_dates
from orbit.services.errors import Code
from tests.services import factory
from tests.services.conftest import Bill
from tests.services.factory import SYSTEM, d, refused


class Monthly:
    """BDOM 1, one seat at the given monthly price from 2026-03-01 for a year, March
    billed."""

    async def build(self, price: str = "30.00") -> Monthly:
        factory.pin_today(date(2026, 3, 1))
        self.account = await factory.account(billing_day_of_month=1)
        self.seats = await factory.product(price)
        self.contract, self.order = await factory.contract(
            self.account, self.seats, date(2026, 3, 1)
        )
        (self.op,) = await factory.order_products(self.order)
        assert await factory.bill(self.account, date(2026, 3, 1)) is not None
        return self

    async def total(self) -> Decimal:
        return sum((a for *_, a in await factory.schedule(self.op)), Decimal(0))


@pytest.fixture
async def monthly() -> Monthly:
    return await Monthly().build()


async def test_a_later_next_billing_date_makes_the_lines_behind_it_come_due_together(
    bill: Bill,
    monthly: Monthly,
) -> None:
    (op,) = await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=monthly.op.id, next_billing_date=d("2026-05-15"))
    )
    assert op.next_billing_date_override == d("2026-05-15")
    april = await ScheduleLine.get(order_product_id=op.id, period_start=d("2026-04-01"))
    assert op.override_line_id == april.id
    assert await bill(monthly.account, date(2026, 4, 1)) is None
    assert await bill(monthly.account, date(2026, 5, 14)) is None
    invoice = await bill(monthly.account, date(2026, 5, 15))
    assert invoice is not None
    assert [s for s, _, _ in await factory.document_lines(invoice)] == [
        d("2026-04-01"),
        d("2026-05-01"),
    ]
    stored = await OrderProduct.get(id=op.id)
    assert (stored.next_billing_date_override, stored.override_line_id) == (None, None)
    assert (await bill(monthly.account, date(2026, 6, 1))).total == Decimal("30.00")


async def test_an_earlier_next_billing_date_bills_only_the_bound_line(
    bill: Bill, monthly: Monthly
) -> None:
    await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=monthly.op.id, next_billing_date=d("2026-03-20"))
    )
    invoice = await bill(monthly.account, date(2026, 3, 20))
    assert invoice is not None
    assert await factory.document_lines(invoice) == [
        (d("2026-04-01"), d("2026-04-30"), Decimal("30.00"))
    ]
    assert await bill(monthly.account, date(2026, 4, 30)) is None
    assert await monthly.total() == Decimal("360.00")


async def test_a_contract_override_moves_its_earliest_aligned_order_products(
    bill: Bill,
    monthly: Monthly,
) -> None:
    line = await ContractLine.get(contract_id=monthly.contract.id)
    _, order, _ = await amend_contract(
        SYSTEM,
        AmendmentInput(
            monthly.contract.id,
            date(2026, 3, 16),
            [ChangeInput(quantity=2, contract_line_id=line.id)],
        ),
    )
    (delta,) = await factory.order_products(order)
    ops = await override_billing_dates(
        SYSTEM, OverrideInput(contract_id=monthly.contract.id, next_billing_date=d("2026-04-10"))
    )
    # both first unbilled lines are due 04-01 (the delta's partial line is aligned)
    assert sorted(op.id for op in ops) == sorted([monthly.op.id, delta.id])
    assert await bill(monthly.account, date(2026, 4, 1)) is None
    invoice = await bill(monthly.account, date(2026, 4, 10))
    assert invoice is not None
    # April for the original, March 16-31 (15.48) and April for the delta
    assert invoice.total == Decimal("75.48")


async def test_bill_through_cuts_the_first_unbilled_line_and_clear_joins_it_back() -> None:
    monthly = await Monthly().build("10.00")
    await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=monthly.op.id, bill_through_date=d("2026-04-10"))
    )
    lines = await factory.schedule(monthly.op)
    assert lines[1:3] == [
        (d("2026-04-01"), d("2026-04-10"), d("2026-04-01"), Decimal("3.33")),
        (d("2026-04-11"), d("2026-04-30"), d("2026-04-11"), Decimal("6.67")),
    ]
    assert len(lines) == 13 and await monthly.total() == Decimal("120.00")
    assert (await OrderProduct.get(id=monthly.op.id)).bill_through_override == d("2026-04-10")

    await override_billing_dates(SYSTEM, OverrideInput(order_product_id=monthly.op.id, clear=True))
    lines = await factory.schedule(monthly.op)
    assert lines[1] == (d("2026-04-01"), d("2026-04-30"), d("2026-04-01"), Decimal("10.00"))
    assert len(lines) == 12 and await monthly.total() == Decimal("120.00")
    assert (await OrderProduct.get(id=monthly.op.id)).bill_through_override is None


async def test_bill_through_bills_the_cut_part_and_then_the_rest(bill: Bill) -> None:
    monthly = await Monthly().build("10.00")
    await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=monthly.op.id, bill_through_date=d("2026-04-10"))
    )
    first = await bill(monthly.account, date(2026, 4, 1))
    assert first is not None and first.total == Decimal("3.33")
    assert (await OrderProduct.get(id=monthly.op.id)).bill_through_override is None
    second = await bill(monthly.account, date(2026, 4, 11))
    assert second is not None and second.total == Decimal("6.67")
    # clearing after the head is billed leaves the two lines as they are
    await override_billing_dates(SYSTEM, OverrideInput(order_product_id=monthly.op.id, clear=True))
    assert await monthly.total() == Decimal("120.00")


@pytest.mark.parametrize(
    ("target", "dates", "code"),
    [
        ("order product", {"bill_through_date": d("2026-04-30")}, Code.OUT_OF_RANGE),
        ("order product", {"bill_through_date": d("2026-03-31")}, Code.OUT_OF_RANGE),
        ("order product", {}, Code.INVALID),
        ("order product", {"clear": True, "next_billing_date": d("2026-04-02")}, Code.INVALID),
        ("both", {"next_billing_date": d("2026-04-02")}, Code.INVALID),
        ("neither", {"next_billing_date": d("2026-04-02")}, Code.INVALID),
    ],
    ids=[
        "bill-through-on-last-day",
        "bill-through-before-line",
        "nothing-given",
        "clear-with-dates",
        "both-targets",
        "no-target",
    ],
)
async def test_override_refuses_bad_input(
    monthly: Monthly, target: str, dates: dict[str, object], code: Code
) -> None:
    data = OverrideInput(**dates)  # type: ignore[arg-type]
    if target in ("order product", "both"):
        data.order_product_id = monthly.op.id
    if target == "both":
        data.contract_id = monthly.contract.id
    await refused(override_billing_dates(SYSTEM, data), code)


async def test_override_refuses_unknown_and_inactive_targets(monthly: Monthly) -> None:
    await refused(
        override_billing_dates(
            SYSTEM, OverrideInput(order_product_id=999_999, next_billing_date=d("2026-04-02"))
        ),
        Code.NOT_FOUND,
    )
    _, draft = await factory.contract(
        monthly.account, monthly.seats, date(2026, 3, 1), activate=False
    )
    (draft_op,) = await factory.order_products(draft)
    await refused(
        override_billing_dates(
            SYSTEM, OverrideInput(order_product_id=draft_op.id, next_billing_date=d("2026-04-02"))
        ),
        Code.INVALID_STATE,
    )
    await cancel_contract(SYSTEM, monthly.contract.id, date(2026, 4, 1))
    await refused(
        override_billing_dates(
            SYSTEM,
            OverrideInput(contract_id=monthly.contract.id, next_billing_date=d("2026-04-02")),
        ),
        Code.INVALID_STATE,
    )


def covered_days(lines: list[tuple[date, date, date, Decimal]]) -> list[date]:
    days = []
    for start, end, _, _ in lines:
        day = start
        while day <= end:
            days.append(day)
            day += timedelta(days=1)
    return days


async def test_a_change_of_billing_day_recuts_the_unbilled_lines(bill: Bill) -> None:
    monthly = await Monthly().build("30.00")
    factory.pin_today(date(2026, 3, 10))
    contract = await change_billing_day(SYSTEM, monthly.contract.id, 15)
    assert (contract.billing_day_of_month, contract.series_anchor) == (15, d("2026-04-15"))
    stored = await Contract.get(id=monthly.contract.id)
    assert (stored.billing_day_of_month, stored.series_anchor) == (15, d("2026-04-15"))
    op = await OrderProduct.get(id=monthly.op.id)
    assert (op.billing_day_of_month, op.series_anchor) == (15, d("2026-04-15"))

    lines = await factory.schedule(op)
    assert lines[:3] == [
        (d("2026-03-01"), d("2026-03-31"), d("2026-03-01"), Decimal("30.00")),  # billed
        (d("2026-04-01"), d("2026-04-14"), d("2026-04-01"), Decimal("13.55")),  # 14/31
        (d("2026-04-15"), d("2026-05-14"), d("2026-04-15"), Decimal("30.00")),
    ]
    assert lines[-1][:2] == (d("2027-02-15"), d("2027-02-28"))
    assert sum(a for *_, a in lines) == Decimal("360.00")
    days = covered_days(lines)
    assert len(days) == len(set(days)) == 365  # no day lost, none doubled
    assert (days[0], days[-1]) == (d("2026-03-01"), d("2027-02-28"))

    assert (await bill(monthly.account, date(2026, 4, 1))).total == Decimal("13.55")
    assert (await bill(monthly.account, date(2026, 4, 15))).total == Decimal("30.00")


async def test_a_change_of_billing_day_clears_overrides_on_recut_lines(monthly: Monthly) -> None:
    await override_billing_dates(
        SYSTEM, OverrideInput(order_product_id=monthly.op.id, next_billing_date=d("2026-04-20"))
    )
    await change_billing_day(SYSTEM, monthly.contract.id, 15)
    op = await OrderProduct.get(id=monthly.op.id)
    assert (op.next_billing_date_override, op.override_line_id) == (None, None)


async def test_change_billing_day_refuses_bad_input(monthly: Monthly) -> None:
    await refused(change_billing_day(SYSTEM, monthly.contract.id, 1), Code.INVALID)
    await refused(change_billing_day(SYSTEM, monthly.contract.id, 32), Code.INVALID)
    await refused(change_billing_day(SYSTEM, monthly.contract.id, 0), Code.INVALID)
    await refused(change_billing_day(SYSTEM, 999_999, 15), Code.NOT_FOUND)
    await cancel_contract(SYSTEM, monthly.contract.id, date(2026, 4, 1))
    await refused(change_billing_day(SYSTEM, monthly.contract.id, 15), Code.INVALID_STATE)

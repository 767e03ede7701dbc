"""Contracts and their orders: creation, activation, drafts, purchase orders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from orbit.db.models import (
    Account,
    BillingHold,
    Contract,
    HoldScope,
    HoldSource,
    Order,
    OrderStatus,
    OrderType,
    ScheduleLine,
)
from orbit.engine.enums import ChargeType, ContractStatus
from orbit.services.contracts import (
    ContractInput,
    LineInput,
    activate_order,
    cancel_order,
    create_contract,
    set_purchase_order_number,
)
from orbit.services.errors import Code
from tests.services import factory
from tests.services.factory import SYSTEM, d, refused

# Spec section 4: BDOM 1, 30.00 a unit a month, quantity 2, from 2026-03-10 for 12 months.
SPEC_SCHEDULE = [
    (d("2026-03-10"), d("2026-03-31"), d("2026-03-10"), Decimal("42.58")),
    *[
        (date(2026 + (m > 12), (m - 1) % 12 + 1, 1), None, None, Decimal("60.00"))
        for m in range(4, 15)
    ],
    (d("2027-03-01"), d("2027-03-09"), d("2027-03-01"), Decimal("17.42")),
]


async def test_a_contract_is_activated_with_its_schedule_stored() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, order = await factory.contract(acme, seats, date(2026, 3, 10), quantity=2)

    assert contract.status is ContractStatus.ACTIVE
    assert (contract.start_date, contract.end_date) == (d("2026-03-10"), d("2027-03-09"))
    assert (contract.billing_day_of_month, contract.series_anchor) == (1, d("2026-04-01"))
    assert (contract.anniversary_day, contract.term_months) == (10, 12)
    assert contract.notice_deadline == d("2027-01-08")  # 60 days before the end
    order = await Order.get(id=order.id)
    assert (order.type, order.status) == (OrderType.NEW, OrderStatus.ACTIVATED)
    (op,) = await factory.order_products(order)
    assert op.total_amount == Decimal("720.00")

    lines = await factory.schedule(op)
    assert len(lines) == 13
    assert [(s, a) for s, _, _, a in lines] == [(s, a) for s, _, _, a in SPEC_SCHEDULE]
    assert lines[0] == SPEC_SCHEDULE[0]
    assert lines[-1] == SPEC_SCHEDULE[-1]
    # advance billing: each line is due on its first day, periods follow the 1st
    assert all(due == start for start, _, due, _ in lines)
    assert [end for _, end, _, _ in lines[1:3]] == [d("2026-04-30"), d("2026-05-31")]
    assert sum(a for *_, a in lines) == Decimal("720.00")


async def test_the_first_contract_gives_an_account_without_one_its_billing_day() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account()
    seats = await factory.product()
    first, _ = await factory.contract(acme, seats, date(2026, 3, 17))
    assert (await Account.get(id=acme.id)).billing_day_of_month == 17
    assert (first.billing_day_of_month, first.series_anchor) == (17, d("2026-03-17"))

    second, _ = await factory.contract(acme, seats, date(2026, 5, 2))
    assert (second.billing_day_of_month, second.series_anchor) == (17, d("2026-05-17"))
    assert (await Account.get(id=acme.id)).billing_day_of_month == 17


async def test_a_contract_may_bill_on_its_own_day() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product()
    contract, order = await factory.contract(
        acme, seats, date(2026, 1, 31), billing_day_of_month=31, months=3
    )
    assert (contract.billing_day_of_month, contract.series_anchor) == (31, d("2026-01-31"))
    (op,) = await factory.order_products(order)
    # clamp-then-restore: Jan 31, Feb 28, Mar 31; three months end the day before Apr 30
    assert [(s, e) for s, e, _, _ in await factory.schedule(op)] == [
        (d("2026-01-31"), d("2026-02-27")),
        (d("2026-02-28"), d("2026-03-30")),
        (d("2026-03-31"), d("2026-04-29")),
    ]
    assert (await Account.get(id=acme.id)).billing_day_of_month == 1


async def test_an_explicit_end_date_sets_the_anniversary_day() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("10.00")
    contract, order = await factory.contract(
        acme, seats, date(2026, 3, 1), months=None, end_date=date(2026, 8, 14)
    )
    assert (contract.end_date, contract.term_months, contract.anniversary_day) == (
        d("2026-08-14"),
        None,
        15,
    )
    (op,) = await factory.order_products(order)
    # five full months and 14/31 of August
    assert op.total_amount == Decimal("54.52")


async def test_an_evergreen_contract_stores_its_schedule_ahead() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, order = await factory.contract(acme, seats, date(2026, 3, 1), months=None)
    assert (contract.end_date, contract.notice_deadline, contract.anniversary_day) == (
        None,
        None,
        None,
    )
    (op,) = await factory.order_products(order)
    assert op.total_amount is None
    assert op.scheduled_through == d("2027-04-01")  # 13 months ahead
    lines = await factory.schedule(op)
    assert lines[0] == (d("2026-03-01"), d("2026-03-31"), d("2026-03-01"), Decimal("30.00"))
    assert lines[-1][0] == d("2027-04-01")
    assert len(lines) == 14 and {a for *_, a in lines} == {Decimal("30.00")}


async def test_a_one_time_line_bills_once_on_the_start_date() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    setup = await factory.product("250.00", charge_type=ChargeType.ONE_TIME, name="Setup")
    _, order = await factory.contract(acme, setup, date(2026, 3, 10), quantity=3)
    (op,) = await factory.order_products(order)
    assert await factory.schedule(op) == [
        (d("2026-03-10"), d("2026-03-10"), d("2026-03-10"), Decimal("750.00"))
    ]
    assert op.total_amount == Decimal("750.00")


async def test_a_draft_contract_is_activated_later() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, order = await factory.contract(
        acme, seats, date(2026, 3, 10), quantity=2, activate=False
    )
    assert contract.status is ContractStatus.DRAFT
    assert (await Order.get(id=order.id)).status is OrderStatus.DRAFT
    assert await ScheduleLine.all().count() == 0

    await activate_order(SYSTEM, order.id)
    assert (await Contract.get(id=contract.id)).status is ContractStatus.ACTIVE
    assert (await Order.get(id=order.id)).status is OrderStatus.ACTIVATED
    (op,) = await factory.order_products(order)
    assert [a for *_, a in await factory.schedule(op)] == [a for *_, a in SPEC_SCHEDULE]

    await refused(activate_order(SYSTEM, order.id), Code.INVALID_STATE)


async def test_activation_copies_the_account_settings_in_force_then() -> None:
    from orbit.engine.enums import ProrationPolicy
    from orbit.services.accounts import AccountChanges, update_account

    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    _, order = await factory.contract(acme, seats, date(2026, 3, 10), activate=False)
    await update_account(
        SYSTEM, acme.id, AccountChanges(proration_policy=ProrationPolicy.MONTHLY_PLUS_DAILY)
    )
    await activate_order(SYSTEM, order.id)
    (op,) = await factory.order_products(order)
    assert op.proration_policy is ProrationPolicy.MONTHLY_PLUS_DAILY


LINE = object()  # stands for "the product created by the test"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"term_months": 12, "end_date": date(2027, 3, 9)}, Code.INVALID),
        ({"term_months": None, "end_date": date(2026, 3, 9)}, Code.INVALID),
        ({"term_months": 0}, Code.INVALID),
        ({"lines": [{"quantity": 0}]}, Code.INVALID),
        ({"lines": [{"quantity": -2}]}, Code.INVALID),
        ({"lines": [{"quantity": 1}, {"quantity": 0}]}, Code.INVALID),
        ({"lines": [{"quantity": 1, "product_id": 987_654}]}, Code.NOT_FOUND),
        ({"lines": []}, Code.INVALID),
        ({"lines": [{"quantity": 1, "unit_price": Decimal("-1")}]}, Code.INVALID),
        ({"billing_day_of_month": 32}, Code.INVALID),
        ({"renewal_uplift_percent": Decimal(-100)}, Code.INVALID),
        ({"account_id": 987_654}, Code.NOT_FOUND),
    ],
    ids=[
        "term-and-end-date",
        "end-before-start",
        "zero-term",
        "quantity-0",
        "quantity-negative",
        "second-line-quantity-0",
        "unknown-product",
        "no-lines",
        "negative-price",
        "bdom-32",
        "uplift-minus-100",
        "unknown-account",
    ],
)
async def test_create_contract_refuses_bad_input(changes: dict[str, Any], code: Code) -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account()  # no billing day yet: a refused contract must not set it
    seats = await factory.product()
    lines = (
        [LineInput(**{"product_id": seats.id, **line}) for line in changes.pop("lines", [{}])]
        if "lines" in changes
        else [LineInput(product_id=seats.id, quantity=1)]
    )
    data: dict[str, Any] = {
        "account_id": acme.id,
        "start_date": date(2026, 3, 10),
        "term_months": 12,
        "lines": lines,
        **changes,
    }
    await refused(create_contract(SYSTEM, ContractInput(**data)), code)
    assert (await Account.get(id=acme.id)).billing_day_of_month is None


async def test_a_draft_order_and_its_draft_contract_are_cancelled() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product()
    contract, order = await factory.contract(acme, seats, date(2026, 3, 10), activate=False)
    await cancel_order(SYSTEM, order.id)
    assert (await Order.get(id=order.id)).status is OrderStatus.CANCELLED
    assert (await Contract.get(id=contract.id)).status is ContractStatus.CANCELLED
    assert await ScheduleLine.all().count() == 0
    await refused(cancel_order(SYSTEM, order.id), Code.INVALID_STATE)
    await refused(activate_order(SYSTEM, order.id), Code.INVALID_STATE)


async def test_an_activated_order_cannot_be_cancelled() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product()
    _, order = await factory.contract(acme, seats, date(2026, 3, 10))
    await refused(cancel_order(SYSTEM, order.id), Code.INVALID_STATE)
    await refused(cancel_order(SYSTEM, 555_555), Code.NOT_FOUND)


async def _po_hold(order_id: int) -> BillingHold | None:
    return await BillingHold.filter(
        order_id=order_id, source=HoldSource.PURCHASE_ORDER_RULE
    ).first()


@pytest.mark.parametrize("activate_later", [False, True], ids=["at-creation", "draft-activated"])
async def test_an_order_without_a_required_purchase_order_is_held(activate_later: bool) -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1, requires_purchase_order=True)
    seats = await factory.product("30.00")
    contract, order = await factory.contract(
        acme, seats, date(2026, 3, 1), activate=not activate_later
    )
    if activate_later:
        assert await _po_hold(order.id) is None
        await activate_order(SYSTEM, order.id)
    hold = await _po_hold(order.id)
    assert hold is not None and hold.released_at is None
    assert (hold.scope, hold.account_id, hold.contract_id) == (
        HoldScope.ORDER,
        acme.id,
        contract.id,
    )
    assert await factory.bill(acme, date(2026, 3, 1)) is None

    await set_purchase_order_number(SYSTEM, order.id, " PO-77 ")
    assert (await Order.get(id=order.id)).purchase_order_number == "PO-77"
    assert (await BillingHold.get(id=hold.id)).released_at is not None
    invoice = await factory.bill(acme, date(2026, 3, 1))
    assert invoice is not None and invoice.total == Decimal("30.00")


@pytest.mark.parametrize(
    ("price", "po_number"),
    [("30.00", "PO-1"), ("0.00", None)],
    ids=["purchase-order-given", "nothing-to-pay"],
)
async def test_no_purchase_order_hold_when_none_is_needed(
    price: str, po_number: str | None
) -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1, requires_purchase_order=True)
    seats = await factory.product(price)
    _, _ = await factory.contract(acme, seats, date(2026, 3, 1), purchase_order_number=po_number)
    assert await BillingHold.all().count() == 0
    invoice = await factory.bill(acme, date(2026, 3, 1))
    assert invoice is not None and invoice.total == Decimal(price)


async def test_set_purchase_order_number_refuses_bad_input() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1, requires_purchase_order=True)
    seats = await factory.product()
    _, draft = await factory.contract(acme, seats, date(2026, 3, 1), activate=False)
    await cancel_order(SYSTEM, draft.id)
    await refused(set_purchase_order_number(SYSTEM, draft.id, "PO-1"), Code.INVALID_STATE)
    await refused(set_purchase_order_number(SYSTEM, 777_777, "PO-1"), Code.NOT_FOUND)
    _, order = await factory.contract(acme, seats, date(2026, 3, 1))
    await refused(set_purchase_order_number(SYSTEM, order.id, "  "), Code.INVALID)
    hold = await _po_hold(order.id)
    assert hold is not None and hold.released_at is None


async def test_a_yearly_price_billed_monthly_sums_exactly() -> None:
    # spec section 4: 1,000.00 a year billed monthly sums to 1,000.00, not 999.96
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    platform = await factory.product("1000.00", term=12, name="Platform")
    _, order = await factory.contract(acme, platform, date(2026, 3, 1))
    (op,) = await factory.order_products(order)
    amounts = [a for *_, a in await factory.schedule(op)]
    assert amounts[:3] == [Decimal("83.33"), Decimal("83.34"), Decimal("83.33")]
    assert sum(amounts) == Decimal("1000.00") == op.total_amount


async def test_a_rounding_tie_is_decided_on_the_exact_running_total() -> None:
    # spec section 1: 103.00 a year billed monthly reaches an exact running total of
    # 28.325 (9/30 of April, then May, June, July), which rounds half up to 28.33
    factory.pin_today(date(2026, 4, 1))
    acme = await factory.account(billing_day_of_month=1)
    platform = await factory.product("103.00", term=12, name="Platform")
    _, order = await factory.contract(acme, platform, date(2026, 4, 22))
    (op,) = await factory.order_products(order)
    amounts = [a for *_, a in await factory.schedule(op)]
    assert amounts[:4] == [Decimal("2.58"), Decimal("8.58"), Decimal("8.58"), Decimal("8.59")]
    assert sum(amounts[:4]) == Decimal("28.33")
    assert sum(amounts) == Decimal("103.00")

"""Amendments and contract cancellation: the quote is the invoice (spec section 5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from orbit.db.models import (
    BillingHold,
    Contract,
    ContractLine,
    DocumentType,
    Invoice,
    Order,
    OrderProduct,
    OrderStatus,
    OrderType,
    ScheduleLine,
)
from orbit.engine.amendments import AmendmentPlan
from orbit.engine.enums import BillingFrequency, ChargeType, ContractStatus
from orbit.engine.schedule import Line
from orbit.services.amendments import (
    AmendmentInput,
    ChangeInput,
    amend_contract,
    cancel_contract,
    preview_amendment,
    preview_cancellation,
)
from orbit.services.errors import Code, DomainError
from orbit.services.schedules import rational_text
from tests.services import factory
from tests.services.factory import SYSTEM, d, refused

Row = tuple[date, date, date, Decimal, str]


def planned(lines: tuple[Line, ...] | list[Line]) -> list[Row]:
    return [(ln.start, ln.end, ln.due, ln.amount, rational_text(ln.value)) for ln in lines]


async def stored(op_id: int, credits: bool | None = None) -> list[Row]:
    query = ScheduleLine.filter(order_product_id=op_id, removed=False)
    if credits is not None:
        query = query.filter(is_credit=credits)
    rows = await query.order_by("period_start", "is_credit", "id")
    return [(r.period_start, r.period_end, r.due_date, r.amount, r.value) for r in rows]


class SpecContract:
    """Spec section 5: BDOM 10, 30.00 a unit a month, quantity 2, 2026-03-10 for a year,
    billed through the 06-10 run."""

    def __init__(self) -> None:
        self.account: Any = None
        self.contract: Contract
        self.line: ContractLine
        self.original: OrderProduct

    async def build(self) -> SpecContract:
        factory.pin_today(date(2026, 3, 10))
        self.account = await factory.account(billing_day_of_month=10)
        seats = await factory.product("30.00")
        self.contract, order = await factory.contract(
            self.account, seats, date(2026, 3, 10), quantity=2
        )
        (self.original,) = await factory.order_products(order)
        self.line = await ContractLine.get(contract_id=self.contract.id)
        catch_up = await factory.bill(self.account, date(2026, 6, 10))
        assert catch_up is not None and catch_up.total == Decimal("240.00")
        return self

    def change(self, quantity: int, effective: date, **kwargs: Any) -> AmendmentInput:
        return AmendmentInput(
            self.contract.id,
            effective,
            [ChangeInput(quantity=quantity, contract_line_id=self.line.id)],
            **kwargs,
        )


@pytest.fixture
async def spec() -> SpecContract:
    return await SpecContract().build()


async def _plus_three(spec: SpecContract) -> tuple[AmendmentPlan, OrderProduct]:
    factory.pin_today(date(2026, 6, 20))
    preview = await preview_amendment(SYSTEM, spec.change(5, date(2026, 6, 20)))
    _, order, applied = await amend_contract(SYSTEM, spec.change(5, date(2026, 6, 20)))
    assert applied == preview.plan
    (delta,) = await factory.order_products(order)
    return preview.plan, delta


async def test_plus_three_units_mid_cycle_arrive_on_the_next_regular_invoice(
    spec: SpecContract,
) -> None:
    plan, delta = await _plus_three(spec)
    (change,) = plan.deltas
    assert (change.quantity_before, change.quantity_after, change.quantity_delta) == (2, 5, 3)
    assert plan.total == Decimal("780.00")
    assert planned(change.schedule)[:2] == [
        (d("2026-06-20"), d("2026-07-09"), d("2026-07-10"), Decimal("60.00"), "60/1"),
        (d("2026-07-10"), d("2026-08-09"), d("2026-07-10"), Decimal("90.00"), "90/1"),
    ]
    assert len(change.schedule) == 9
    # the quote is the invoice: the stored schedule is the preview's, line by line
    assert await stored(delta.id) == planned(change.schedule)
    assert (delta.quantity, delta.start_date, delta.end_date) == (
        3,
        d("2026-06-20"),
        d("2027-03-09"),
    )
    assert delta.total_amount == Decimal("780.00")
    order = await Order.get(id=delta.order_id)
    assert (order.type, order.status, order.effective_date) == (
        OrderType.AMENDMENT,
        OrderStatus.ACTIVATED,
        d("2026-06-20"),
    )

    invoice = await factory.bill(spec.account, date(2026, 7, 10))
    assert invoice is not None and invoice.total == Decimal("210.00")
    assert sorted(a for *_, a in await factory.document_lines(invoice)) == [
        Decimal("60.00"),
        Decimal("60.00"),
        Decimal("90.00"),
    ]


async def test_cancelling_the_line_credits_the_billed_days_after_the_cut(
    spec: SpecContract,
) -> None:
    _, delta = await _plus_three(spec)
    assert (await factory.bill(spec.account, date(2026, 7, 10))).total == Decimal("210.00")
    assert (await factory.bill(spec.account, date(2026, 8, 10))).total == Decimal("150.00")

    factory.pin_today(date(2026, 8, 12))
    cancel = spec.change(0, date(2026, 8, 20))
    preview = (await preview_amendment(SYSTEM, cancel)).plan
    assert preview.total == Decimal("-1001.62")
    assert preview.deltas == ()
    by_op = {t.order_product.key: t.termination for t in preview.terminations}
    assert set(by_op) == {spec.original.id, delta.id}
    for op_id, credit, removed in [
        (spec.original.id, "-40.65", "-360.00"),
        (delta.id, "-60.97", "-540.00"),
    ]:
        termination = by_op[op_id]
        assert termination.cut == d("2026-08-19")
        assert termination.credit_line is not None
        assert (
            termination.credit_line.start,
            termination.credit_line.end,
            termination.credit_line.due,
            termination.credit_line.amount,
        ) == (d("2026-08-20"), d("2026-09-09"), d("2026-09-10"), Decimal(credit))
        assert [s.line.start for s in termination.removed] == [
            d("2026-09-10"),
            d("2026-10-10"),
            d("2026-11-10"),
            d("2026-12-10"),
            d("2027-01-10"),
            d("2027-02-10"),
        ]
        assert -sum(s.line.amount for s in termination.removed) == Decimal(removed)
        assert termination.cut_line is None

    _, _, applied = await amend_contract(SYSTEM, cancel)
    assert applied == preview
    for op_id in (spec.original.id, delta.id):
        credit_line = by_op[op_id].credit_line
        assert credit_line is not None
        assert await stored(op_id, credits=True) == planned([credit_line])
        assert all(start < d("2026-09-10") for start, *_ in await stored(op_id, credits=False))
        op = await OrderProduct.get(id=op_id)
        assert op.end_date == d("2026-08-19")
    assert await ScheduleLine.filter(removed=True).count() == 12
    line = await ContractLine.get(id=spec.line.id)
    assert (line.cancelled, line.end_date) == (True, d("2026-08-19"))
    assert (await Contract.get(id=spec.contract.id)).status is ContractStatus.ACTIVE

    note = await factory.bill(spec.account, date(2026, 9, 10))
    assert note is not None
    assert (note.document_type, note.total) == (DocumentType.CREDIT_NOTE, Decimal("-101.62"))
    assert await factory.bill(spec.account, date(2027, 3, 10)) is None
    # over the contract's life: 720.00 + 780.00 - 1,001.62
    totals = await Invoice.all().values_list("total", flat=True)
    assert sum(totals) == Decimal("498.38")


async def test_a_reduction_within_a_billed_period_is_a_credit(spec: SpecContract) -> None:
    factory.pin_today(date(2026, 6, 20))
    _, order, plan = await amend_contract(SYSTEM, spec.change(1, date(2026, 6, 20)))
    assert plan.total == Decimal("-260.00")  # -20.00 then eight periods of -30.00
    (delta,) = await factory.order_products(order)
    lines = await stored(delta.id)
    assert lines[0][:4] == (d("2026-06-20"), d("2026-07-09"), d("2026-07-10"), Decimal("-20.00"))
    invoice = await factory.bill(spec.account, date(2026, 7, 10))
    # 60.00 for July at two units, -20.00 for June's ten days and -30.00 for July
    assert invoice is not None and invoice.total == Decimal("10.00")


async def test_a_new_product_mid_cycle_is_aligned_with_the_contract(spec: SpecContract) -> None:
    support = await factory.product("12.00", name="Support")
    data = AmendmentInput(
        spec.contract.id,
        date(2026, 6, 25),
        [ChangeInput(quantity=1, product_id=support.id, unit_price=Decimal("15.00"))],
    )
    preview = (await preview_amendment(SYSTEM, data)).plan
    _, order, _ = await amend_contract(SYSTEM, data)
    (op,) = await factory.order_products(order)
    assert op.unit_price == Decimal("15.00")
    assert (op.billing_day_of_month, op.series_anchor) == (10, d("2026-03-10"))
    lines = await stored(op.id)
    assert lines == planned(preview.deltas[0].schedule)
    # 15 of June's 30 days at 15.00, due on the next billing date
    assert lines[0][:4] == (d("2026-06-25"), d("2026-07-09"), d("2026-07-10"), Decimal("7.50"))
    assert await ContractLine.filter(contract_id=spec.contract.id).count() == 2


async def test_an_unaligned_product_gets_its_own_series(spec: SpecContract) -> None:
    support = await factory.product("31.00", name="Support")
    data = AmendmentInput(
        spec.contract.id,
        date(2026, 6, 25),
        [ChangeInput(quantity=1, product_id=support.id)],
        align_billing=False,
    )
    _, order, plan = await amend_contract(SYSTEM, data)
    (op,) = await factory.order_products(order)
    assert (op.billing_day_of_month, op.series_anchor, op.align_billing) == (
        25,
        d("2026-06-25"),
        False,
    )
    lines = await stored(op.id)
    assert lines == planned(plan.deltas[0].schedule)
    assert lines[0][:4] == (d("2026-06-25"), d("2026-07-24"), d("2026-06-25"), Decimal("31.00"))
    # the last line runs to the contract end: 2027-02-25..03-09, 13/28 of a period
    assert lines[-1][:4] == (d("2027-02-25"), d("2027-03-09"), d("2027-02-25"), Decimal("14.39"))


async def test_an_amendment_without_a_required_purchase_order_is_held(
    spec: SpecContract,
) -> None:
    from orbit.services.accounts import AccountChanges, update_account

    await update_account(SYSTEM, spec.account.id, AccountChanges(requires_purchase_order=True))
    _, held, _ = await amend_contract(SYSTEM, spec.change(5, date(2026, 6, 20)))
    assert await BillingHold.filter(order_id=held.id).count() == 1
    invoice = await factory.bill(spec.account, date(2026, 7, 10))
    assert invoice is not None and invoice.total == Decimal("60.00")  # the original only


async def test_cancel_contract_ends_every_line(spec: SpecContract) -> None:
    factory.pin_today(date(2026, 6, 15))
    preview = (await preview_cancellation(SYSTEM, spec.contract.id, date(2026, 6, 20))).plan
    # 06-10..07-09 was billed: its 20 days after the cut are credited; 8 lines removed
    assert preview.total == Decimal("-520.00")
    contract, order, applied = await cancel_contract(SYSTEM, spec.contract.id, date(2026, 6, 20))
    assert applied == preview
    assert (contract.status, contract.end_date, contract.notice_deadline) == (
        ContractStatus.CANCELLED,
        d("2026-06-19"),
        None,
    )
    stored_contract = await Contract.get(id=spec.contract.id)
    assert (stored_contract.status, stored_contract.end_date) == (
        ContractStatus.CANCELLED,
        d("2026-06-19"),
    )
    assert (await ContractLine.get(id=spec.line.id)).end_date == d("2026-06-19")
    assert (await Order.get(id=order.id)).type is OrderType.AMENDMENT
    credit = await stored(spec.original.id, credits=True)
    # due on E: the next billing date (07-10) is after the new end
    credit_line = preview.terminations[0].termination.credit_line
    assert credit_line is not None and credit == planned([credit_line])
    assert credit[0][:4] == (d("2026-06-20"), d("2026-07-09"), d("2026-06-20"), Decimal("-40.00"))
    note = await factory.bill(spec.account, date(2026, 6, 20))
    assert note is not None and note.total == Decimal("-40.00")
    assert await factory.bill(spec.account, date(2027, 3, 10)) is None
    await refused(cancel_contract(SYSTEM, spec.contract.id, date(2026, 6, 25)), Code.INVALID_STATE)


async def test_an_evergreen_amendment_has_no_lifetime_total() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 3, 1), months=None)
    line = await ContractLine.get(contract_id=contract.id)
    data = AmendmentInput(
        contract.id, date(2026, 4, 1), [ChangeInput(quantity=2, contract_line_id=line.id)]
    )
    preview = (await preview_amendment(SYSTEM, data)).plan
    assert preview.total is None
    assert preview.bounded_total == Decimal("360.00")  # through 2027-03-31
    _, amendment, _ = await amend_contract(SYSTEM, data)
    (delta,) = await factory.order_products(amendment)
    assert delta.total_amount is None and delta.end_date is None
    rows = await stored(delta.id)
    assert rows[:12] == planned(preview.deltas[0].schedule)
    assert rows[0][:4] == (d("2026-04-01"), d("2026-04-30"), d("2026-04-01"), Decimal("30.00"))


def _change(**kwargs: Any) -> dict[str, Any]:
    return kwargs


# "LINE" stands for the contract's recurring line, "SETUP" for its one-time line,
# "GONE" for a line already cancelled, "PRODUCT" for a catalog product.
BAD_AMENDMENTS = [
    ("negative-quantity", [_change(quantity=-1, line="LINE")], "2026-06-20", Code.INVALID),
    (
        "new-product-quantity-0",
        [_change(quantity=0, product="PRODUCT")],
        "2026-06-20",
        Code.INVALID,
    ),
    (
        "price-on-a-line",
        [_change(quantity=3, line="LINE", unit_price=Decimal(1))],
        "2026-06-20",
        Code.INVALID,
    ),
    (
        "frequency-on-a-line",
        [_change(quantity=3, line="LINE", billing_frequency=BillingFrequency.ANNUAL)],
        "2026-06-20",
        Code.INVALID,
    ),
    ("unchanged-quantity", [_change(quantity=2, line="LINE")], "2026-06-20", Code.INVALID),
    ("one-time-line", [_change(quantity=2, line="SETUP")], "2026-06-20", Code.INVALID),
    ("cancelled-line", [_change(quantity=2, line="GONE")], "2026-06-20", Code.INVALID),
    (
        "line-named-twice",
        [_change(quantity=3, line="LINE"), _change(quantity=4, line="LINE")],
        "2026-06-20",
        Code.INVALID,
    ),
    ("no-changes", [], "2026-06-20", Code.INVALID),
    ("before-start", [_change(quantity=3, line="LINE")], "2026-03-09", Code.OUT_OF_RANGE),
    ("after-end", [_change(quantity=3, line="LINE")], "2027-03-10", Code.OUT_OF_RANGE),
    ("before-latest-amendment", [_change(quantity=3, line="LINE")], "2026-05-31", Code.CONFLICT),
    ("unknown-product", [_change(quantity=1, product=123_456)], "2026-06-20", Code.NOT_FOUND),
    ("unknown-line", [_change(quantity=1, line=123_456)], "2026-06-20", Code.NOT_FOUND),
]


@pytest.mark.parametrize(
    ("changes", "effective", "code"),
    [case[1:] for case in BAD_AMENDMENTS],
    ids=[case[0] for case in BAD_AMENDMENTS],
)
async def test_bad_amendments_are_refused_and_write_nothing(
    spec: SpecContract, changes: list[dict[str, Any]], effective: str, code: Code
) -> None:
    setup = await factory.product("100.00", charge_type=ChargeType.ONE_TIME, name="Setup")
    extra = await factory.product("5.00", name="Extra")
    _, setup_order, _ = await amend_contract(
        SYSTEM,
        AmendmentInput(
            spec.contract.id,
            date(2026, 6, 1),
            [
                ChangeInput(quantity=1, product_id=setup.id),
                ChangeInput(quantity=1, product_id=extra.id),
            ],
        ),
    )
    setup_op, extra_op = await factory.order_products(setup_order)
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            spec.contract.id,
            date(2026, 6, 2),
            [ChangeInput(quantity=0, contract_line_id=extra_op.contract_line_id)],
        ),
    )
    names = {
        "LINE": spec.line.id,
        "SETUP": setup_op.contract_line_id,
        "GONE": extra_op.contract_line_id,
        "PRODUCT": extra.id,
    }
    items = []
    for change in changes:
        item = dict(change)
        if "line" in item:
            item["contract_line_id"] = names.get(item.pop("line"), change["line"])
        if "product" in item:
            item["product_id"] = names.get(item.pop("product"), change["product"])
        items.append(ChangeInput(**item))
    data = AmendmentInput(spec.contract.id, date.fromisoformat(effective), items)
    with pytest.raises(DomainError) as previewed:
        await preview_amendment(SYSTEM, data)
    assert previewed.value.code is code
    await refused(amend_contract(SYSTEM, data), code)


async def test_a_contract_that_is_not_active_cannot_be_amended(spec: SpecContract) -> None:
    await cancel_contract(SYSTEM, spec.contract.id, date(2026, 7, 10))
    await refused(amend_contract(SYSTEM, spec.change(3, date(2026, 6, 20))), Code.INVALID_STATE)
    await refused(
        amend_contract(
            SYSTEM,
            AmendmentInput(
                987_654, date(2026, 6, 20), [ChangeInput(quantity=1, contract_line_id=spec.line.id)]
            ),
        ),
        Code.NOT_FOUND,
    )


async def test_a_line_cancelled_on_the_day_its_delta_starts_leaves_the_contract_amendable(
    spec: SpecContract,
) -> None:
    _, plus, _ = await amend_contract(SYSTEM, spec.change(5, date(2026, 6, 20)))
    (delta,) = await factory.order_products(plus)
    _, _, cancelled = await amend_contract(SYSTEM, spec.change(0, date(2026, 6, 20)))
    # the delta never started: all of it is removed (-780.00); the original's billed
    # 06-10..07-09 is credited for 20 days (-40.00) and its eight later lines removed
    assert cancelled.total == Decimal("-780.00") - Decimal("40.00") - Decimal("480.00")
    assert await stored(delta.id) == []
    support = await factory.product("10.00", name="Support")
    data = AmendmentInput(
        spec.contract.id, date(2026, 7, 1), [ChangeInput(quantity=1, product_id=support.id)]
    )
    preview = (await preview_amendment(SYSTEM, data)).plan
    # 07-01..07-09 (9/30 of 10.00), then eight periods to 2027-03-09
    assert preview.total == Decimal("83.00")
    _, _, applied = await amend_contract(SYSTEM, data)
    assert applied == preview


async def test_a_contract_cancelled_on_its_start_date_refuses_further_changes() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 3, 1))
    _, _, plan = await cancel_contract(SYSTEM, contract.id, date(2026, 3, 1))
    assert plan.total == Decimal("-360.00")
    await refused(cancel_contract(SYSTEM, contract.id, date(2026, 3, 1)), Code.INVALID_STATE)


@pytest.mark.parametrize(
    ("effective", "due"),
    [("2026-06-25", "2026-07-10"), ("2026-07-10", "2026-07-10"), ("2027-03-01", "2027-03-01")],
    ids=["mid-cycle", "on-the-billing-day", "no-billing-date-left"],
)
async def test_a_one_time_product_added_by_amendment_comes_due_on_a_billing_date(
    spec: SpecContract, effective: str, due: str
) -> None:
    setup = await factory.product("250.00", charge_type=ChargeType.ONE_TIME, name="Training")
    data = AmendmentInput(
        spec.contract.id, d(effective), [ChangeInput(quantity=2, product_id=setup.id)]
    )
    _, order, plan = await amend_contract(SYSTEM, data)
    (op,) = await factory.order_products(order)
    assert await stored(op.id) == planned(plan.deltas[0].schedule)
    assert (await factory.schedule(op))[0] == (
        d(effective),
        d(effective),
        d(due),
        Decimal("500.00"),
    )
    assert plan.total == Decimal("500.00")


async def test_a_product_already_on_the_contract_gets_a_new_line(spec: SpecContract) -> None:
    seats = await spec.line.product
    data = AmendmentInput(
        spec.contract.id,
        date(2026, 6, 10),
        [ChangeInput(quantity=1, product_id=seats.id, unit_price=Decimal("25.00"))],
    )
    _, order, plan = await amend_contract(SYSTEM, data)
    lines = await ContractLine.filter(contract_id=spec.contract.id).order_by("id")
    assert [(ln.product_id, ln.unit_price) for ln in lines] == [
        (seats.id, Decimal("30.00")),
        (seats.id, Decimal("25.00")),
    ]
    (op,) = await factory.order_products(order)
    assert op.contract_line_id == lines[1].id
    assert plan.total == Decimal("225.00")  # nine periods from 06-10 at 25.00

"""Each day credited at most once (spec section 12): what a credit without rebill
leaves to give back after a termination, and what a reduction gives back after a
credit without rebill.

Section 4's schedule: BDOM 1, 2 x 30.00 a month from 2026-03-10 to 2027-03-09,
i.e. 42.58 (22/31), 11 x 60.00, 17.42 (9/31).
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from orbit.engine.amendments import (
    Change,
    ContractLineState,
    OrderProductState,
    ProductInfo,
    closed_days,
    give_nothing_back,
    plan_amendment,
    reclose,
)
from orbit.engine.calendar import ONE_DAY
from orbit.engine.enums import BillingFrequency, BillingType, ChargeType
from orbit.engine.schedule import build_schedule
from orbit.engine.terminations import credit_share, left_to_credit, terminate
from tests.engine.support import (
    amounts,
    contract,
    day,
    product,
    section_4,
    spans,
    stored,
    terms,
    with_line,
)

CREDIT_DUE = day("2026-08-01")


def _days(first: str, last: str) -> set[date]:
    start, end = day(first), day(last)
    return {start + ONE_DAY * n for n in range((end - start).days + 1)}


def test_a_credit_line_is_shared_along_its_days_by_cumulative_rounding() -> None:
    """Billed through August; cut 07-10: July's 21 days after the cut and August are
    credited together, -round(60 x 21/31 + 60) = -100.65. July's share is
    round(-40.645) = -40.65, August's the rest, -60.00."""
    op = section_4()
    result = terminate(op, stored(build_schedule(op), billed=6), day("2026-07-10"), CREDIT_DUE)
    credit = result.credit_line
    assert credit is not None and credit.amount == Decimal("-100.65")
    july = credit_share(credit, day("2026-07-01"), day("2026-07-31"), "USD")
    august = credit_share(credit, day("2026-08-01"), day("2026-08-31"), "USD")
    assert (july, august) == (Decimal("-40.65"), Decimal("-60.00"))
    assert july + august == credit.amount
    assert credit_share(credit, day("2026-06-01"), day("2026-06-30"), "USD") == 0


def test_what_is_left_to_credit_after_a_termination() -> None:
    """July (60.00) billed, cut 07-10: 40.65 of it was credited for 07-11..07-31, so a
    credit without rebill gives back 19.35 for 07-01..07-10; August (60.00) was
    credited whole and has nothing left; June was not touched."""
    op = section_4()
    lines = build_schedule(op)
    result = terminate(op, stored(lines, billed=6), day("2026-07-10"), CREDIT_DUE)
    assert result.credit_line is not None
    credits = [result.credit_line]
    june, july, august = lines[3], lines[4], lines[5]
    left = left_to_credit(july, credits, "USD")
    assert left is not None
    assert (left.start, left.end, left.amount) == (
        day("2026-07-01"),
        day("2026-07-10"),
        Decimal("19.35"),
    )
    assert left_to_credit(august, credits, "USD") is None
    whole = left_to_credit(june, credits, "USD")
    assert whole is not None and (whole.start, whole.end, whole.amount) == (
        june.start,
        june.end,
        june.amount,
    )


def _line(*ops: OrderProductState) -> ContractLineState:
    product = ProductInfo(
        "p",
        ChargeType.RECURRING,
        Decimal("30.00"),
        1,
        BillingFrequency.MONTHLY,
        BillingType.ADVANCE,
    )
    return ContractLineState(
        "line",
        product,
        ChargeType.RECURRING,
        Decimal("30.00"),
        1,
        BillingFrequency.MONTHLY,
        BillingType.ADVANCE,
        ops,
    )


def test_a_day_is_closed_when_every_order_product_in_effect_gave_it_back() -> None:
    """The original (2 seats) has March..May billed and April credited without
    rebill; +1 seat from 04-16 billed April's 04-16..04-30 and was not credited:
    only 04-01..04-15 is closed."""
    original = section_4()
    extra = terms("2026-04-16", "2027-03-09", bdom=1, anchored_from="2026-03-10")
    line = _line(
        OrderProductState(
            "a", original, tuple(stored(build_schedule(original), billed=3, reversed=[1]))
        ),
        OrderProductState("b", extra, tuple(stored(build_schedule(extra), billed=1))),
    )
    assert closed_days(line) == _days("2026-04-01", "2026-04-15")
    alone = _line(line.order_products[0])
    assert closed_days(alone) == _days("2026-04-01", "2026-04-30")


def test_a_reduction_gives_nothing_back_for_closed_days() -> None:
    """-1 seat from 04-16: its first line 04-16..04-30 is worth nothing while April is
    closed; the next lines are rounded on as before."""
    reduction = terms("2026-04-16", "2027-03-09", bdom=1, quantity=-1, price="30.00")
    lines = build_schedule(reduction)
    assert amounts(lines[:2]) == ["-15.00", "-30.00"]
    closed = _days("2026-04-01", "2026-04-20")
    reduced = give_nothing_back(lines, closed, "USD")
    assert spans(reduced[:2]) == spans(lines[:2])
    assert amounts(reduced[:2]) == ["-10.00", "-30.00"]
    assert reduced[0].value == Fraction(-10)
    assert give_nothing_back(lines, set(), "USD") == lines


def test_a_reduction_planned_after_a_credit_without_rebill() -> None:
    """5 seats at 10.00 from 2026-01-01 on day 1; January..March billed, February
    credited without rebill. Down to 3 seats from 02-15: 02-15..02-28 is closed, so
    the reduction's first line gives nothing back; March gives back -20.00."""
    state = with_line(
        contract("2026-01-01", "2026-12-31", bdom=1), "seats", product("s", price="10.00"), 5
    )
    (op,) = state.lines[0].order_products
    items = tuple(stored(build_schedule(op.terms), billed=3, reversed=[1]))
    line = replace(state.lines[0], order_products=(OrderProductState(op.key, op.terms, items),))
    state = replace(state, lines=(line,))
    plan = plan_amendment(state, [Change(3, line=line.key)], day("2026-02-15"))
    (delta,) = plan.deltas
    assert spans(delta.schedule[:2]) == [("2026-02-15", "2026-02-28"), ("2026-03-01", "2026-03-31")]
    assert amounts(delta.schedule[:2]) == ["0.00", "-20.00"]
    assert plan.total == Decimal("-200.00")


def test_reclose_values_unbilled_lines_again_and_gives_back_billed_ones() -> None:
    reduction = terms("2026-04-16", "2027-03-09", bdom=1, quantity=-1, price="30.00")
    lines = build_schedule(reduction)
    closed = _days("2026-04-01", "2026-05-31")
    # the first line (April's -15.00) billed; May's not yet
    result = reclose(reduction, stored(lines, billed=1), closed)
    assert [s.line.start for s in result.given_back] == [day("2026-04-16")]
    ((item, may),) = result.revalued
    assert item.line.start == day("2026-05-01") and may.amount == Decimal("0.00")
    # nothing closed: nothing changes
    assert reclose(reduction, stored(lines, billed=1), set()).revalued == ()


def test_a_line_without_order_products_has_no_closed_days() -> None:
    assert closed_days(_line()) == set()

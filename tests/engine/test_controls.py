"""Billing-date controls: bill-through cuts, change of billing day, override
targets (spec section 6)."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from orbit.engine.calendar import ONE_DAY
from orbit.engine.controls import (
    OverrideTarget,
    billing_day_change_start,
    contract_override_targets,
    new_series_after_change,
    plan_bill_through,
    plan_join,
    plan_recut,
)
from orbit.engine.enums import BillingType
from orbit.engine.errors import Code, EngineError
from orbit.engine.lines import exact_before, join_lines, split_line
from orbit.engine.money import round_money
from orbit.engine.schedule import Line, build_schedule, extend_schedule
from orbit.engine.series import BillingSeries
from tests.engine.support import (
    amounts,
    day,
    dues,
    exact_total,
    fractions,
    section_4,
    spans,
    stored,
    terms,
    total,
)


def cut_through(op, through: str, *, billed: int):
    return plan_bill_through(op, stored(build_schedule(op), billed=billed), day(through))


# --- bill-through -------------------------------------------------------------


def test_bill_through_cuts_the_first_unbilled_line_in_two() -> None:
    """The 42.58 line (1320/31) cut after 03-20: 11 days each side, 660/31 each;
    21.29 and, rounded on, 42.58 - 21.29 = 21.29."""
    result = cut_through(section_4(), "2026-03-20", billed=0)

    assert spans([result.head, result.tail]) == [
        ("2026-03-10", "2026-03-20"),
        ("2026-03-21", "2026-03-31"),
    ]
    assert [result.head.value, result.tail.value] == [Fraction(660, 31)] * 2
    assert amounts([result.head, result.tail]) == ["21.29", "21.29"]
    assert dues([result.head, result.tail]) == ["2026-03-10", "2026-03-21"]


def test_bill_through_rounds_on_from_the_lines_before() -> None:
    """July after four billed lines (exact 222.5806): 10/31 of 60.00 is 19.3548,
    rounded on 19.36; the tail takes 40.64 so July still totals 60.00."""
    result = cut_through(section_4(), "2026-07-10", billed=4)

    assert spans([result.replaced.line]) == [("2026-07-01", "2026-07-31")]
    assert amounts([result.head, result.tail]) == ["19.36", "40.64"]
    assert result.head.amount + result.tail.amount == result.replaced.line.amount


def test_bill_through_in_arrears_moves_the_head_due_date() -> None:
    result = cut_through(section_4(billing=BillingType.ARREARS), "2026-03-20", billed=0)

    assert dues([result.head, result.tail]) == ["2026-03-21", "2026-04-01"]


@pytest.mark.parametrize("through", ["2026-03-31", "2026-03-09", "2026-04-15"])
def test_bill_through_must_fall_inside_the_next_unbilled_line(through: str) -> None:
    with pytest.raises(EngineError) as raised:
        cut_through(section_4(), through, billed=0)

    assert raised.value.code is Code.OUT_OF_RANGE
    assert raised.value.problems[0].field == ("billThroughDate",)


def test_a_fully_billed_order_product_cannot_be_cut() -> None:
    with pytest.raises(EngineError) as raised:
        cut_through(section_4(), "2027-03-05", billed=13)

    assert raised.value.code is Code.INVALID_STATE


def credit_for(line: Line, first: str) -> Line:
    """A credit line for the days of ``line`` from ``first`` on."""
    parts = line.portion(day(first), line.end)
    value = sum(p.value for p in parts)
    return Line(
        parts[0].start,
        line.end,
        line.end + ONE_DAY,
        tuple(p.negated() for p in parts),
        -round_money(value, "USD"),
        is_credit=True,
    )


def test_bill_through_skips_credit_lines_and_rounds_on_from_regular_lines() -> None:
    """March (1320/31) and April billed, then a credit for 03-11..03-31; May cut
    after 05-01: 60/31 = 1.9355, rounded on from 102.5806 (not from 102.5806
    minus the credit): 104.52 - 102.58 = 1.94, and 58.06."""
    op = section_4()
    lines = build_schedule(op)
    credit = credit_for(lines[0], "2026-03-11")
    items = stored([lines[0], lines[1], credit, *lines[2:]], billed=3)

    result = plan_bill_through(op, items, day("2026-05-01"))

    assert exact_before(items, 3) == lines[0].value + lines[1].value
    assert spans([result.replaced.line]) == [("2026-05-01", "2026-05-31")]
    assert amounts([result.head, result.tail]) == ["1.94", "58.06"]


def test_clearing_joins_the_two_parts_back() -> None:
    op = section_4()
    lines = build_schedule(op)
    cut = plan_bill_through(op, stored(lines, billed=4), day("2026-07-10"))
    after = [*lines[:4], cut.head, cut.tail, *lines[5:]]

    joined = plan_join(op, stored(after, billed=4), day("2026-07-10"))

    assert joined.replaced == tuple(stored(after, billed=4)[4:6])
    line = joined.joined
    original = lines[4]
    assert (line.start, line.end, line.due, line.amount) == (
        original.start,
        original.end,
        original.due,
        original.amount,
    )
    assert (line.value, line.fraction) == (original.value, original.fraction)


def test_parts_already_billed_are_not_joined() -> None:
    op = section_4()
    lines = build_schedule(op)
    cut = plan_bill_through(op, stored(lines, billed=4), day("2026-07-10"))
    after = [*lines[:4], cut.head, cut.tail, *lines[5:]]

    assert plan_join(op, stored(after, billed=5), day("2026-07-10")) is None
    assert plan_join(op, stored(after, billed=4), day("2026-07-12")) is None


def test_split_and_join_refuse_impossible_cuts() -> None:
    line = build_schedule(section_4())[1]
    with pytest.raises(ValueError, match="not inside"):
        split_line(line, line.end, Fraction(0), "USD", BillingType.ADVANCE)
    with pytest.raises(ValueError, match="adjacent"):
        join_lines(line, line, Fraction(0), "USD", BillingType.ADVANCE)


# --- change of billing day ----------------------------------------------------


@pytest.mark.parametrize(
    ("today", "old_day", "new_day", "change_start", "anchor"),
    [
        ("2026-03-15", 1, 15, "2026-04-01", "2026-04-15"),
        ("2026-04-01", 1, 15, "2026-04-01", "2026-04-15"),  # today is the old day
        ("2026-03-15", 20, 10, "2026-03-20", "2026-04-10"),
        ("2026-02-10", 31, 30, "2026-02-28", "2026-02-28"),  # both clamped
        ("2026-01-05", 1, 31, "2026-02-01", "2026-02-28"),
    ],
)
def test_the_new_series_starts_from_the_next_old_billing_day(
    today, old_day, new_day, change_start, anchor
) -> None:
    assert billing_day_change_start(day(today), old_day) == day(change_start)
    assert new_series_after_change(day(today), old_day, new_day) == BillingSeries(
        new_day, day(anchor), 1
    )


def test_a_new_billing_day_must_be_1_to_31() -> None:
    with pytest.raises(EngineError) as raised:
        new_series_after_change(day("2026-03-15"), 1, 32)
    assert raised.value.code is Code.INVALID


def recut(op, *, billed: int, today: str, new_day: int):
    items = stored(build_schedule(op), billed=billed)
    old_day = op.series.day
    result = plan_recut(
        op,
        items,
        billing_day_change_start(day(today), old_day),
        new_series_after_change(day(today), old_day, new_day),
    )
    return items, result


def test_monthly_lines_are_recut_on_the_new_day() -> None:
    """2 x 30.00 monthly in 2026 on day 1, billed through March; on 03-15 the day
    becomes 15: from 04-01, 14/31 of 60.00 (27.10), eight full periods, and the
    last line takes what is left (17/31: 32.90)."""
    op = terms("2026-01-01", "2026-12-31", bdom=1, quantity=2, price="30.00")

    items, result = recut(op, billed=3, today="2026-03-15", new_day=15)

    assert result.replaced == tuple(items[3:])
    assert result.series == BillingSeries(15, day("2026-04-15"), 1)
    assert spans(result.lines) == [
        ("2026-04-01", "2026-04-14"),
        *[(f"2026-{m:02}-15", f"2026-{m + 1:02}-14") for m in range(4, 12)],
        ("2026-12-15", "2026-12-31"),
    ]
    assert fractions(result.lines) == [Fraction(14, 31), *[1] * 8, Fraction(17, 31)]
    assert amounts(result.lines) == ["27.10", *["60.00"] * 8, "32.90"]
    assert dues(result.lines)[:2] == ["2026-04-01", "2026-04-15"]
    assert total(result.lines) == Decimal("540.00")


def test_a_line_straddling_the_change_is_cut_and_the_last_line_takes_the_rest() -> None:
    """180.00 a quarter on day 1, Q1 billed; on 05-10 the day becomes 15, so
    C = 06-01. Q2 keeps 04-01..05-31 (61/91: 120.66); then 06-01..06-14 (14 of
    the 92 days of 03-15..06-14: 27.39), two full quarters, and 12-15..12-31
    takes what is left of the exact 540.00 (31.95, not its 17/90 = 34.00)."""
    op = terms("2026-01-01", "2026-12-31", bdom=1, quantity=2, price="30.00", frequency="QUARTERLY")

    items, result = recut(op, billed=1, today="2026-05-10", new_day=15)

    assert result.replaced == tuple(items[1:])
    assert spans(result.lines) == [
        ("2026-04-01", "2026-05-31"),
        ("2026-06-01", "2026-06-14"),
        ("2026-06-15", "2026-09-14"),
        ("2026-09-15", "2026-12-14"),
        ("2026-12-15", "2026-12-31"),
    ]
    left = 180 * Fraction(30, 91) + 360 - 180 * Fraction(14, 92) - 360
    assert fractions(result.lines) == [Fraction(61, 91), Fraction(14, 92), 1, 1, left / 180]
    assert amounts(result.lines) == ["120.66", "27.39", "180.00", "180.00", "31.95"]
    assert exact_total(result.lines) == 540
    assert dues(result.lines) == [
        "2026-04-01",
        "2026-06-01",
        "2026-06-15",
        "2026-09-15",
        "2026-12-15",
    ]


def test_billed_lines_do_not_move() -> None:
    """Q2 is already billed, so re-cutting starts after it, on 07-01 (76 of the 92
    days of 06-15..09-14)."""
    op = terms("2026-01-01", "2026-12-31", bdom=1, quantity=2, price="30.00", frequency="QUARTERLY")

    items, result = recut(op, billed=2, today="2026-05-10", new_day=15)

    assert result.replaced == tuple(items[2:])
    assert spans(result.lines)[0] == ("2026-07-01", "2026-09-14")
    assert result.lines[0].fraction == Fraction(76, 92)
    assert total(result.lines) == Decimal("360.00")


def test_a_future_order_product_is_recut_from_its_own_start() -> None:
    """An order product from 06-20 (a future amendment on a day-1 contract); on
    03-15 the billing day becomes 15, so C = 04-01. Its lines must still start on
    06-20: 06-20..07-14 (25 of 30 days: 8.33), five months from the 15th, and
    12-15..12-31 taking what is left of the exact 63.67 (5.34). Instead the
    re-cut starts on 04-01 and its last line goes negative (-20.85)."""
    op = terms("2026-06-20", "2026-12-31", bdom=1, anchored_from="2026-01-01")

    _, result = recut(op, billed=0, today="2026-03-15", new_day=15)

    assert spans(result.lines)[:2] == [("2026-06-20", "2026-07-14"), ("2026-07-15", "2026-08-14")]
    assert amounts(result.lines) == ["8.33", *["10.00"] * 5, "5.34"]
    assert total(result.lines) == Decimal("63.67")


@pytest.mark.parametrize(("billed", "today"), [(12, "2026-03-15"), (3, "2027-01-10")])
def test_nothing_to_recut(billed: int, today: str) -> None:
    op = terms("2026-01-01", "2026-12-31", bdom=1)

    _, result = recut(op, billed=billed, today=today, new_day=15)

    assert result.replaced == () and result.lines == ()


def test_a_free_line_is_recut_with_its_policy_fraction() -> None:
    op = terms("2026-01-01", "2026-12-31", bdom=1, price="0.00")

    _, result = recut(op, billed=3, today="2026-03-15", new_day=15)

    assert fractions(result.lines)[-1] == Fraction(17, 31)
    assert total(result.lines) == 0


@pytest.mark.parametrize("policy", ["ACTUAL_DAYS", "MONTHLY_PLUS_DAILY"])
def test_an_evergreen_recut_does_not_depend_on_how_far_ahead_lines_are_stored(policy):
    """Evergreen on day 1 from 2026-01-01; on 03-05 the day becomes 15 (C = 04-01).
    Whether lines were stored through June or July, the re-cut and its later
    extension give 06-15..07-14 as one full period. (Before 31e9eee the re-cut
    stopped at the stored horizon, 06-30, and split that period in two.)"""

    def recut_then_extend(stored_through: str):
        op = terms("2026-01-01", None, bdom=1, policy=policy)
        items = stored(build_schedule(op, day(stored_through)))
        result = plan_recut(
            op, items, day("2026-04-01"), new_series_after_change(day("2026-03-05"), 1, 15)
        )
        lines = [s.line for s in items if s not in result.replaced] + list(result.lines)
        lines += extend_schedule(op.with_series(result.series), lines, day("2026-09-30"))
        return [line for line in lines if line.start >= day("2026-04-01")]

    through_june = recut_then_extend("2026-06-30")

    assert through_june == recut_then_extend("2026-07-31")
    assert spans(through_june)[:5] == [
        ("2026-04-01", "2026-04-14"),
        ("2026-04-15", "2026-05-14"),
        ("2026-05-15", "2026-06-14"),
        ("2026-06-15", "2026-07-14"),
        ("2026-07-15", "2026-08-14"),
    ]
    assert fractions(through_june)[1:5] == [1, 1, 1, 1]


# --- contract-level overrides -------------------------------------------------


def test_a_contract_override_targets_aligned_order_products_due_first() -> None:
    targets = [
        OverrideTarget("original", aligned=True, next_due=date(2026, 7, 10)),
        OverrideTarget("delta", aligned=True, next_due=date(2026, 7, 10)),
        OverrideTarget("unaligned", aligned=False, next_due=date(2026, 6, 20)),
        OverrideTarget("later", aligned=True, next_due=date(2026, 8, 10)),
        OverrideTarget("billed", aligned=True, next_due=None),
    ]

    assert contract_override_targets(targets) == ["original", "delta"]


@pytest.mark.parametrize(
    "targets",
    [
        [],
        [OverrideTarget("unaligned", aligned=False, next_due=date(2026, 6, 20))],
        [OverrideTarget("billed", aligned=True, next_due=None)],
    ],
)
def test_a_contract_override_may_have_no_target(targets) -> None:
    assert contract_override_targets(targets) == []

"""Ending an order product early (spec section 5, cancellation of a line).

Most cases use the section 4 schedule: BDOM 1, 2 x 30.00 monthly from
2026-03-10 to 2027-03-09, i.e. 42.58 (22/31), 11 x 60.00, 17.42 (9/31).
"""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from orbit.engine.enums import BillingType, PartialPeriodTreatment
from orbit.engine.schedule import build_schedule
from orbit.engine.terminations import terminate
from tests.engine.support import amounts, day, dues, section_4, spans, stored, terms, total

CREDIT_DUE = day("2026-08-01")


def end_at(op, cut: str, *, billed: int, reversed=(), through=None, lines=None):
    items = stored(lines or build_schedule(op), billed=billed, reversed=reversed)
    return terminate(op, items, day(cut), CREDIT_DUE, None if through is None else day(through))


def test_an_unbilled_line_holding_the_cut_is_cut_and_rounded_on() -> None:
    """Billed through June; cut 07-10. The kept 07-01..07-10 is worth
    60 * 10/31 = 19.3548, rounded on from the exact 222.5806 before it:
    round(241.9355) - round(222.5806) = 241.94 - 222.58 = 19.36 (alone: 19.35)."""
    result = end_at(section_4(), "2026-07-10", billed=4)

    assert spans([result.kept_line]) == [("2026-07-01", "2026-07-10")]
    assert result.kept_line.fraction == Fraction(10, 31)
    assert amounts([result.kept_line]) == ["19.36"]
    assert dues([result.kept_line]) == ["2026-07-01"]
    assert spans([result.cut_line.line]) == [("2026-07-01", "2026-07-31")]
    assert spans(s.line for s in result.removed)[0] == ("2026-08-01", "2026-08-31")
    assert len(result.removed) == 8
    assert total(s.line for s in result.removed) == Decimal("437.42")
    assert result.credit_line is None
    assert result.total_change == Decimal("-478.06")
    assert result.removed_or_cut == (result.cut_line, *result.removed)


def test_a_billed_line_holding_the_cut_is_credited_for_the_days_after_it() -> None:
    """Billed through July; cut 07-10: the 21 days after it are credited,
    -round(60 * 21/31) = -round(40.645) = -40.65."""
    result = end_at(section_4(), "2026-07-10", billed=5)

    assert result.cut_line is None and result.kept_line is None
    assert spans([result.credit_line]) == [("2026-07-11", "2026-07-31")]
    assert amounts([result.credit_line]) == ["-40.65"]
    assert result.credit_line.fraction == Fraction(-21, 31)
    assert result.credit_line.is_credit
    assert result.credit_line.due == CREDIT_DUE
    assert result.total_change == Decimal("-40.65") - Decimal("437.42")


@pytest.mark.parametrize(
    ("currency", "price", "credit"),
    [("USD", "30.00", "-40.65"), ("JPY", "3000", "-4065"), ("BHD", "30.000", "-40.645")],
)
def test_a_credit_is_rounded_to_the_currency(currency: str, price: str, credit: str) -> None:
    """21/31 of a 60.00 (6,000 JPY; 60.000 BHD) month: 40.645..., 4,064.5..., 40.6451..."""
    op = section_4(price=price, currency=currency)

    result = end_at(op, "2026-07-10", billed=5)

    assert amounts([result.credit_line]) == [credit]


def test_billed_then_credited_differs_from_cut_by_at_most_a_minor_unit() -> None:
    """What the customer pays for July: 19.36 when July was not billed yet (the
    kept line), 60.00 - 40.65 = 19.35 when it was. The spec rounds the credit
    on its own, so the two may differ, but by less than one minor unit each way."""
    unbilled = end_at(section_4(), "2026-07-10", billed=4)
    billed = end_at(section_4(), "2026-07-10", billed=5)

    assert unbilled.kept_line.amount == Decimal("19.36")
    assert Decimal("60.00") + billed.credit_line.amount == Decimal("19.35")


def quarterly():
    """180.00 a quarter (2 x 30.00 a month) for 2026, BDOM 1, in advance."""
    return terms(
        "2026-01-01", "2026-12-31", bdom=1, quantity=2, price="30.00", frequency="QUARTERLY"
    )


def test_one_credit_line_covers_every_billed_day_after_the_cut() -> None:
    """Q1 and Q2 billed; cut 03-15: 16 of Q1's 90 days (32.00) and all of Q2."""
    result = end_at(quarterly(), "2026-03-15", billed=2)

    assert spans([result.credit_line]) == [("2026-03-16", "2026-06-30")]
    assert amounts([result.credit_line]) == ["-212.00"]
    assert result.credit_line.fraction == -(Fraction(16, 90) + 1)
    assert len(result.credit_line.parts) == 2
    assert spans(s.line for s in result.removed) == [
        ("2026-07-01", "2026-09-30"),
        ("2026-10-01", "2026-12-31"),
    ]
    assert result.total_change == Decimal("-572.00")


def test_days_of_reversed_lines_are_not_credited_again() -> None:
    result = end_at(quarterly(), "2026-03-15", billed=2, reversed=[1])

    assert spans([result.credit_line]) == [("2026-03-16", "2026-03-31")]
    assert amounts([result.credit_line]) == ["-32.00"]


def test_a_reversed_line_holding_the_cut_is_skipped() -> None:
    result = end_at(quarterly(), "2026-03-15", billed=2, reversed=[0])

    assert amounts([result.credit_line]) == ["-180.00"]
    assert result.credit_line.end == day("2026-06-30")


def test_nothing_is_credited_when_every_billed_day_was_reversed() -> None:
    result = end_at(quarterly(), "2026-03-15", billed=1, reversed=[0])

    assert result.credit_line is None
    assert result.total_change == Decimal("-540.00")  # Q2 to Q4 removed


def test_an_order_product_starting_after_the_cut_is_removed_whole() -> None:
    """A delta of 3 x 30.00 from 07-01 with July billed, ended at 06-19: July is
    credited whole, every other line removed; it bills nothing any more."""
    op = terms("2026-07-01", "2027-03-09", bdom=1, quantity=3, price="30.00")
    lines = build_schedule(op)

    result = end_at(op, "2026-06-19", billed=1)

    assert result.cut_line is None
    assert spans([result.credit_line]) == [("2026-07-01", "2026-07-31")]
    assert amounts([result.credit_line]) == ["-90.00"]
    assert len(result.removed) == len(lines) - 1
    assert result.total_change == -total(lines)


def test_an_arrears_cut_line_is_due_the_day_after_the_cut() -> None:
    result = end_at(section_4(billing=BillingType.ARREARS), "2026-07-10", billed=4)

    assert spans([result.kept_line]) == [("2026-07-01", "2026-07-10")]
    assert dues([result.kept_line]) == ["2026-07-11"]
    assert amounts([result.kept_line]) == ["19.36"]


def test_a_combine_line_is_cut_by_its_period_parts() -> None:
    """The COMBINE line 03-10..04-30 (22/31 + 1) cut at 04-15 keeps March's part
    whole and half of April: 42.5806 + 30.00 = 72.58."""
    op = section_4(treatment=PartialPeriodTreatment.COMBINE)

    result = end_at(op, "2026-04-15", billed=0)

    assert spans([result.kept_line]) == [("2026-03-10", "2026-04-15")]
    assert result.kept_line.fraction == Fraction(22, 31) + Fraction(1, 2)
    assert amounts([result.kept_line]) == ["72.58"]


def test_a_cut_on_a_line_end_keeps_that_line_whole() -> None:
    result = end_at(section_4(), "2026-06-30", billed=0)

    assert result.cut_line is None
    assert spans(s.line for s in result.removed)[0] == ("2026-07-01", "2026-07-31")
    assert result.total_change == -(Decimal("60.00") * 8 + Decimal("17.42"))


def test_an_evergreen_termination_counts_lines_through_the_preview_date() -> None:
    """Evergreen from 2026-01-01, stored through 2027; cut 03-15, preview through
    06-30: March is cut to 15/31 of 60.00 (29.03); April to June are counted
    (-180.00), the later stored lines are removed but not counted."""
    op = terms("2026-01-01", None, bdom=1, quantity=2, price="30.00")
    lines = build_schedule(op, day("2027-12-01"))

    result = end_at(op, "2026-03-15", billed=0, through="2026-06-30", lines=lines)

    assert amounts([result.kept_line]) == ["29.03"]
    assert len(result.removed) == 21
    assert result.total_change == Decimal("29.03") - Decimal("60.00") - Decimal("180.00")


@pytest.mark.parametrize("cut", [date(2027, 3, 9), date(2027, 6, 1)])
def test_a_cut_at_or_after_the_end_changes_nothing(cut: date) -> None:
    op = section_4()

    result = terminate(op, stored(build_schedule(op), billed=3), cut, CREDIT_DUE)

    assert not result.changes_anything
    assert result.total_change == 0
    assert result.removed_or_cut == ()


def test_credit_lines_already_stored_are_left_alone() -> None:
    op = quarterly()
    first = end_at(op, "2026-06-15", billed=2)
    lines = [*build_schedule(op)[:2], first.credit_line]

    again = terminate(op, stored(lines, billed=2), day("2026-03-15"), CREDIT_DUE)

    assert amounts([again.credit_line]) == ["-212.00"]

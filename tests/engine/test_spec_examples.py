"""Every worked example of billing-semantics.md, as written there."""

from decimal import Decimal
from fractions import Fraction

import pytest

from orbit.engine.amendments import Change, plan_amendment
from orbit.engine.money import round_money
from orbit.engine.terms import contract_term
from tests.engine.support import (
    amounts,
    apply,
    calendar_months,
    contract,
    day,
    dues,
    exact_total,
    fractions,
    lifetime,
    product,
    run,
    schedule,
    spans,
    total,
    with_line,
)

# --- section 1: rounding ------------------------------------------------------


@pytest.mark.parametrize(
    ("exact", "rounded"),
    [("174.965", "174.97"), ("-174.965", "-174.97")],
)
def test_rounding_is_half_away_from_zero(exact: str, rounded: str) -> None:
    assert round_money(Fraction(exact), "USD") == Decimal(rounded)


def test_annual_103_billed_monthly_rounds_its_exact_tie_up() -> None:
    """103.00 a year billed monthly reaches an exact running total of 28.325
    (first line 9/30 of a month, then three months). A 28-digit Decimal would
    hold 28.3249999... and round it down; the exact total rounds to 28.33."""
    lines = schedule("2026-04-22", "2026-07-31", bdom=1, price="103.00", pricing_term=12)

    assert exact_total(lines) == Fraction("28.325")
    assert (Decimal(103) / 12 * Decimal("3.3")).quantize(Decimal("0.01")) == Decimal("28.32")
    assert amounts(lines) == ["2.58", "8.58", "8.58", "8.59"]
    assert total(lines) == Decimal("28.33")


def test_1000_a_year_billed_monthly_sums_to_exactly_1000() -> None:
    lines = schedule("2026-01-01", "2026-12-31", bdom=1, price="1000.00", pricing_term=12)

    assert amounts(lines) == ["83.33", "83.34", "83.33"] * 4
    assert total(lines) == Decimal("1000.00")


# --- section 4: an order product's schedule -----------------------------------


def test_section_4_example_bdom_1_from_march_10_for_12_months() -> None:
    term = contract_term(day("2026-03-10"), term_months=12)
    lines = schedule(term.start, term.end, bdom=1, quantity=2, price="30.00")

    assert term.end == day("2027-03-09")
    assert spans(lines) == [
        ("2026-03-10", "2026-03-31"),
        *calendar_months("2026-04", 11),
        ("2027-03-01", "2027-03-09"),
    ]
    assert fractions(lines) == [Fraction(22, 31), *[Fraction(1)] * 11, Fraction(9, 31)]
    assert amounts(lines) == ["42.58", *["60.00"] * 11, "17.42"]
    assert total(lines) == Decimal("720.00")


# --- section 5: amendments, on the BDOM-10 version ----------------------------


UNBILLED_FROM_SEPTEMBER = [
    ("2026-09-10", "2026-10-09"),
    ("2026-10-10", "2026-11-09"),
    ("2026-11-10", "2026-12-09"),
    ("2026-12-10", "2027-01-09"),
    ("2027-01-10", "2027-02-09"),
    ("2027-02-10", "2027-03-09"),
]


@pytest.fixture
def billed_through_june():
    """The BDOM-10 contract (2 x 30.00 from 2026-03-10 for 12 months) after the
    runs of 03-10 to 06-10."""
    state = contract("2026-03-10", "2027-03-09", bdom=10)
    state = with_line(state, "seats", product(price="30.00"), 2)
    state, _ = run(state, "2026-06-10")
    return state


def plus_three_on_june_20(state):
    return plan_amendment(state, [Change(5, line="seats")], day("2026-06-20"))


def test_plus_three_units_mid_period_arrive_on_the_next_billing_date(billed_through_june):
    plan = plus_three_on_june_20(billed_through_june)

    (delta,) = plan.deltas
    first, second = delta.schedule[:2]
    assert delta.quantity_delta == 3
    assert spans([first, second]) == [("2026-06-20", "2026-07-09"), ("2026-07-10", "2026-08-09")]
    assert first.fraction == Fraction(20, 30)
    assert amounts([first, second]) == ["60.00", "90.00"]
    assert dues([first, second]) == ["2026-07-10", "2026-07-10"]
    assert amounts(delta.schedule) == ["60.00", *["90.00"] * 8]
    assert plan.total == Decimal("780.00")


def test_the_july_10_run_bills_the_original_and_both_delta_lines(billed_through_june):
    state = apply(billed_through_june, plus_three_on_june_20(billed_through_june))

    state, invoice = run(state, "2026-07-10")

    assert amounts(invoice) == ["60.00", "60.00", "90.00"]
    assert total(invoice) == Decimal("210.00")
    assert state.line("seats").quantity_on(day("2026-07-10")) == 5


def test_cancelling_the_line_after_the_august_run(billed_through_june):
    state = apply(billed_through_june, plus_three_on_june_20(billed_through_june))
    state, _ = run(state, "2026-07-10")
    state, august = run(state, "2026-08-10")
    assert total(august) == Decimal("150.00")

    plan = plan_amendment(state, [Change(0, line="seats")], day("2026-08-20"))

    original, delta = (t.termination for t in plan.terminations)
    for termination in (original, delta):
        assert termination.cut == day("2026-08-19")
        assert termination.cut_line is None
        assert spans([termination.credit_line]) == [("2026-08-20", "2026-09-09")]
        assert dues([termination.credit_line]) == ["2026-09-10"]
        assert spans(s.line for s in termination.removed) == UNBILLED_FROM_SEPTEMBER
    assert amounts([original.credit_line, delta.credit_line]) == ["-40.65", "-60.97"]
    assert total(s.line for s in original.removed) == Decimal("360.00")
    assert total(s.line for s in delta.removed) == Decimal("540.00")
    assert plan.total == Decimal("-1001.62")


def test_after_the_cancellation_the_contract_bills_its_preview(billed_through_june):
    state = apply(billed_through_june, plus_three_on_june_20(billed_through_june))
    state, _ = run(state, "2026-08-10")
    plan = plan_amendment(state, [Change(0, line="seats")], day("2026-08-20"))

    cancelled = apply(state, plan)
    cancelled, september = run(cancelled, "2026-09-10")

    assert lifetime(cancelled) == Decimal("720.00") + Decimal("780.00") + plan.total
    assert amounts(september) == ["-40.65", "-60.97"]
    assert cancelled.line("seats").quantity_on(day("2026-08-20")) == 0

"""Properties of every schedule, series and proration (spec sections 3 and 4).

Each property runs under the loaded Hypothesis profile (500 examples with
HYPOTHESIS_PROFILE=ci).
"""

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from orbit.engine.calendar import ONE_DAY, days_in_month
from orbit.engine.enums import PartialPeriodTreatment, ProrationPolicy
from orbit.engine.money import minor_units, round_money
from orbit.engine.proration import period_fraction
from orbit.engine.schedule import (
    DueState,
    Line,
    build_schedule,
    effective_due_dates,
    extend_schedule,
)
from orbit.engine.series import BillingSeries
from tests.engine.strategies import (
    Case,
    billing_days,
    dates,
    frequencies,
    order_products,
    policies,
)
from tests.engine.support import (
    assert_contiguous,
    assert_rounded_cumulatively,
    exact_total,
    total,
    unit,
)


def lines_of(case: Case) -> list[Line]:
    return build_schedule(case.terms, case.through)


@given(order_products())
def test_lines_tile_the_order_product(case: Case) -> None:
    lines = lines_of(case)

    assert lines, "a schedule always has a first line"
    assert lines[0].start == case.terms.start
    assert_contiguous(lines)
    if case.terms.end is not None:
        assert lines[-1].end == case.terms.end
    else:
        assert lines[-1].start <= case.through <= lines[-1].end


@given(order_products())
def test_each_line_is_within_one_minor_unit_of_its_exact_value(case: Case) -> None:
    currency = case.terms.currency

    for line in lines_of(case):
        assert abs(Fraction(line.amount) - line.value) <= Fraction(unit(currency))
        assert line.amount.as_tuple().exponent == -minor_units(currency)


@given(order_products(quantity=st.integers(-40, 40)))
def test_lines_sum_exactly_to_the_rounded_exact_total(case: Case) -> None:
    lines = lines_of(case)

    assert total(lines) == round_money(exact_total(lines), case.terms.currency)
    assert_rounded_cumulatively(lines, case.terms.currency)


@given(order_products())
def test_fractions_follow_the_periods(case: Case) -> None:
    """A part covering a whole period is worth 1 and one full period's value; a
    partial part is worth more than nothing and at most 1; a line is the sum of
    its parts, and only a COMBINE first line has two."""
    terms = case.terms
    lines = lines_of(case)

    for n, line in enumerate(lines):
        assert len(line.parts) == 1 or (
            n == 0 and terms.treatment is PartialPeriodTreatment.COMBINE
        )
        assert line.fraction == sum(p.fraction for p in line.parts)
        for part in line.parts:
            period = terms.series.period_containing(part.start)
            assert part.end <= period.end
            whole = (part.start, part.end) == (period.start, period.end)
            assert part.fraction == 1 if whole else 0 < part.fraction <= 1
            assert part.value == terms.period_value * part.fraction
        if len(line.parts) == 2:
            # a leading partial part (which MONTHLY_PLUS_DAILY can value at a whole 1 in
            # some Februaries) merged with the full period after it
            first_period = terms.series.period_containing(line.parts[0].start)
            assert line.parts[0].start > first_period.start and line.parts[1].fraction == 1


@given(billing_days, dates, frequencies, st.integers(-60, 60))
def test_boundaries_never_drift(billing_day: int, start: date, frequency, first_k: int) -> None:
    """B_k is in the anchor's month + k*f, on min(d, days in that month), for
    ten years of k: a day-31 series is back on the 31st after every February."""
    series = BillingSeries.starting(billing_day, start, frequency.months)
    anchor = series.anchor

    for k in range(first_k, first_k + 120 // frequency.months):
        boundary = series.boundary(k)
        year, month = divmod(anchor.year * 12 + anchor.month - 1 + k * frequency.months, 12)
        assert (boundary.year, boundary.month) == (year, month + 1)
        assert boundary.day == min(billing_day, days_in_month(year, month + 1))
        assert series.index_of(boundary) == k
        assert series.index_of(boundary - ONE_DAY) == k - 1
        assert series.period(k).end == series.boundary(k + 1) - ONE_DAY


@given(policies, billing_days, dates, frequencies, st.data())
def test_a_partial_line_never_exceeds_a_full_period(
    policy: ProrationPolicy, billing_day: int, when: date, frequency, data
) -> None:
    series = BillingSeries.starting(billing_day, when - timedelta(days=200), frequency.months)
    period = series.period_containing(when)
    start = data.draw(st.dates(period.start, period.end), label="start")
    end = data.draw(st.dates(start, period.end), label="end")

    share = period_fraction(policy, series, start, end)

    whole = (start, end) == (period.start, period.end)
    if whole:
        assert share == 1
    elif policy is ProrationPolicy.MONTHLY_PLUS_DAILY:
        assert 0 < share <= 1  # may reach 1: see test_proration
    else:
        assert 0 < share < 1


@given(order_products(), st.data())
def test_effective_due_dates_never_decrease(case: Case, data) -> None:
    """Along the unbilled lines, effective due dates never go backwards, whatever
    is billed, whatever the override on the first unbilled line, wherever credit
    lines fall; billed and credit lines keep their own dates."""
    lines = lines_of(case)
    billed = data.draw(st.integers(0, len(lines)), label="billed")
    states = [DueState(line.due, billed=n < billed) for n, line in enumerate(lines)]
    if billed < len(states) and data.draw(st.booleans(), label="override"):
        states[billed] = replace(states[billed], override=data.draw(dates, label="on"))
    for position, due in data.draw(
        st.lists(st.tuples(st.integers(0, len(states)), dates), max_size=3), label="credits"
    ):
        states.insert(position, DueState(due, is_credit=True))

    effective = effective_due_dates(states)

    unbilled = [
        (state, when)
        for state, when in zip(states, effective, strict=True)
        if not state.billed and not state.is_credit
    ]
    assert all(a <= b for (_, a), (_, b) in pairwise(unbilled))
    for n, (state, when) in enumerate(unbilled):
        assert when == state.override if state.override else when >= state.due
        if n == 0 and not state.override:
            assert when == state.due
    for state, when in zip(states, effective, strict=True):
        if state.billed or state.is_credit:
            assert when == state.due


@given(order_products(evergreen=True), st.data())
def test_how_far_ahead_evergreen_lines_are_built_changes_nothing(case: Case, data) -> None:
    """build(through=X) + extend(through=Y) == build(through=Y), COMBINE included."""
    terms = case.terms
    early = data.draw(st.dates(terms.start - timedelta(days=40), case.through), label="early")
    first = build_schedule(terms, early)

    extended = first + extend_schedule(terms, first, case.through)

    assert extended == build_schedule(terms, max(early, case.through))

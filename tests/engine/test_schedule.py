"""An order product's schedule: lines, amounts and due dates (spec section 4)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from orbit.engine.enums import BillingFrequency, PartialPeriodTreatment
from orbit.engine.schedule import (
    Alignment,
    DueState,
    Line,
    Part,
    build_schedule,
    continue_schedule,
    cumulative_amounts,
    effective_due_dates,
    extend_schedule,
    schedule_total,
)
from orbit.engine.series import BillingSeries
from tests.engine.support import (
    amounts,
    calendar_months,
    day,
    dues,
    exact_total,
    fractions,
    schedule,
    spans,
    terms,
    total,
)

COMBINE = PartialPeriodTreatment.COMBINE
SEPARATE = PartialPeriodTreatment.SEPARATE

# --- cumulative rounding ------------------------------------------------------


def test_cumulative_amounts_round_the_running_total() -> None:
    thirds = [Fraction(100, 3)] * 3

    assert cumulative_amounts(thirds, "USD") == [
        Decimal("33.33"),
        Decimal("33.34"),
        Decimal("33.33"),
    ]
    # continuing from an exact sum already rounded up
    assert cumulative_amounts([Fraction(100, 3)], "USD", before=Fraction(200, 3)) == [
        Decimal("33.33")
    ]


def test_cumulative_rounding_can_take_a_cent_off_a_line() -> None:
    """Year boundary, quarterly on day 15, in arrears: 300.00 a quarter.
    25/91 of a quarter is 82.4176 -> 82.42; 86/90 is 286.6667, but the running
    total 369.0842 rounds to 369.08, so the second line is 286.66."""
    lines = schedule(
        "2025-11-20",
        "2026-03-10",
        bdom=15,
        price="100.00",
        frequency="QUARTERLY",
        billing="ARREARS",
    )

    assert spans(lines) == [("2025-11-20", "2025-12-14"), ("2025-12-15", "2026-03-10")]
    assert fractions(lines) == [Fraction(25, 91), Fraction(86, 90)]
    assert amounts(lines) == ["82.42", "286.66"]
    assert dues(lines) == ["2025-12-15", "2026-03-11"]


# --- currencies, month ends and leap years ------------------------------------


def test_jpy_has_no_minor_unit() -> None:
    lines = schedule("2026-03-10", "2027-03-09", bdom=1, quantity=2, price="1000", currency="JPY")

    assert amounts(lines) == ["1419", *["2000"] * 11, "581"]
    assert total(lines) == Decimal("24000")


def test_bhd_has_three_decimals() -> None:
    lines = schedule(
        "2026-01-01", "2026-12-31", bdom=1, price="100.000", pricing_term=12, currency="BHD"
    )

    assert amounts(lines) == ["8.333", "8.334", "8.333"] * 4
    assert total(lines) == Decimal("100.000")


def test_one_time_jpy_amount_is_rounded_half_up() -> None:
    (line,) = schedule("2026-03-10", quantity=3, price="333.5", currency="JPY", one_time=True)

    assert line.value == Fraction(2001, 2)
    assert amounts([line]) == ["1001"]


def test_day_31_periods_follow_the_month_ends() -> None:
    lines = schedule("2026-01-31", "2026-06-29", bdom=31)

    assert spans(lines) == [
        ("2026-01-31", "2026-02-27"),
        ("2026-02-28", "2026-03-30"),
        ("2026-03-31", "2026-04-29"),
        ("2026-04-30", "2026-05-30"),
        ("2026-05-31", "2026-06-29"),
    ]
    assert fractions(lines) == [1] * 5
    assert amounts(lines) == ["10.00"] * 5


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (
            2024,
            [
                ("2024-01-29", "2024-02-28"),
                ("2024-02-29", "2024-03-28"),
                ("2024-03-29", "2024-04-28"),
            ],
        ),
        (
            2025,
            [
                ("2025-01-29", "2025-02-27"),
                ("2025-02-28", "2025-03-28"),
                ("2025-03-29", "2025-04-28"),
            ],
        ),
    ],
)
def test_day_29_in_leap_and_common_years(year: int, expected) -> None:
    lines = schedule(f"{year}-01-29", f"{year}-04-28", bdom=29)

    assert spans(lines) == expected
    assert fractions(lines) == [1, 1, 1]


def test_an_annual_line_over_a_leap_day_is_one_period() -> None:
    lines = schedule(
        "2027-06-01", "2029-05-31", bdom=1, price="1200.00", pricing_term=12, frequency="ANNUAL"
    )

    assert spans(lines) == [("2027-06-01", "2028-05-31"), ("2028-06-01", "2029-05-31")]
    assert amounts(lines) == ["1200.00", "1200.00"]


def test_a_line_is_worth_its_fraction_of_a_period() -> None:
    (line,) = schedule("2026-03-10", "2026-03-31", bdom=1, quantity=2, price="30.00")

    assert line.fraction == Fraction(22, 31)
    assert line.value == 60 * Fraction(22, 31)
    assert line.shown_fraction == Decimal("0.7096774194")
    assert line.contains(day("2026-03-31")) and not line.contains(day("2026-04-01"))


# --- COMBINE ------------------------------------------------------------------


def test_combine_merges_the_leading_partial_with_the_next_full_period() -> None:
    lines = schedule(
        "2026-03-10", "2026-06-30", bdom=1, quantity=2, price="30.00", treatment=COMBINE
    )

    assert spans(lines) == [("2026-03-10", "2026-04-30"), *calendar_months("2026-05", 2)]
    assert fractions(lines) == [Fraction(22, 31) + 1, 1, 1]
    assert [len(line.parts) for line in lines] == [2, 1, 1]
    # 60 * 53/31 = 102.5806
    assert amounts(lines) == ["102.58", "60.00", "60.00"]
    assert dues(lines) == ["2026-03-10", "2026-05-01", "2026-06-01"]


def test_a_combined_line_values_its_days_per_period_part() -> None:
    (first, *_) = schedule(
        "2026-03-10", "2026-06-30", bdom=1, quantity=2, price="30.00", treatment=COMBINE
    )

    assert first.value_of(day("2026-03-10"), day("2026-03-20")) == 60 * Fraction(11, 31)
    assert first.value_of(day("2026-04-01"), day("2026-04-15")) == 30
    assert first.value_of(day("2026-03-31"), day("2026-04-01")) == Fraction(60, 31) + 2


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # the next line is not a full period: nothing merged
        ("2026-03-10", "2026-04-20", [("2026-03-10", "2026-03-31"), ("2026-04-01", "2026-04-20")]),
        # no leading partial; a trailing partial is never merged
        (
            "2026-03-01",
            "2026-05-15",
            [*calendar_months("2026-03", 2), ("2026-05-01", "2026-05-15")],
        ),
        # a single partial line
        ("2026-03-10", "2026-03-20", [("2026-03-10", "2026-03-20")]),
        # a single full period
        ("2026-03-01", "2026-03-31", [("2026-03-01", "2026-03-31")]),
    ],
)
def test_combine_leaves_these_alone(start, end, expected) -> None:
    combined = schedule(start, end, bdom=1, treatment=COMBINE)
    separate = schedule(start, end, bdom=1, treatment=SEPARATE)

    assert spans(combined) == expected
    assert combined == separate


# --- due dates ----------------------------------------------------------------


def test_arrears_lines_are_due_the_day_after_they_end() -> None:
    lines = schedule("2026-03-10", "2026-05-15", bdom=1, billing="ARREARS")

    assert dues(lines) == ["2026-04-01", "2026-05-01", "2026-05-16"]


def test_quarterly_arrears_lines_are_due_after_each_quarter() -> None:
    lines = schedule("2026-01-01", "2026-06-30", bdom=1, frequency="QUARTERLY", billing="ARREARS")

    assert dues(lines) == ["2026-04-01", "2026-07-01"]


def aligned(start, end, *, contract_end, bdom=10, **kwargs) -> list[Line]:
    """An aligned amendment order product on a contract anchored 2026-03-10."""
    return schedule(
        start,
        end,
        bdom=bdom,
        anchored_from="2026-03-10",
        alignment=Alignment(bdom, day(contract_end) if contract_end else None),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("start", "end", "kwargs", "expected"),
    [
        # leading partial: the next billing date after the effective date
        ("2026-06-20", "2027-03-09", {}, ["2026-07-10", "2026-07-10"]),
        # evergreen contract
        ("2026-06-20", None, {"through": "2026-08-10"}, ["2026-07-10", "2026-07-10", "2026-08-10"]),
        # effective on a boundary: nothing moves
        ("2026-07-10", "2027-03-09", {}, ["2026-07-10", "2026-08-10"]),
        # a COMBINE-merged first line moves too
        ("2026-06-20", "2027-03-09", {"treatment": COMBINE}, ["2026-07-10", "2026-08-10"]),
        # arrears lines keep their own dates
        ("2026-06-20", "2027-03-09", {"billing": "ARREARS"}, ["2026-07-10", "2026-08-10"]),
        # over the year end, on day 1
        ("2026-12-20", "2027-03-09", {"bdom": 1}, ["2027-01-01", "2027-01-01"]),
        # quarterly, effective on day 10 mid-quarter: due a month later
        ("2026-04-10", "2027-03-09", {"frequency": "QUARTERLY"}, ["2026-05-10", "2026-06-10"]),
    ],
)
def test_aligned_leading_partial_is_due_on_the_next_billing_date(start, end, kwargs, expected):
    lines = aligned(start, end, contract_end=end, **kwargs)

    assert dues(lines)[: len(expected)] == expected


@pytest.mark.parametrize(
    ("contract_end", "due"),
    [("2026-07-05", "2026-06-20"), ("2026-07-09", "2026-06-20"), ("2026-07-10", "2026-07-10")],
)
def test_aligned_leading_partial_keeps_its_date_when_the_contract_ends_first(
    contract_end: str, due: str
) -> None:
    """The next billing date 07-10 counts while it is on or before the contract's end."""
    lines = aligned("2026-06-20", contract_end, contract_end=contract_end)

    assert dues(lines)[0] == due


@pytest.mark.parametrize(
    ("start", "bdom", "contract_end", "due"),
    [
        ("2026-06-10", 10, "2026-12-31", "2026-06-10"),  # on the billing day
        ("2026-06-20", 10, "2026-12-31", "2026-07-10"),
        ("2026-06-20", 10, None, "2026-07-10"),
        ("2026-06-20", 10, "2026-07-05", "2026-06-20"),  # contract over before 07-10
        ("2026-06-20", 10, "2026-07-10", "2026-07-10"),  # ... or on 07-10
        ("2026-02-28", 31, "2026-12-31", "2026-02-28"),  # the clamped billing day
        ("2026-03-30", 31, "2026-12-31", "2026-03-31"),
    ],
)
def test_aligned_one_time_line_due_date(start, bdom, contract_end, due) -> None:
    (line,) = schedule(
        start,
        quantity=3,
        price="49.99",
        one_time=True,
        alignment=Alignment(bdom, day(contract_end) if contract_end else None),
    )

    assert dues([line]) == [due]
    assert spans([line]) == [(start, start)]


def test_one_time_line_bills_quantity_times_price_once() -> None:
    op = terms("2026-03-10", quantity=3, price="49.99", pricing_term=12, one_time=True)

    (line,) = build_schedule(op)

    assert (line.start, line.end, line.due) == (op.start, op.start, op.start)
    assert line.fraction == 1
    assert amounts([line]) == ["149.97"]
    assert not op.is_recurring and not op.is_evergreen


# --- effective due dates ------------------------------------------------------

JAN, FEB, MAR, APR, MAY, JUN = (date(2026, m, 1) for m in range(1, 7))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([DueState(FEB), DueState(MAR)], [FEB, MAR], id="own-dates"),
        pytest.param(
            [
                DueState(JAN, billed=True),
                DueState(FEB, override=date(2026, 3, 15)),
                DueState(MAR),
                DueState(APR),
            ],
            [JAN, date(2026, 3, 15), date(2026, 3, 15), APR],
            id="later-override-brings-lines-behind-it-together",
        ),
        pytest.param(
            [DueState(JAN, billed=True), DueState(FEB, override=date(2026, 1, 20)), DueState(MAR)],
            [JAN, date(2026, 1, 20), MAR],
            id="earlier-override",
        ),
        pytest.param(
            [
                DueState(FEB, override=date(2026, 4, 15)),
                DueState(date(2026, 3, 10), is_credit=True),
                DueState(MAR),
                DueState(MAY),
            ],
            [date(2026, 4, 15), date(2026, 3, 10), date(2026, 4, 15), MAY],
            id="credit-lines-are-due-on-their-own-date-and-constrain-nothing",
        ),
        pytest.param(
            [DueState(FEB), DueState(JUN, billed=True), DueState(MAR)],
            [FEB, JUN, MAR],
            id="billed-lines-constrain-nothing",
        ),
        pytest.param(
            [DueState(date(2026, 7, 10)), DueState(date(2026, 6, 25))],
            [date(2026, 7, 10), date(2026, 7, 10)],
            id="a-line-never-comes-due-before-the-one-ahead",
        ),
        pytest.param([], [], id="nothing"),
    ],
)
def test_effective_due_dates(lines, expected) -> None:
    assert effective_due_dates(lines) == expected


# --- evergreen schedules ------------------------------------------------------

THOUSAND_A_YEAR = {"bdom": 1, "price": "1000.00", "pricing_term": 12}


def test_an_evergreen_schedule_needs_a_through_date() -> None:
    with pytest.raises(ValueError, match="through"):
        build_schedule(terms("2026-01-01", None, **THOUSAND_A_YEAR))


def test_an_evergreen_schedule_holds_the_lines_starting_by_its_through_date() -> None:
    lines = schedule("2026-03-10", None, bdom=1, through="2026-06-01")

    assert spans(lines) == [("2026-03-10", "2026-03-31"), *calendar_months("2026-04", 3)]
    assert schedule("2026-03-10", None, bdom=1, through="2026-03-09") == []


@pytest.mark.parametrize(
    "stored_through", ["2026-01-01", "2026-03-01", "2026-03-15", "2026-07-31", "2026-11-30"]
)
def test_extending_an_evergreen_schedule_continues_its_rounding(stored_through) -> None:
    op = terms("2026-01-01", None, **THOUSAND_A_YEAR)
    first = build_schedule(op, day(stored_through))

    extended = first + extend_schedule(op, first, day("2026-12-01"))

    assert extended == build_schedule(op, day("2026-12-01"))
    assert amounts(extended) == ["83.33", "83.34", "83.33"] * 4


def test_extending_stops_at_the_through_date_and_skips_credit_lines() -> None:
    op = terms("2026-01-01", None, **THOUSAND_A_YEAR)
    first = build_schedule(op, day("2026-03-01"))
    credit = Line(
        day("2026-03-15"),
        day("2026-03-31"),
        day("2026-04-01"),
        (Part(day("2026-03-15"), day("2026-03-31"), Fraction(-1, 2), Fraction(-40)),),
        Decimal("-40.00"),
        is_credit=True,
    )

    assert extend_schedule(op, first, day("2026-03-31")) == []
    assert (
        extend_schedule(op, [*first, credit], day("2026-04-01"))
        == build_schedule(op, day("2026-04-01"))[3:]
    )
    assert extend_schedule(op, [], day("2026-02-01")) == build_schedule(op, day("2026-02-01"))


def test_a_finite_schedule_is_never_extended() -> None:
    op = terms("2026-01-01", "2026-12-31", **THOUSAND_A_YEAR)

    assert extend_schedule(op, build_schedule(op)[:3], day("2027-12-31")) == []


def test_how_far_ahead_a_combine_schedule_is_stored_changes_nothing() -> None:
    """Spec section 4: how far ahead evergreen lines are stored never changes a
    value. Stored through 03-20, the leading partial 03-10..03-31 stays alone and
    extend_schedule adds April as its own line; built through 06-30 the two are
    one COMBINE line 03-10..04-30."""
    op = terms("2026-03-10", None, bdom=1, treatment=COMBINE)
    early = build_schedule(op, day("2026-03-20"))

    extended = early + extend_schedule(op, early, day("2026-06-30"))

    assert spans(extended) == spans(build_schedule(op, day("2026-06-30")))


@pytest.mark.parametrize("billed", [0, 4, 12])
def test_a_schedule_continues_from_any_line_rounding_on(billed: int) -> None:
    op = terms("2026-03-10", "2027-03-09", bdom=1, quantity=2, price="30.00")
    lines = build_schedule(op)
    rest = lines[billed:]

    again = continue_schedule(op, rest[0].start, op.end, exact_total(lines[:billed]))

    assert again == rest


def test_an_evergreen_schedule_continues_through_a_date() -> None:
    op = terms("2026-01-01", None, **THOUSAND_A_YEAR)
    lines = build_schedule(op, day("2026-12-01"))

    again = continue_schedule(op, day("2026-04-01"), None, Fraction(250), day("2026-12-01"))

    assert again == lines[3:]


def test_schedule_total_counts_lines_starting_by_a_date() -> None:
    lines = schedule("2026-01-01", "2026-12-31", **THOUSAND_A_YEAR)

    assert schedule_total(lines) == Decimal("1000.00")
    assert schedule_total(lines, day("2026-03-01")) == Decimal("250.00")
    assert schedule_total([]) == 0


# --- order product terms ------------------------------------------------------


def test_terms_know_their_rates() -> None:
    op = terms(
        "2026-01-01",
        "2026-12-31",
        quantity=3,
        price="1200.00",
        pricing_term=12,
        frequency="QUARTERLY",
    )

    assert op.monthly_rate == 300
    assert op.period_value == 900
    assert op.one_time_value == 3600


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"series": None}, "needs a billing series"),
        ({"frequency": BillingFrequency.ANNUAL}, "does not match"),
        ({"pricing_term_months": 0}, "at least one month"),
        ({"end": date(2025, 12, 30)}, "before it starts"),
    ],
)
def test_terms_reject_inconsistent_values(change, message) -> None:
    op = terms("2026-01-01", "2026-12-31")

    with pytest.raises(ValueError, match=message):
        replace(op, **change)


def test_with_series_moves_an_order_product_to_another_series() -> None:
    op = terms("2026-01-01", "2026-12-31", bdom=1)
    series = BillingSeries.starting(15, day("2026-01-01"), 1)

    assert op.with_series(series).series == series
    assert spans(build_schedule(op.with_series(series)))[0] == ("2026-01-01", "2026-01-14")

"""Calendar arithmetic and the billing series (spec section 3)."""

from datetime import date
from itertools import islice

import pytest

from orbit.engine.calendar import (
    add_months,
    days,
    first_on_or_after,
    is_billing_day,
    next_billing_date_after,
    shift_month,
)
from orbit.engine.errors import Code, EngineError
from orbit.engine.series import BillingSeries, Period, check_billing_day
from tests.engine.support import day

# --- calendar -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "months", "expected"),
    [
        (2026, 1, 1, (2026, 2)),
        (2026, 12, 1, (2027, 1)),
        (2026, 1, -1, (2025, 12)),
        (2026, 3, -15, (2024, 12)),
        (2026, 6, 0, (2026, 6)),
        (2026, 11, 26, (2029, 1)),
    ],
)
def test_shift_month(year, month, months, expected) -> None:
    assert shift_month(year, month, months) == expected


@pytest.mark.parametrize(
    ("start", "months", "on_day", "expected"),
    [
        ("2026-01-31", 1, None, "2026-02-28"),
        ("2024-01-31", 1, None, "2024-02-29"),
        ("2026-01-31", 3, None, "2026-04-30"),
        ("2026-03-31", -1, None, "2026-02-28"),
        ("2026-02-28", 1, 31, "2026-03-31"),
        ("2026-12-15", 1, 1, "2027-01-01"),
    ],
)
def test_add_months_clamps_the_day(start, months, on_day, expected) -> None:
    assert add_months(day(start), months, on_day) == day(expected)


def test_days_counts_an_inclusive_range() -> None:
    assert days(day("2026-03-01"), day("2026-03-31")) == 31
    assert days(day("2026-03-10"), day("2026-03-10")) == 1
    assert days(day("2024-02-01"), day("2024-02-29")) == 29
    assert days(day("2025-12-31"), day("2026-01-01")) == 2


@pytest.mark.parametrize(
    ("when", "billing_day", "on_or_after", "after"),
    [
        ("2026-03-10", 10, "2026-03-10", "2026-04-10"),
        ("2026-03-11", 10, "2026-04-10", "2026-04-10"),
        ("2026-01-31", 31, "2026-01-31", "2026-02-28"),
        ("2026-02-01", 31, "2026-02-28", "2026-02-28"),
        ("2026-02-28", 31, "2026-02-28", "2026-03-31"),
        ("2024-02-28", 30, "2024-02-29", "2024-02-29"),
        ("2026-12-20", 1, "2027-01-01", "2027-01-01"),
        ("2026-12-31", 31, "2026-12-31", "2027-01-31"),
    ],
)
def test_first_billing_date_on_or_after_and_after(when, billing_day, on_or_after, after) -> None:
    assert first_on_or_after(day(when), billing_day) == day(on_or_after)
    assert next_billing_date_after(day(when), billing_day) == day(after)


@pytest.mark.parametrize(
    ("when", "billing_day", "expected"),
    [
        ("2026-02-28", 30, True),  # clamped
        ("2026-02-28", 28, True),
        ("2024-02-28", 30, False),  # leap year: the 29th is the billing day
        ("2024-02-29", 31, True),
        ("2026-04-30", 31, True),
        ("2026-03-30", 31, False),
    ],
)
def test_is_billing_day_uses_the_clamped_day(when, billing_day, expected) -> None:
    assert is_billing_day(day(when), billing_day) is expected


# --- the series ---------------------------------------------------------------


def boundaries(series: BillingSeries, ks) -> list[str]:
    return [series.boundary(k).isoformat() for k in ks]


@pytest.mark.parametrize(
    ("billing_day", "start", "anchor"),
    [
        (10, "2026-03-10", "2026-03-10"),
        (10, "2026-03-11", "2026-04-10"),
        (31, "2026-01-15", "2026-01-31"),
        (31, "2026-02-10", "2026-02-28"),  # clamped anchor
        (30, "2024-02-10", "2024-02-29"),
        (29, "2026-02-01", "2026-02-28"),
        (1, "2026-12-02", "2027-01-01"),
    ],
)
def test_the_anchor_is_the_first_billing_day_on_or_after_the_start(
    billing_day, start, anchor
) -> None:
    assert BillingSeries.starting(billing_day, day(start), 1).anchor == day(anchor)


def test_day_31_is_clamped_then_restored() -> None:
    series = BillingSeries.starting(31, day("2026-01-15"), 1)

    assert boundaries(series, range(-2, 5)) == [
        "2025-11-30",
        "2025-12-31",
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
        "2026-05-31",
    ]


def test_a_clamped_anchor_does_not_drift_to_28() -> None:
    series = BillingSeries.starting(31, day("2026-02-10"), 1)

    assert series.anchor == day("2026-02-28")
    assert boundaries(series, range(-1, 3)) == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]
    assert series.boundary(24) == day("2028-02-29")
    assert series.boundary(25) == day("2028-03-31")


def test_quarterly_boundaries_backwards_and_forwards() -> None:
    series = BillingSeries.starting(31, day("2026-01-31"), 3)

    assert boundaries(series, range(-3, 3)) == [
        "2025-04-30",
        "2025-07-31",
        "2025-10-31",
        "2026-01-31",
        "2026-04-30",
        "2026-07-31",
    ]


def test_periods_across_leap_years() -> None:
    annual = BillingSeries.starting(29, day("2024-02-29"), 12)

    assert [(p.start.isoformat(), p.end.isoformat()) for p in map(annual.period, range(5))] == [
        ("2024-02-29", "2025-02-27"),
        ("2025-02-28", "2026-02-27"),
        ("2026-02-28", "2027-02-27"),
        ("2027-02-28", "2028-02-28"),
        ("2028-02-29", "2029-02-27"),
    ]
    monthly = BillingSeries.starting(1, day("2024-02-01"), 1)
    assert monthly.period(0) == Period(0, day("2024-02-01"), day("2024-02-29"))
    assert monthly.period(12) == Period(12, day("2025-02-01"), day("2025-02-28"))


@pytest.mark.parametrize(
    ("when", "k"),
    [
        ("2026-01-31", 0),
        ("2026-01-30", -1),
        ("2025-12-31", -1),
        ("2025-12-30", -2),
        ("2026-02-28", 1),
        ("2026-02-27", 0),
        ("2026-03-30", 1),
        ("2026-03-31", 2),
        ("2030-12-31", 59),
    ],
)
def test_index_of_finds_the_period_holding_a_date(when, k) -> None:
    series = BillingSeries.starting(31, day("2026-01-31"), 1)

    assert series.index_of(day(when)) == k
    assert series.period_containing(day(when)).contains(day(when))
    assert series.is_boundary(day(when)) is (series.boundary(k) == day(when))


def test_periods_from_is_endless_and_starts_with_the_period_holding_the_date() -> None:
    series = BillingSeries.starting(15, day("2026-01-15"), 3)

    first, second, third = islice(series.periods_from(day("2026-03-01")), 3)

    assert (first.index, first.start, first.end) == (0, day("2026-01-15"), day("2026-04-14"))
    assert (second.start, second.end) == (day("2026-04-15"), day("2026-07-14"))
    assert third.index == 2


def test_with_months_keeps_day_and_anchor() -> None:
    monthly = BillingSeries.starting(10, day("2026-03-10"), 1)

    assert monthly.with_months(12) == BillingSeries(10, day("2026-03-10"), 12)


@pytest.mark.parametrize("bad_day", [0, 32, -1])
def test_a_billing_day_is_1_to_31(bad_day: int) -> None:
    with pytest.raises(EngineError) as raised:
        check_billing_day(bad_day)
    assert raised.value.code is Code.INVALID
    assert raised.value.problems[0].field == ("billingDayOfMonth",)
    with pytest.raises(EngineError):
        BillingSeries.starting(bad_day, date(2026, 1, 1), 1)


def test_a_series_rejects_odd_periods_and_anchors_off_its_day() -> None:
    with pytest.raises(ValueError, match="1, 3, 6 or 12"):
        BillingSeries(10, day("2026-03-10"), 2)
    with pytest.raises(ValueError, match="does not fall on billing day"):
        BillingSeries(10, day("2026-03-11"), 1)
    with pytest.raises(ValueError, match="does not fall on billing day"):
        BillingSeries(31, day("2026-02-27"), 1)

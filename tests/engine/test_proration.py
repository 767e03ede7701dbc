"""The share of a full period a partial line is worth, per policy (spec section 4).

Every expected fraction is worked out by hand in the case's comment.
"""

from fractions import Fraction

import pytest

from orbit.engine.enums import ProrationPolicy
from orbit.engine.proration import calendar_measure, covers_period, period_fraction
from orbit.engine.series import BillingSeries
from tests.engine.support import day

ACTUAL = ProrationPolicy.ACTUAL_DAYS
MONTHLY = ProrationPolicy.MONTHLY_PLUS_DAILY
CALENDAR = ProrationPolicy.CALENDAR_MONTHLY_PLUS_DAILY


def fraction(policy, billing_day, anchored_from, months, start, end) -> Fraction:
    series = BillingSeries.starting(billing_day, day(anchored_from), months)
    return period_fraction(policy, series, day(start), day(end))


CASES = [
    # policy, billing day, series from, months, line, expected
    # 22 of March's 31 days
    (ACTUAL, 1, "2026-01-01", 1, ("2026-03-10", "2026-03-31"), Fraction(22, 31)),
    # 20 days of the 30-day period 06-10..07-09 (the spec's section 5 example)
    (ACTUAL, 10, "2026-03-10", 1, ("2026-06-20", "2026-07-09"), Fraction(20, 30)),
    # 19 + 31 days of Q1 2026 (90 days)
    (ACTUAL, 1, "2026-01-01", 3, ("2026-02-10", "2026-03-31"), Fraction(50, 90)),
    # leap February: 15 of 29 days
    (ACTUAL, 1, "2028-01-01", 1, ("2028-02-15", "2028-02-29"), Fraction(15, 29)),
    # second half of leap year 2028: 184 of 366 days
    (ACTUAL, 1, "2028-01-01", 12, ("2028-07-01", "2028-12-31"), Fraction(184, 366)),
    # not a boundary, so months run on day 20: none fits; 20 days * 12/365
    (MONTHLY, 10, "2026-03-10", 1, ("2026-06-20", "2026-07-09"), Fraction(240, 365)),
    # 22 days * 12/365
    (MONTHLY, 1, "2026-01-01", 1, ("2026-03-10", "2026-03-31"), Fraction(264, 365)),
    # quarterly, from 02-10: one month (to 03-09), then 22 days: (1 + 264/365) / 3
    (MONTHLY, 1, "2026-01-01", 3, ("2026-02-10", "2026-03-31"), Fraction(629, 1095)),
    # quarterly, from the boundary 04-01: April, then 20 days: (1 + 240/365) / 3
    (MONTHLY, 1, "2026-01-01", 3, ("2026-04-01", "2026-05-20"), Fraction(605, 1095)),
    # from 01-31 the months end on 02-27 and 03-30 (day 31 clamped), then 1 day
    (MONTHLY, 1, "2026-01-01", 3, ("2026-01-31", "2026-03-31"), Fraction(742, 1095)),
    # from a clamped boundary (02-28 on day 30) the months follow day 30:
    # 02-28..03-29 and 03-30..04-29, nothing left: 2 / 3
    (MONTHLY, 30, "2025-11-30", 3, ("2026-02-28", "2026-04-29"), Fraction(2, 3)),
    # annual: June to December, then 14 days: (7 + 168/365) / 12
    (MONTHLY, 15, "2026-01-15", 12, ("2026-06-01", "2027-01-14"), Fraction(2723, 4380)),
    # a calendar month: 22/31 of March
    (CALENDAR, 1, "2026-01-01", 1, ("2026-03-10", "2026-03-31"), Fraction(22, 31)),
    # (12/31 + 14/28) / (17/31 + 14/28)
    (CALENDAR, 15, "2026-01-15", 1, ("2026-01-20", "2026-02-14"), Fraction(11, 13)),
    # quarterly: (19/28 + 1) / 3
    (CALENDAR, 1, "2026-01-01", 3, ("2026-02-10", "2026-03-31"), Fraction(47, 84)),
    # quarterly on day 15: (1 + 1 + 14/30) / (17/31 + 1 + 1 + 14/30)
    (CALENDAR, 15, "2026-01-15", 3, ("2026-02-01", "2026-04-14"), Fraction(1147, 1402)),
    # annual: (16/31 + 9) / 12
    (CALENDAR, 1, "2026-01-01", 12, ("2026-03-16", "2026-12-31"), Fraction(295, 372)),
    # leap February within a quarter: (15/29 + 1) / 3
    (CALENDAR, 1, "2028-01-01", 3, ("2028-02-15", "2028-03-31"), Fraction(44, 87)),
]


@pytest.mark.parametrize(
    ("policy", "billing_day", "anchored_from", "months", "line", "expected"),
    CASES,
    ids=[f"{c[0].value}-d{c[1]}-f{c[3]}-{c[4][0]}..{c[4][1]}" for c in CASES],
)
def test_partial_line_fraction(policy, billing_day, anchored_from, months, line, expected):
    assert fraction(policy, billing_day, anchored_from, months, *line) == expected


@pytest.mark.parametrize("policy", list(ProrationPolicy))
@pytest.mark.parametrize(
    ("billing_day", "months", "period"),
    [
        (1, 1, ("2026-02-01", "2026-02-28")),
        (31, 1, ("2026-02-28", "2026-03-30")),
        (10, 3, ("2026-03-10", "2026-06-09")),
        (29, 12, ("2027-02-28", "2028-02-28")),
    ],
)
def test_a_whole_period_is_worth_one(policy, billing_day, months, period) -> None:
    start, end = map(day, period)
    series = BillingSeries.starting(billing_day, start, months)

    assert covers_period(series.period_containing(start), start, end)
    assert period_fraction(policy, series, start, end) == 1


def test_monthly_plus_daily_can_reach_but_not_exceed_a_full_period() -> None:
    """Day 28: the period 01-28..02-27 (2023). The partial line 01-29..02-27 counts
    months on its own day 29, clamped to 02-28, so its first month ends 02-27:
    one whole month, nothing left, worth a full period although a day short.
    (The spec says a partial line "stays below" a full period; its formula
    gives exactly 1 here. Reported as a spec ambiguity.)"""
    assert fraction(MONTHLY, 28, "2023-01-28", 1, "2023-01-29", "2023-02-27") == 1
    assert fraction(ACTUAL, 28, "2023-01-28", 1, "2023-01-29", "2023-02-27") == Fraction(30, 31)


def test_calendar_measure_sums_shares_of_calendar_months() -> None:
    assert calendar_measure(day("2026-01-20"), day("2026-03-05")) == Fraction(48, 31)
    assert calendar_measure(day("2028-02-01"), day("2028-02-29")) == 1
    assert calendar_measure(day("2026-12-31"), day("2027-01-01")) == Fraction(2, 31)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-03-10", "2026-04-02"), ("2026-03-10", "2026-03-09")],
)
def test_a_range_must_lie_in_one_period(start, end) -> None:
    series = BillingSeries.starting(1, day("2026-01-01"), 1)

    with pytest.raises(ValueError, match="not inside period"):
        period_fraction(ACTUAL, series, day(start), day(end))


def test_an_unknown_policy_is_refused() -> None:
    series = BillingSeries.starting(1, day("2026-01-01"), 1)

    with pytest.raises(ValueError, match="unknown proration policy"):
        period_fraction("FLAT", series, day("2026-03-10"), day("2026-03-31"))

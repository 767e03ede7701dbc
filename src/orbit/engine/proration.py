"""How much of a full billing period a partial line is worth, per policy."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from orbit.engine.calendar import ONE_DAY, clamped, days, days_in_month, shift_month
from orbit.engine.enums import ProrationPolicy
from orbit.engine.series import BillingSeries, Period


def period_fraction(
    policy: ProrationPolicy, series: BillingSeries, start: date, end: date
) -> Fraction:
    """The share of its full period that the range [start, end] is worth.

    The range must lie within one period of ``series``; a whole period is 1.
    """
    period = series.period_containing(start)
    if end > period.end or end < start:
        raise ValueError(f"[{start}, {end}] is not inside period [{period.start}, {period.end}]")
    if start == period.start and end == period.end:
        return Fraction(1)
    if policy is ProrationPolicy.ACTUAL_DAYS:
        return Fraction(days(start, end), days(period.start, period.end))
    if policy is ProrationPolicy.MONTHLY_PLUS_DAILY:
        return _monthly_plus_daily(series, start, end)
    if policy is ProrationPolicy.CALENDAR_MONTHLY_PLUS_DAILY:
        return calendar_measure(start, end) / calendar_measure(period.start, period.end)
    raise ValueError(f"unknown proration policy {policy!r}")


def _monthly_plus_daily(series: BillingSeries, start: date, end: date) -> Fraction:
    """Whole months from ``start`` plus the remaining days at 12/365, over the period.

    From a boundary the months follow the series' day; from any other date
    they follow that date's own day.
    """
    day = series.day if series.is_boundary(start) else start.day
    whole_months = 0
    remainder_start = start
    while True:
        year, month = shift_month(start.year, start.month, whole_months + 1)
        next_month_start = clamped(year, month, day)
        if next_month_start > end + ONE_DAY:
            break
        whole_months += 1
        remainder_start = next_month_start
    remaining_days = (end - remainder_start).days + 1
    return (whole_months + Fraction(12 * remaining_days, 365)) / series.months


def calendar_measure(start: date, end: date) -> Fraction:
    """Sum over the calendar months the range touches of (its days there / days in month)."""
    total = Fraction(0)
    cursor = start
    while cursor <= end:
        month_days = days_in_month(cursor.year, cursor.month)
        month_end = cursor.replace(day=month_days)
        last = min(end, month_end)
        total += Fraction(days(cursor, last), month_days)
        cursor = last + ONE_DAY
    return total


def covers_period(period: Period, start: date, end: date) -> bool:
    return start == period.start and end == period.end

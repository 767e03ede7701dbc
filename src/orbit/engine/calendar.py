"""Calendar arithmetic on plain dates: month shifts with a clamped day."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    """The (year, month) ``months`` months after (year, month); may be negative."""
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def clamped(year: int, month: int, day: int) -> date:
    """The date in (year, month) whose day is ``day``, clamped to the month's length."""
    return date(year, month, min(day, days_in_month(year, month)))


def add_months(start: date, months: int, day: int | None = None) -> date:
    """``start`` moved by whole months, on ``day`` (default: start's day), clamped."""
    year, month = shift_month(start.year, start.month, months)
    return clamped(year, month, start.day if day is None else day)


def days(start: date, end: date) -> int:
    """Days in the inclusive range [start, end]."""
    return (end - start).days + 1


def first_on_or_after(when: date, day: int) -> date:
    """The first date on or after ``when`` whose day is ``day`` (clamped)."""
    candidate = clamped(when.year, when.month, day)
    if candidate >= when:
        return candidate
    return add_months(when, 1, day)


def next_billing_date_after(when: date, day: int) -> date:
    """The first date after ``when`` whose day is ``day`` (clamped), whatever the frequency."""
    return first_on_or_after(when + ONE_DAY, day)


def is_billing_day(when: date, day: int) -> bool:
    return when == clamped(when.year, when.month, day)

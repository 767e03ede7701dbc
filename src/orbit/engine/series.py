"""The billing series: a billing day of month, an anchor and a period length.

Boundaries are computed from the anchor's month and the billing day, never
by adding a period to the previous boundary, so a day clamped in a short
month is restored after it (31 -> Feb 28 -> Mar 31).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from orbit.engine.calendar import ONE_DAY, clamped, first_on_or_after, shift_month
from orbit.engine.errors import Code, EngineError

VALID_PERIOD_MONTHS = (1, 3, 6, 12)


def check_billing_day(day: int, field: str = "billingDayOfMonth") -> int:
    if not 1 <= day <= 31:
        raise EngineError(Code.INVALID, "billing day of month must be 1 to 31", (field,))
    return day


@dataclass(frozen=True)
class Period:
    index: int
    start: date
    end: date

    def contains(self, when: date) -> bool:
        return self.start <= when <= self.end


@dataclass(frozen=True)
class BillingSeries:
    day: int
    anchor: date
    months: int

    def __post_init__(self) -> None:
        check_billing_day(self.day)
        if self.months not in VALID_PERIOD_MONTHS:
            raise ValueError(f"a billing period is 1, 3, 6 or 12 months, not {self.months}")
        if self.anchor != clamped(self.anchor.year, self.anchor.month, self.day):
            raise ValueError(f"anchor {self.anchor} does not fall on billing day {self.day}")

    @classmethod
    def starting(cls, day: int, start: date, months: int) -> BillingSeries:
        """The series whose anchor is the first date on or after ``start`` on ``day``."""
        check_billing_day(day)
        return cls(day, first_on_or_after(start, day), months)

    def with_months(self, months: int) -> BillingSeries:
        return BillingSeries(self.day, self.anchor, months)

    def boundary(self, k: int) -> date:
        year, month = shift_month(self.anchor.year, self.anchor.month, k * self.months)
        return clamped(year, month, self.day)

    def index_of(self, when: date) -> int:
        """The k of the period containing ``when`` (largest k with B_k <= when)."""
        months = (when.year - self.anchor.year) * 12 + (when.month - self.anchor.month)
        k = months // self.months
        while self.boundary(k) > when:
            k -= 1
        while self.boundary(k + 1) <= when:
            k += 1
        return k

    def period(self, k: int) -> Period:
        return Period(k, self.boundary(k), self.boundary(k + 1) - ONE_DAY)

    def period_containing(self, when: date) -> Period:
        return self.period(self.index_of(when))

    def is_boundary(self, when: date) -> bool:
        return self.boundary(self.index_of(when)) == when

    def periods_from(self, when: date) -> Iterator[Period]:
        """Full periods, starting with the one containing ``when``; endless."""
        k = self.index_of(when)
        while True:
            yield self.period(k)
            k += 1

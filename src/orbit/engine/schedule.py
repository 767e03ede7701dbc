"""An order product's schedule: the lines it bills, their amounts and due dates.

A schedule is the order product's date range cut by the full periods of its
billing series. Each line is made of period parts (a COMBINE line has two);
a part knows its share of a full period and its exact value, so any of a
line's days can be valued pro rata. Amounts are rounded cumulatively along
the schedule, so the lines always sum to the rounded exact total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from orbit.engine.calendar import ONE_DAY, days, is_billing_day, next_billing_date_after
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.money import exact, round_fraction, round_money
from orbit.engine.proration import period_fraction
from orbit.engine.series import BillingSeries


@dataclass(frozen=True)
class Part:
    """Days of one billing period inside a line: their share of the period and exact value."""

    start: date
    end: date
    fraction: Fraction
    value: Fraction

    @property
    def days(self) -> int:
        return days(self.start, self.end)

    def portion(self, start: date, end: date) -> Part | None:
        """This part's days within [start, end], valued pro rata by days."""
        first, last = max(start, self.start), min(end, self.end)
        if first > last:
            return None
        share = Fraction(days(first, last), self.days)
        return Part(first, last, self.fraction * share, self.value * share)

    def negated(self) -> Part:
        return Part(self.start, self.end, -self.fraction, -self.value)


@dataclass(frozen=True)
class Line:
    """One schedule line: a period range, its own due date and its rounded amount."""

    start: date
    end: date
    due: date
    parts: tuple[Part, ...]
    amount: Decimal
    is_credit: bool = False

    @property
    def value(self) -> Fraction:
        return sum((p.value for p in self.parts), Fraction(0))

    @property
    def fraction(self) -> Fraction:
        return sum((p.fraction for p in self.parts), Fraction(0))

    @property
    def shown_fraction(self) -> Decimal:
        """The fraction as clients see it: half away from zero to 10 places."""
        return round_fraction(self.fraction)

    def portion(self, start: date, end: date) -> tuple[Part, ...]:
        """The line's parts restricted to [start, end], valued pro rata by days."""
        pieces = (p.portion(start, end) for p in self.parts)
        return tuple(p for p in pieces if p is not None)

    def value_of(self, start: date, end: date) -> Fraction:
        return sum((p.value for p in self.portion(start, end)), Fraction(0))

    def contains(self, when: date) -> bool:
        return self.start <= when <= self.end


@dataclass(frozen=True)
class Alignment:
    """An aligned amendment order product: its leading partial line and one-time
    lines come due on the contract's next billing date."""

    billing_day: int
    contract_end: date | None


@dataclass(frozen=True)
class OrderProductTerms:
    """Everything the schedule of one order product depends on."""

    currency: str
    charge_type: ChargeType
    start: date
    end: date | None
    quantity: int
    unit_price: Decimal
    pricing_term_months: int
    frequency: BillingFrequency
    billing_type: BillingType
    series: BillingSeries | None
    policy: ProrationPolicy = ProrationPolicy.ACTUAL_DAYS
    treatment: PartialPeriodTreatment = PartialPeriodTreatment.SEPARATE
    alignment: Alignment | None = None

    def __post_init__(self) -> None:
        if self.charge_type is ChargeType.RECURRING:
            if self.series is None:
                raise ValueError("a recurring order product needs a billing series")
            if self.series.months != self.frequency.months:
                raise ValueError("the series' period does not match the billing frequency")
        if self.pricing_term_months < 1:
            raise ValueError("pricing term must be at least one month")
        if self.end is not None and self.end < self.start - ONE_DAY:
            # (ending the day before it starts is an order product removed whole)
            raise ValueError(f"order product ends ({self.end}) before it starts ({self.start})")

    @property
    def is_recurring(self) -> bool:
        return self.charge_type is ChargeType.RECURRING

    @property
    def is_evergreen(self) -> bool:
        return self.is_recurring and self.end is None

    @property
    def monthly_rate(self) -> Fraction:
        return self.quantity * exact(self.unit_price) / self.pricing_term_months

    @property
    def period_value(self) -> Fraction:
        """The exact value of one full billing period."""
        return self.monthly_rate * self.frequency.months

    @property
    def one_time_value(self) -> Fraction:
        return self.quantity * exact(self.unit_price)

    def with_series(self, series: BillingSeries) -> OrderProductTerms:
        return replace(self, series=series)


def cumulative_amounts(
    values: Iterable[Fraction], currency: str, before: Fraction = Fraction(0)
) -> list[Decimal]:
    """Round a run of exact values cumulatively, continuing from the exact sum ``before``."""
    amounts = []
    running = before
    rounded = round_money(running, currency)
    for value in values:
        running += value
        now = round_money(running, currency)
        amounts.append(now - rounded)
        rounded = now
    return amounts


@dataclass
class _Draft:
    start: date
    end: date
    parts: list[Part] = field(default_factory=list)


def build_schedule(terms: OrderProductTerms, through: date | None = None) -> list[Line]:
    """The whole schedule, or for an evergreen order product the lines starting on or
    before ``through``."""
    if not terms.is_recurring:
        return [_one_time_line(terms)]
    if terms.end is None and through is None:
        raise ValueError("an evergreen schedule needs a 'through' date")
    if terms.end is None and terms.treatment is PartialPeriodTreatment.COMBINE:
        # reach the first full period, so that a leading partial line is merged with it
        # however far ahead the schedule is first built
        assert terms.series is not None and through is not None
        opening = terms.series.period_containing(terms.start)
        if opening.start != terms.start:
            through = max(through, opening.end + ONE_DAY)
    drafts = _cut(terms, terms.start, terms.end, through)
    if terms.treatment is PartialPeriodTreatment.COMBINE:
        drafts = _combine_leading(terms, drafts)
    lines = _finish(terms, drafts, Fraction(0))
    if lines and terms.alignment is not None and terms.billing_type is BillingType.ADVANCE:
        first = lines[0]
        assert terms.series is not None
        if first.start != terms.series.period_containing(first.start).start:
            lines[0] = replace(first, due=_aligned_due(terms.alignment, terms.start))
    return lines


def extend_schedule(terms: OrderProductTerms, lines: Sequence[Line], through: date) -> list[Line]:
    """New lines of an evergreen schedule after ``lines``, up to ``through``."""
    if not terms.is_evergreen:
        return []
    regular = [line for line in lines if not line.is_credit]
    if not regular:
        return build_schedule(terms, through)
    start = regular[-1].end + ONE_DAY
    if start > through:
        return []
    before = sum((line.value for line in regular), Fraction(0))
    return _finish(terms, _cut(terms, start, None, through), before)


def continue_schedule(
    terms: OrderProductTerms,
    start: date,
    end: date | None,
    before: Fraction,
    through: date | None = None,
) -> list[Line]:
    """Lines from ``start`` on the terms' series, rounding on from the exact sum ``before``."""
    return _finish(terms, _cut(terms, start, end, through), before)


def _one_time_line(terms: OrderProductTerms) -> Line:
    value = terms.one_time_value
    due = terms.start
    if terms.alignment is not None and not is_billing_day(terms.start, terms.alignment.billing_day):
        due = _aligned_due(terms.alignment, terms.start)
    part = Part(terms.start, terms.start, Fraction(1), value)
    return Line(terms.start, terms.start, due, (part,), round_money(value, terms.currency))


def _aligned_due(alignment: Alignment, effective: date) -> date:
    """The contract's next billing date after ``effective``, if the contract lasts that
    long; otherwise the effective date itself."""
    next_date = next_billing_date_after(effective, alignment.billing_day)
    if alignment.contract_end is None or next_date <= alignment.contract_end:
        return next_date
    return effective


def _cut(
    terms: OrderProductTerms, start: date, end: date | None, through: date | None
) -> list[_Draft]:
    """Cut [start, end] (or [start, ...) up to ``through``) by the full periods."""
    series = terms.series
    assert series is not None
    drafts: list[_Draft] = []
    for period in series.periods_from(start):
        first = max(start, period.start)
        if end is not None and first > end:
            break
        if end is None and (through is None or first > through):
            break
        last = period.end if end is None else min(end, period.end)
        fraction = period_fraction(terms.policy, series, first, last)
        part = Part(first, last, fraction, terms.period_value * fraction)
        drafts.append(_Draft(first, last, [part]))
    return drafts


def _combine_leading(terms: OrderProductTerms, drafts: list[_Draft]) -> list[_Draft]:
    if len(drafts) < 2:
        return drafts
    assert terms.series is not None
    leading, following = drafts[0], drafts[1]
    period = terms.series.period_containing(leading.start)
    following_period = terms.series.period_containing(following.start)
    is_partial = leading.start != period.start
    is_full = following.start == following_period.start and following.end == following_period.end
    if not (is_partial and is_full):
        return drafts
    merged = _Draft(leading.start, following.end, leading.parts + following.parts)
    return [merged, *drafts[2:]]


def _finish(terms: OrderProductTerms, drafts: list[_Draft], before: Fraction) -> list[Line]:
    values = [sum((p.value for p in d.parts), Fraction(0)) for d in drafts]
    amounts = cumulative_amounts(values, terms.currency, before)
    return [
        Line(d.start, d.end, own_due(terms.billing_type, d.start, d.end), tuple(d.parts), amount)
        for d, amount in zip(drafts, amounts, strict=True)
    ]


def own_due(billing_type: BillingType, start: date, end: date) -> date:
    """In advance: on the line's first day. In arrears: the day after its last."""
    return start if billing_type is BillingType.ADVANCE else end + ONE_DAY


def schedule_total(lines: Iterable[Line], through: date | None = None) -> Decimal:
    """The sum of amounts (of lines starting on or before ``through``, when given)."""
    return sum(
        (line.amount for line in lines if through is None or line.start <= through),
        Decimal(0),
    )


@dataclass(frozen=True)
class DueState:
    """What the effective due date of a stored line depends on."""

    due: date
    billed: bool = False
    is_credit: bool = False
    override: date | None = None


def effective_due_dates(lines: Sequence[DueState]) -> list[date]:
    """Effective due dates, in schedule order.

    The first unbilled line is due on its override if it carries one; every other
    unbilled line on the later of its own due date and the previous unbilled line's
    effective due date, so effective dates never go backwards (an override bound to
    a line waits while an earlier line is unbilled again). Billed lines and credit
    lines constrain nothing.
    """
    result: list[date] = []
    previous: date | None = None
    for line in lines:
        if line.is_credit or line.billed:
            result.append(line.due)
            continue
        if line.override is not None and previous is None:
            effective = line.override
        elif previous is None:
            effective = line.due
        else:
            effective = max(line.due, previous)
        result.append(effective)
        previous = effective
    return result

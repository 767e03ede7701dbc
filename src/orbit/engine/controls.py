"""Billing-date controls: next-billing-date and bill-through overrides, and a
change of a contract's billing day. Each touches only unbilled lines and never
changes an order product's total."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from orbit.engine.calendar import ONE_DAY, first_on_or_after
from orbit.engine.errors import Code, EngineError
from orbit.engine.lines import StoredLine, exact_before, join_lines, keep_until, split_line
from orbit.engine.proration import period_fraction
from orbit.engine.schedule import (
    Line,
    OrderProductTerms,
    Part,
    cumulative_amounts,
    own_due,
)
from orbit.engine.series import BillingSeries, check_billing_day


def first_unbilled(stored: Sequence[StoredLine]) -> int | None:
    """Position of the first unbilled regular line, or None when all are billed."""
    for index, item in enumerate(stored):
        if not item.billed and not item.line.is_credit:
            return index
    return None


@dataclass(frozen=True)
class BillThroughCut:
    """The first unbilled line, replaced by the two lines cut from it."""

    replaced: StoredLine
    head: Line
    tail: Line


def plan_bill_through(
    terms: OrderProductTerms, stored: Sequence[StoredLine], through: date
) -> BillThroughCut:
    """Cut the first unbilled line so that it bills through ``through``."""
    index = first_unbilled(stored)
    if index is None:
        raise EngineError(Code.INVALID_STATE, "the order product is fully billed")
    item = stored[index]
    line = item.line
    if not line.start <= through < line.end:
        raise EngineError(
            Code.OUT_OF_RANGE,
            f"bill-through date must fall inside the next unbilled line "
            f"[{line.start}, {line.end}] and before its last day",
            ("billThroughDate",),
        )
    head, tail = split_line(
        line, through, exact_before(stored, index), terms.currency, terms.billing_type
    )
    return BillThroughCut(item, head, tail)


@dataclass(frozen=True)
class BillThroughJoin:
    replaced: tuple[StoredLine, StoredLine]
    joined: Line


def plan_join(
    terms: OrderProductTerms, stored: Sequence[StoredLine], through: date
) -> BillThroughJoin | None:
    """Join back the two lines a bill-through override cut at ``through``, while both
    are unbilled; None when they cannot be joined any more."""
    for index in range(len(stored) - 1):
        head, tail = stored[index], stored[index + 1]
        if head.line.end == through and tail.line.start == through + ONE_DAY:
            if head.billed or tail.billed or head.line.is_credit or tail.line.is_credit:
                return None
            joined = join_lines(
                head.line,
                tail.line,
                exact_before(stored, index),
                terms.currency,
                terms.billing_type,
            )
            return BillThroughJoin((head, tail), joined)
    return None


def billing_day_change_start(today: date, old_day: int) -> date:
    """C: the first date on or after today that falls on the old billing day."""
    return first_on_or_after(today, old_day)


def new_series_after_change(today: date, old_day: int, new_day: int) -> BillingSeries:
    """The contract's series after a change of billing day (months set per product)."""
    check_billing_day(new_day)
    start = billing_day_change_start(today, old_day)
    return BillingSeries.starting(new_day, start, 1)


@dataclass(frozen=True)
class Recut:
    """Unbilled lines replaced by lines on a new series."""

    replaced: tuple[StoredLine, ...]
    lines: tuple[Line, ...]
    series: BillingSeries


def plan_recut(
    terms: OrderProductTerms,
    stored: Sequence[StoredLine],
    change_start: date,
    new_series: BillingSeries,
) -> Recut:
    """Re-cut the unbilled lines from ``change_start`` on ``new_series``.

    A line straddling that date is cut the day before; the remaining exact value is
    spread over a partial line up to the first new boundary and full periods after
    it, the last line taking what is left, so the total never changes.
    """
    series = new_series.with_months(terms.frequency.months)
    regular = [s for s in stored if not s.line.is_credit]
    billed_ends = [s.line.end for s in regular if s.billed]
    # a reduction's line with days worth nothing (closed by a credit without rebill,
    # docs/billing-rules.md 10.8) stays as it is: re-cutting would value those days again
    closed_ends = [
        s.line.end
        for s in regular
        if not s.billed and terms.period_value != 0 and any(p.value == 0 for p in s.line.parts)
    ]
    start = max([change_start, terms.start, *(end + ONE_DAY for end in billed_ends + closed_ends)])
    # a line billed before a termination and credited with rebill since runs past the
    # order product's end (a credit line gives back its days after the end): it is
    # billed again as it stands, and nothing is re-cut from its start on
    overhang = [
        s.line.start
        for s in regular
        if not s.billed and terms.end is not None and s.line.end > terms.end
    ]
    replaced: list[StoredLine] = []
    head: Line | None = None
    remaining = Fraction(0)
    before: Fraction | None = None
    horizon: date | None = None
    for index, item in enumerate(stored):
        line = item.line
        if line.is_credit or item.billed or line.end < start:
            continue
        if overhang and line.end >= min(overhang):
            continue
        if before is None:
            before = exact_before(stored, index)
        replaced.append(item)
        horizon = line.end
        if line.start < start:
            head = keep_until(line, start - ONE_DAY, before, terms.currency, terms.billing_type)
            before += head.value
            remaining += line.value - head.value
        else:
            remaining += line.value
    if not replaced or before is None:
        return Recut((), (), series)
    new_terms = terms.with_series(series)
    end = terms.end
    if end is None:
        # an evergreen schedule is re-cut up to the end of a new period, so that
        # extending it later goes on with whole periods
        assert horizon is not None
        last_day = series.period_containing(max(horizon, start)).end
    else:
        last_day = end if not overhang else min(end, min(overhang) - ONE_DAY)
    drafts = _cut_on(new_terms, start, last_day)
    if end is not None and drafts:
        # the last line takes what is left, so the total does not move
        others = sum((value for _, _, _, value in drafts[:-1]), Fraction(0))
        s, e, _, _ = drafts[-1]
        value = remaining - others
        period_value = new_terms.period_value
        fraction = value / period_value if period_value else drafts[-1][2]
        drafts[-1] = (s, e, fraction, value)
    amounts = cumulative_amounts([d[3] for d in drafts], terms.currency, before)
    lines: list[Line] = [] if head is None else [head]
    for (s, e, fraction, value), amount in zip(drafts, amounts, strict=True):
        lines.append(
            Line(s, e, own_due(terms.billing_type, s, e), (Part(s, e, fraction, value),), amount)
        )
    return Recut(tuple(replaced), tuple(lines), series)


def _cut_on(
    terms: OrderProductTerms, start: date, end: date | None
) -> list[tuple[date, date, Fraction, Fraction]]:
    series = terms.series
    assert series is not None and end is not None
    drafts = []
    for period in series.periods_from(start):
        first = max(start, period.start)
        if first > end:
            break
        last = min(end, period.end)
        fraction = period_fraction(terms.policy, series, first, last)
        drafts.append((first, last, fraction, terms.period_value * fraction))
    return drafts


@dataclass(frozen=True)
class OverrideTarget:
    key: Hashable
    aligned: bool
    #: effective due date of the first unbilled line; None when fully billed
    next_due: date | None


def contract_override_targets(order_products: Sequence[OverrideTarget]) -> list[Hashable]:
    """The aligned order products whose first unbilled line has the contract's
    earliest effective due date."""
    candidates = [op for op in order_products if op.aligned and op.next_due is not None]
    if not candidates:
        return []
    earliest = min(op.next_due for op in candidates if op.next_due is not None)
    return [op.key for op in candidates if op.next_due == earliest]

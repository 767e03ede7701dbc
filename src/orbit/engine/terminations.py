"""Ending an order product early: what is removed, cut and credited.

Terminating at ``cut`` (the day before the effective date) keeps every day up
to and including ``cut``: unbilled lines after it are removed, the unbilled
line holding it is cut, billed lines never change, and the billed days after
it (except days already reversed by a credit note) are credited by one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from orbit.engine.calendar import ONE_DAY
from orbit.engine.lines import StoredLine, exact_before, keep_until
from orbit.engine.money import round_money
from orbit.engine.schedule import Line, OrderProductTerms, Part


@dataclass(frozen=True)
class Termination:
    cut: date
    #: unbilled lines removed whole, as they stood
    removed: tuple[StoredLine, ...]
    #: the unbilled line holding ``cut``, as it stood, and as it will stand
    cut_line: StoredLine | None
    kept_line: Line | None
    credit_line: Line | None
    #: the change of the order product's total (lines starting on or before
    #: ``through`` only, for an evergreen order product)
    total_change: Decimal

    @property
    def changes_anything(self) -> bool:
        return bool(self.removed or self.cut_line or self.credit_line)

    @property
    def removed_or_cut(self) -> tuple[StoredLine, ...]:
        """Every unbilled line the termination touches, in schedule order."""
        lines = list(self.removed)
        if self.cut_line is not None:
            lines.append(self.cut_line)
        return tuple(sorted(lines, key=lambda s: s.line.start))


def terminate(
    terms: OrderProductTerms,
    stored: Sequence[StoredLine],
    cut: date,
    credit_due: date,
    through: date | None = None,
) -> Termination:
    """Plan the termination of an order product at ``cut``.

    ``stored`` is its schedule in order; for an evergreen order product it must
    reach past ``cut`` (and ``through``, for the total).
    """
    counted = (
        (lambda line: line.start <= through)
        if (terms.is_evergreen and through is not None)
        else (lambda line: True)
    )
    removed: list[StoredLine] = []
    cut_line: StoredLine | None = None
    kept_line: Line | None = None
    credited_parts: list[Part] = []
    change = Decimal(0)

    for index, item in enumerate(stored):
        line = item.line
        if line.is_credit or line.end <= cut:
            continue
        if item.billed:
            if not item.reversed:
                credited_parts.extend(line.portion(max(line.start, cut + ONE_DAY), line.end))
            continue
        if line.start > cut:
            removed.append(item)
            if counted(line):
                change -= line.amount
            continue
        before = exact_before(stored, index)
        kept_line = keep_until(line, cut, before, terms.currency, terms.billing_type)
        cut_line = item
        if counted(line):
            change += kept_line.amount - line.amount

    credit_line = None
    if credited_parts:
        value = sum((p.value for p in credited_parts), Fraction(0))
        first = min(p.start for p in credited_parts)
        last = max(p.end for p in credited_parts)
        credit_line = Line(
            first,
            last,
            credit_due,
            tuple(p.negated() for p in credited_parts),
            -round_money(value, terms.currency),
            is_credit=True,
        )
        change += credit_line.amount
    return Termination(cut, tuple(removed), cut_line, kept_line, credit_line, change)


def credit_share(credit: Line, start: date, end: date, currency: str) -> Decimal:
    """The part of a termination credit line's amount that gives back the days
    [start, end] (<= 0).

    The credit line's amount is shared along its days by cumulative rounding, so the
    shares of adjacent ranges add up exactly to the line's amount.
    """

    def through(last: date) -> Fraction:
        return (
            sum((p.value for p in credit.portion(credit.start, last)), Fraction(0))
            if last >= credit.start
            else Fraction(0)
        )

    return round_money(through(end), currency) - round_money(through(start - ONE_DAY), currency)


@dataclass(frozen=True)
class Remainder:
    """What is left to give back of a billed line: its days not credited yet and
    the amount billed for them."""

    start: date
    end: date
    amount: Decimal


def left_to_credit(billed: Line, credits: Sequence[Line], currency: str) -> Remainder | None:
    """The days of ``billed`` (a billed line) that no termination credit line has given
    back yet, and what is still billed for them: its amount less the credit lines'
    shares of its days. None when nothing is left.

    For a reduction's (negative) line the termination's credit is positive; what is
    left is negative then."""
    amount = billed.amount
    first_credited: date | None = None
    for credit in credits:
        if not credit.is_credit or credit.end < billed.start or credit.start > billed.end:
            continue
        covered = credit.portion(billed.start, billed.end)
        if not covered:
            continue
        amount += credit_share(credit, billed.start, billed.end, currency)
        start = min(p.start for p in covered)
        first_credited = start if first_credited is None else min(first_credited, start)
    end = billed.end if first_credited is None else first_credited - ONE_DAY
    if end < billed.start or amount == 0 or (amount > 0) != (billed.amount > 0):
        return None
    return Remainder(billed.start, end, amount)

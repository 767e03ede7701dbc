"""Operations on stored schedule lines: cutting a line in two and joining it back.

Cuts share a line's exact value by valued days and round cumulatively from
the exact sum of the lines before, so an order product's total never moves.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from orbit.engine.calendar import ONE_DAY
from orbit.engine.enums import BillingType
from orbit.engine.schedule import Line, cumulative_amounts, own_due


@dataclass(frozen=True)
class StoredLine:
    """A persisted schedule line as the engine sees it."""

    key: Hashable
    line: Line
    billed: bool = False
    #: billed, then reversed by a credit note that did not rebill it
    reversed: bool = False
    override: date | None = None


def exact_before(lines: Sequence[StoredLine | Line], index: int) -> Fraction:
    """The exact sum of the regular (non-credit) lines before position ``index``."""
    total = Fraction(0)
    for item in lines[:index]:
        line = item.line if isinstance(item, StoredLine) else item
        if not line.is_credit:
            total += line.value
    return total


def split_line(
    line: Line, last_day: date, before: Fraction, currency: str, billing_type: BillingType
) -> tuple[Line, Line]:
    """Cut ``line`` after ``last_day`` into two lines that share its exact value by days."""
    if not line.start <= last_day < line.end:
        raise ValueError(f"{last_day} is not inside [{line.start}, {line.end - ONE_DAY}]")
    head_parts = line.portion(line.start, last_day)
    tail_parts = line.portion(last_day + ONE_DAY, line.end)
    head_value = sum((p.value for p in head_parts), Fraction(0))
    tail_value = sum((p.value for p in tail_parts), Fraction(0))
    head_amount, tail_amount = cumulative_amounts([head_value, tail_value], currency, before)
    if billing_type is BillingType.ADVANCE:
        head_due, tail_due = line.due, last_day + ONE_DAY
    else:
        head_due, tail_due = last_day + ONE_DAY, line.due
    head = Line(line.start, last_day, head_due, head_parts, head_amount)
    tail = Line(last_day + ONE_DAY, line.end, tail_due, tail_parts, tail_amount)
    return head, tail


def join_lines(
    head: Line, tail: Line, before: Fraction, currency: str, billing_type: BillingType
) -> Line:
    """Join two adjacent lines cut by ``split_line`` back into one."""
    if head.end + ONE_DAY != tail.start:
        raise ValueError("only adjacent lines can be joined")
    parts = head.parts + tail.parts
    (amount,) = cumulative_amounts([head.value + tail.value], currency, before)
    due = head.due if billing_type is BillingType.ADVANCE else tail.due
    return Line(head.start, tail.end, due, parts, amount)


def keep_until(
    line: Line, last_day: date, before: Fraction, currency: str, billing_type: BillingType
) -> Line:
    """``line`` cut to end on ``last_day``; its amount rounded on from ``before``."""
    parts = line.portion(line.start, last_day)
    value = sum((p.value for p in parts), Fraction(0))
    (amount,) = cumulative_amounts([value], currency, before)
    due = (
        line.due
        if billing_type is BillingType.ADVANCE
        else own_due(billing_type, line.start, last_day)
    )
    return Line(line.start, last_day, due, parts, amount)

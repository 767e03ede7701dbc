"""Converting between stored rows and the engine's plain values."""

from __future__ import annotations

import json
from collections.abc import Collection, Container, Iterable, Sequence
from datetime import date
from fractions import Fraction

from orbit.db.models import OrderProduct, ScheduleLine
from orbit.engine.enums import ChargeType
from orbit.engine.lines import StoredLine
from orbit.engine.schedule import (
    DueState,
    Line,
    OrderProductTerms,
    Part,
    effective_due_dates,
    extend_schedule,
)
from orbit.engine.series import BillingSeries


def rational_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def parse_rational(text: str) -> Fraction:
    return Fraction(text)


def terms_of(op: OrderProduct) -> OrderProductTerms:
    """The engine's view of a stored order product."""
    recurring = op.charge_type is ChargeType.RECURRING
    series = (
        BillingSeries(op.billing_day_of_month, op.series_anchor, op.billing_frequency.months)
        if recurring
        else None
    )
    return OrderProductTerms(
        currency=op.currency,
        charge_type=op.charge_type,
        start=op.start_date,
        end=op.end_date,
        quantity=op.quantity,
        unit_price=op.unit_price,
        pricing_term_months=op.pricing_term_months,
        frequency=op.billing_frequency,
        billing_type=op.billing_type,
        series=series,
        policy=op.proration_policy,
        treatment=op.partial_period_treatment,
    )


def line_of(row: ScheduleLine) -> Line:
    value = parse_rational(row.value)
    fraction = parse_rational(row.fraction)
    if row.parts:
        parts = tuple(
            Part(date.fromisoformat(s), date.fromisoformat(e), Fraction(f), Fraction(v))
            for s, e, f, v in json.loads(row.parts)
        )
    else:
        parts = (Part(row.period_start, row.period_end, fraction, value),)
    return Line(row.period_start, row.period_end, row.due_date, parts, row.amount, row.is_credit)


def parts_text(line: Line) -> str | None:
    if len(line.parts) == 1:
        (part,) = line.parts
        if part.start == line.start and part.end == line.end:
            return None
    return json.dumps(
        [
            [
                p.start.isoformat(),
                p.end.isoformat(),
                rational_text(p.fraction),
                rational_text(p.value),
            ]
            for p in line.parts
        ]
    )


def row_of(op: OrderProduct, line: Line) -> ScheduleLine:
    """An unsaved row for ``line`` of ``op``."""
    return ScheduleLine(
        order_product_id=op.id,
        account_id=op.account_id,
        period_start=line.start,
        period_end=line.end,
        due_date=line.due,
        amount=line.amount,
        value=rational_text(line.value),
        fraction=rational_text(line.fraction),
        parts=parts_text(line),
        is_credit=line.is_credit,
    )


def stored_lines(
    rows: Sequence[ScheduleLine],
    billed: Iterable[int] = (),
    reversed_: Iterable[int] = (),
    override: tuple[int | None, date | None] = (None, None),
) -> list[StoredLine]:
    """Engine lines for stored rows, in schedule order, with their billed state."""
    billed_ids, reversed_ids = set(billed), set(reversed_)
    override_line, override_date = override
    ordered = sorted(rows, key=schedule_order)
    return [
        StoredLine(
            row.id,
            line_of(row),
            billed=row.id in billed_ids,
            reversed=row.id in reversed_ids,
            override=override_date if row.id == override_line else None,
        )
        for row in ordered
    ]


def schedule_order(row: ScheduleLine) -> tuple[date, bool, int]:
    return (row.period_start, row.is_credit, row.id or 0)


def schedule_ahead(
    op: OrderProduct, rows: Sequence[ScheduleLine], billed: Collection[int], through: date
) -> list[tuple[Line, date]]:
    """The lines of an evergreen order product's schedule after its stored ``rows`` (its
    lines not removed), up to ``through``, each with its effective due date.

    They are computed, never stored: exactly the lines that storing the schedule ahead
    (``services.billing.ensure_horizon``) would add, so a read sees beyond the stored
    horizon without writing. Empty for an order product that is not evergreen.
    """
    if op.end_date is not None or op.scheduled_through is None:
        return []
    ordered = sorted(rows, key=schedule_order)
    ahead = extend_schedule(terms_of(op), [line_of(row) for row in ordered], through)
    if not ahead:
        return []
    states = due_states(op, ordered, billed)
    states += [DueState(line.due, is_credit=line.is_credit) for line in ahead]
    dues = effective_due_dates(states)[len(ordered) :]
    return list(zip(ahead, dues, strict=True))


def due_states(
    op: OrderProduct, ordered: Sequence[ScheduleLine], billed: Container[int]
) -> list[DueState]:
    """What the effective due dates of an order product's stored lines (in schedule
    order) depend on: their own dates, billed state and the override bound to one."""
    return [
        DueState(
            row.due_date,
            billed=row.id in billed,
            is_credit=row.is_credit,
            override=op.next_billing_date_override if row.id == op.override_line_id else None,
        )
        for row in ordered
    ]

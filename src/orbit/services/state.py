"""Reading what has been billed: the billed state of stored schedule lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from orbit.db.models import (
    DocumentType,
    InvoiceLine,
    InvoiceStatus,
    OrderProduct,
    ScheduleLine,
)
from orbit.engine.calendar import add_months
from orbit.engine.lines import StoredLine
from orbit.engine.schedule import effective_due_dates
from orbit.services.schedules import due_states, schedule_order, stored_lines

#: how far ahead evergreen schedules are stored
HORIZON_MONTHS = 13


def horizon(start: date, today: date) -> date:
    return add_months(max(start, today), HORIZON_MONTHS)


async def billed_lines(line_ids: Iterable[int]) -> dict[int, int]:
    """schedule line id -> id of the document that bills it now."""
    ids = list(line_ids)
    if not ids:
        return {}
    result: dict[int, int] = {}
    for chunk in _chunks(ids, 5000):
        rows = await InvoiceLine.filter(schedule_line_id__in=chunk, bills=True).values_list(
            "schedule_line_id", "invoice_id"
        )
        result.update({int(line): int(invoice) for line, invoice in rows})
    return result


async def reversed_lines(billed: dict[int, int]) -> set[int]:
    """Schedule lines (of ``billed``: line id -> id of the document billing it) given
    back by a posted credit note without rebill: they stay billed, but their days are
    at 0 already. That is a line of the credited invoice that charged the customer, or
    a reduction's line neutralised by such a credit (docs/billing-rules.md)."""
    if not billed:
        return set()
    result: set[int] = set()
    for chunk in _chunks(sorted(billed), 5000):
        rows = await InvoiceLine.filter(
            schedule_line_id__in=chunk,
            invoice__document_type=DocumentType.CREDIT_NOTE,
            invoice__status=InvoiceStatus.POSTED,
            invoice__rebill=False,
        ).values_list("schedule_line_id", flat=True)
        result.update(int(r) for r in rows)
    return result


async def schedules_of(ops: Sequence[OrderProduct]) -> dict[int, list[StoredLine]]:
    """Each order product's stored schedule, in order, with billed state."""
    if not ops:
        return {}
    rows = await ScheduleLine.filter(order_product_id__in=[op.id for op in ops], removed=False)
    billed = await billed_lines(row.id for row in rows)
    reversed_ids = await reversed_lines(billed)
    by_op: dict[int, list[ScheduleLine]] = {op.id: [] for op in ops}
    for row in rows:
        by_op[row.order_product_id].append(row)
    return {
        op.id: stored_lines(
            by_op[op.id],
            billed,
            reversed_ids,
            (op.override_line_id, op.next_billing_date_override),
        )
        for op in ops
    }


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class ScheduleEntry:
    """A stored schedule line with its billed state and effective due date."""

    row: ScheduleLine
    effective_due: date
    invoice_id: int | None

    @property
    def billed(self) -> bool:
        return self.invoice_id is not None


async def schedule_entries(ops: Sequence[OrderProduct]) -> dict[int, list[ScheduleEntry]]:
    """Each order product's stored schedule, in order, with effective due dates."""
    if not ops:
        return {}
    rows = await ScheduleLine.filter(order_product_id__in=[op.id for op in ops], removed=False)
    billed = await billed_lines(row.id for row in rows)
    by_op: dict[int, list[ScheduleLine]] = {op.id: [] for op in ops}
    for row in rows:
        by_op[row.order_product_id].append(row)
    result = {}
    for op in ops:
        ordered = sorted(by_op[op.id], key=schedule_order)
        states = due_states(op, ordered, billed)
        result[op.id] = [
            ScheduleEntry(row, effective, billed.get(row.id))
            for row, effective in zip(ordered, effective_due_dates(states), strict=True)
        ]
    return result


@dataclass(frozen=True)
class BillingSummary:
    """Where an order product's billing stands, without loading its schedule."""

    next_due: date | None
    billed_through: date | None
    billed_amount: Decimal


_SUMMARY_LINES = """
SELECT sl.order_product_id AS op, sl.id AS id, sl.period_start AS period_start,
       sl.period_end AS period_end, sl.due_date AS due_date, sl.amount AS amount,
       sl.is_credit AS is_credit,
       EXISTS (SELECT 1 FROM invoice_lines il
               WHERE il.schedule_line_id = sl.id AND il.bills) AS billed
FROM schedule_lines sl
WHERE sl.order_product_id IN ({ids}) AND NOT sl.removed
"""


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def billing_summaries(ops: Sequence[OrderProduct]) -> dict[int, BillingSummary]:
    """Next billing date (the first unbilled line's, override included), billed-through
    date and billed amount of each order product, from one statement."""
    if not ops:
        return {}
    from orbit.db.connection import db

    ids = sorted({op.id for op in ops})
    rows = await db().execute_query_dict(
        _SUMMARY_LINES.format(ids=", ".join(str(int(i)) for i in ids))
    )
    first_unbilled: dict[int, tuple[date, int, date]] = {}
    billed_through: dict[int, date] = {}
    billed_amount: dict[int, Decimal] = {}
    for row in rows:
        op_id = int(row["op"])
        if row["billed"]:
            billed_amount[op_id] = billed_amount.get(op_id, Decimal(0)) + Decimal(
                str(row["amount"])
            )
            if not row["is_credit"]:
                end = _day(row["period_end"])
                billed_through[op_id] = max(end, billed_through.get(op_id, end))
        elif not row["is_credit"]:
            key = (_day(row["period_start"]), int(row["id"]), _day(row["due_date"]))
            if op_id not in first_unbilled or key < first_unbilled[op_id]:
                first_unbilled[op_id] = key
    result = {}
    for op in ops:
        first = first_unbilled.get(op.id)
        next_due = None
        if first is not None:
            override = op.next_billing_date_override if op.override_line_id == first[1] else None
            next_due = override or first[2]
        result[op.id] = BillingSummary(
            next_due, billed_through.get(op.id), billed_amount.get(op.id, Decimal(0))
        )
    return result

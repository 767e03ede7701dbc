"""What has been billed for each day of each order product, and what should have been.

The *ledger* side reads what Orbit stored: every line of every document that is not
cancelled (invoices, credit notes, the termination credit lines billed on them) and
every live schedule line not billed yet (regular lines and termination credit lines
still to go out). Each line's amount is spread over its days pro rata by the exact
value of those days (spec section 4, "Valuing days of a line").

The *model* side is kept by the test itself, from the order products' terms and the
engine's pure schedule function (``build_schedule``), and the operations the test
performed: which days were terminated, which were credited without rebill.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from orbit.db.models import Invoice, InvoiceLine, InvoiceStatus, OrderProduct, ScheduleLine
from orbit.engine.money import exact, minor_units
from orbit.engine.schedule import Line, build_schedule
from orbit.services.schedules import line_of, terms_of

ONE = timedelta(days=1)


def day_values(
    line: Line, start: date | None = None, end: date | None = None
) -> dict[date, Fraction]:
    """The exact value of each day of ``line`` (within [start, end] when given)."""
    result: dict[date, Fraction] = {}
    for part in line.parts:
        per_day = part.value / part.days
        day = part.start if start is None else max(part.start, start)
        last = part.end if end is None else min(part.end, end)
        while day <= last:
            result[day] = result.get(day, Fraction(0)) + per_day
            day += ONE
    return result


@dataclass
class Spread:
    """One amount spread over days, with its share of the rounding tolerance."""

    amount: Decimal
    weights: dict[date, Fraction]
    #: minor units of rounding this amount may carry (1 for a rounded line)
    slack: int = 1


def spread(amount: Decimal, values: dict[date, Fraction], slack: int = 1) -> Spread:
    total = sum(values.values(), Fraction(0))
    if total == 0 or any(v * total < 0 for v in values.values() if v):
        # nothing to weigh by (a zero price): spread evenly over the days
        count = len(values) or 1
        return Spread(amount, {day: Fraction(1, count) for day in values}, slack)
    return Spread(amount, {day: v / total for day, v in values.items()}, slack)


@dataclass
class Ledger:
    """Per order product: what each day nets over all documents and pending lines."""

    net: dict[int, dict[date, Fraction]] = field(default_factory=dict)
    tolerance: dict[int, dict[date, Fraction]] = field(default_factory=dict)

    def add(self, op_id: int, item: Spread, unit: Fraction) -> None:
        net = self.net.setdefault(op_id, defaultdict(Fraction))
        tol = self.tolerance.setdefault(op_id, defaultdict(Fraction))
        for day, weight in item.weights.items():
            net[day] += exact(item.amount) * weight
            tol[day] += weight * unit * item.slack


async def read_ledger(account_id: int, currency: str) -> Ledger:
    unit = Fraction(1, 10 ** minor_units(currency))
    ledger = Ledger()
    rows = {row.id: row for row in await ScheduleLine.filter(account_id=account_id)}
    documents = {
        doc.id: doc
        for doc in await Invoice.filter(account_id=account_id).exclude(
            status=InvoiceStatus.CANCELLED
        )
    }
    lines = await InvoiceLine.filter(invoice_id__in=list(documents)).order_by("id")
    billing_now = {line.schedule_line_id for line in lines if line.bills}
    for doc_line in lines:
        row = rows[doc_line.schedule_line_id]
        stored = line_of(row)
        values = day_values(stored, doc_line.period_start, doc_line.period_end)
        if not values or (sum(values.values(), Fraction(0)) == 0 and stored.value != 0):
            # the schedule line changed since (cut after a credit with rebill): its days
            # as they were billed are the document line's period, evenly
            values = {}
            day = doc_line.period_start
            while day <= doc_line.period_end:
                values[day] = Fraction(1)
                day += ONE
        mirrored = _is_full_mirror(doc_line, documents, lines)
        ledger.add(
            doc_line.order_product_id, spread(doc_line.amount, values, 1 if mirrored else 2), unit
        )
    for row in rows.values():
        if row.removed or row.id in billing_now:
            continue
        stored = line_of(row)
        ledger.add(row.order_product_id, spread(row.amount, day_values(stored)), unit)
    return ledger


def _is_full_mirror(
    line: InvoiceLine, documents: dict[int, Invoice], lines: list[InvoiceLine]
) -> bool:
    doc = documents[line.invoice_id]
    if doc.reverses_id is None:
        return True
    for other in lines:
        if other.invoice_id == doc.reverses_id and other.schedule_line_id == line.schedule_line_id:
            return other.amount == -line.amount
    return False


@dataclass
class OpModel:
    """The test's own account of one order product."""

    op_id: int
    line_id: int
    start: date
    end: date
    quantity: int
    raw: dict[date, Fraction]
    created: int
    waived: set[date] = field(default_factory=set)
    #: a reduction's days given back already by a credit without rebill of the line
    neutral: set[date] = field(default_factory=set)

    def expected(self, day: date) -> Fraction:
        if not self.start <= day <= self.end or day in self.waived or day in self.neutral:
            return Fraction(0)
        return self.raw.get(day, Fraction(0))


def model_of(op: OrderProduct, created: int) -> OpModel:
    terms = terms_of(op)
    raw: dict[date, Fraction] = {}
    for line in build_schedule(terms):
        raw.update(day_values(line))
    assert op.end_date is not None
    return OpModel(
        op.id, op.contract_line_id, op.start_date, op.end_date, op.quantity, raw, created
    )


def days_of(start: date, end: date) -> Iterable[date]:
    day = start
    while day <= end:
        yield day
        day += ONE

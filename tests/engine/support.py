"""Builders and readers for the engine's tests.

Dates and amounts are written the way the spec writes them ("2026-03-10",
"42.58"). ``apply`` and ``run`` stand in for the database layer and the
invoice run, so a test can amend a contract, bill it and amend it again.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

from orbit.engine.amendments import (
    AmendmentPlan,
    ContractLineState,
    ContractState,
    OrderProductState,
    ProductInfo,
)
from orbit.engine.calendar import ONE_DAY, add_months, first_on_or_after
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    ContractStatus,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.lines import StoredLine
from orbit.engine.money import minor_units, round_money
from orbit.engine.schedule import (
    Alignment,
    DueState,
    Line,
    OrderProductTerms,
    build_schedule,
    effective_due_dates,
)
from orbit.engine.series import BillingSeries
from orbit.engine.terminations import Termination

VECTORS_FILE = Path(__file__).parent / "data" / "schedules.json"

DateLike = date | str


def day(value: DateLike) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def unit(currency: str) -> Decimal:
    """One minor unit of ``currency``: 0.01 USD, 1 JPY, 0.001 BHD."""
    return Decimal(1).scaleb(-minor_units(currency))


def load_vectors() -> list[dict]:
    return json.loads(VECTORS_FILE.read_text())["vectors"]


# --- order products -----------------------------------------------------------


def terms(
    start: DateLike,
    end: DateLike | None = None,
    *,
    bdom: int | None = None,
    anchored_from: DateLike | None = None,
    quantity: int = 1,
    price: str | Decimal = "10.00",
    pricing_term: int = 1,
    frequency: BillingFrequency | str = BillingFrequency.MONTHLY,
    billing: BillingType | str = BillingType.ADVANCE,
    policy: ProrationPolicy | str = ProrationPolicy.ACTUAL_DAYS,
    treatment: PartialPeriodTreatment | str = PartialPeriodTreatment.SEPARATE,
    currency: str = "USD",
    alignment: Alignment | None = None,
    one_time: bool = False,
) -> OrderProductTerms:
    """An order product from ``start`` to ``end`` (None: evergreen).

    Its series has billing day ``bdom`` (default: the start's day), anchored
    from ``anchored_from`` (default: the start), as a contract's would be.
    """
    start = day(start)
    frequency = BillingFrequency(frequency)
    series = None
    if not one_time:
        series = BillingSeries.starting(
            bdom or start.day, day(anchored_from or start), frequency.months
        )
    return OrderProductTerms(
        currency=currency,
        charge_type=ChargeType.ONE_TIME if one_time else ChargeType.RECURRING,
        start=start,
        end=start if one_time else (None if end is None else day(end)),
        quantity=quantity,
        unit_price=Decimal(price),
        pricing_term_months=pricing_term,
        frequency=frequency,
        billing_type=BillingType(billing),
        series=series,
        policy=ProrationPolicy(policy),
        treatment=PartialPeriodTreatment(treatment),
        alignment=alignment,
    )


def section_4(price: str = "30.00", **kwargs) -> OrderProductTerms:
    """The spec's section 4 example: BDOM 1, 2 x 30.00 a month from 2026-03-10
    to 2027-03-09, i.e. 42.58 (22/31), 11 x 60.00, 17.42 (9/31)."""
    return terms("2026-03-10", "2027-03-09", bdom=1, quantity=2, price=price, **kwargs)


def schedule(*args, through: DateLike | None = None, **kwargs) -> list[Line]:
    """The schedule of ``terms(*args, **kwargs)``."""
    return build_schedule(terms(*args, **kwargs), None if through is None else day(through))


def stored(
    lines: Iterable[Line], *, billed: int = 0, reversed: Iterable[int] = (), key: Hashable = "op"
) -> list[StoredLine]:
    """Lines as persisted, the first ``billed`` of them billed."""
    reversed = set(reversed)
    return [
        StoredLine((key, n), line, billed=n < billed or n in reversed, reversed=n in reversed)
        for n, line in enumerate(lines)
    ]


# --- reading lines ------------------------------------------------------------


def spans(lines: Iterable[Line]) -> list[tuple[str, str]]:
    return [(line.start.isoformat(), line.end.isoformat()) for line in lines]


def amounts(lines: Iterable[Line]) -> list[str]:
    """Amounts as written, so that the minor-unit digits are compared too."""
    return [str(line.amount) for line in lines]


def dues(lines: Iterable[Line]) -> list[str]:
    return [line.due.isoformat() for line in lines]


def fractions(lines: Iterable[Line]) -> list[Fraction]:
    return [line.fraction for line in lines]


def calendar_months(first: str, count: int) -> list[tuple[str, str]]:
    """Spans of ``count`` calendar months from the month ``first`` ("2026-04")."""
    start = day(f"{first}-01")
    result = []
    for n in range(count):
        month_start = add_months(start, n)
        month_end = add_months(start, n + 1) - ONE_DAY
        result.append((month_start.isoformat(), month_end.isoformat()))
    return result


def total(lines: Iterable[Line]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0))


def exact_total(lines: Iterable[Line]) -> Fraction:
    return sum((line.value for line in lines), Fraction(0))


def assert_rounded_cumulatively(lines: list[Line], currency: str) -> None:
    """Every running total of amounts is the rounded running exact total."""
    running_amount, running_exact = Decimal(0), Fraction(0)
    for line in lines:
        running_amount += line.amount
        running_exact += line.value
        assert running_amount == round_money(running_exact, currency)


def assert_contiguous(lines: list[Line]) -> None:
    for earlier, later in pairwise(lines):
        assert later.start == earlier.end + ONE_DAY
    for line in lines:
        assert line.start <= line.end
        assert line.parts[0].start == line.start and line.parts[-1].end == line.end
        for earlier, later in pairwise(line.parts):
            assert later.start == earlier.end + ONE_DAY


def effective_dues(items: Sequence[StoredLine]) -> list[date]:
    return effective_due_dates(
        [DueState(s.line.due, s.billed, s.line.is_credit, s.override) for s in items]
    )


# --- contracts ----------------------------------------------------------------


def contract(
    start: DateLike,
    end: DateLike | None,
    *,
    bdom: int,
    currency: str = "USD",
    status: ContractStatus = ContractStatus.ACTIVE,
    policy: ProrationPolicy | str = ProrationPolicy.ACTUAL_DAYS,
    treatment: PartialPeriodTreatment | str = PartialPeriodTreatment.SEPARATE,
    latest_amendment: DateLike | None = None,
) -> ContractState:
    """A contract with no lines yet; its anchor is the first billing day from its start."""
    start = day(start)
    return ContractState(
        currency=currency,
        status=status,
        start=start,
        end=None if end is None else day(end),
        billing_day=bdom,
        anchor=first_on_or_after(start, bdom),
        latest_amendment=None if latest_amendment is None else day(latest_amendment),
        policy=ProrationPolicy(policy),
        treatment=PartialPeriodTreatment(treatment),
    )


def product(
    key: Hashable = "seat",
    *,
    price: str | Decimal = "30.00",
    pricing_term: int = 1,
    frequency: BillingFrequency = BillingFrequency.MONTHLY,
    billing: BillingType = BillingType.ADVANCE,
    one_time: bool = False,
) -> ProductInfo:
    return ProductInfo(
        key,
        ChargeType.ONE_TIME if one_time else ChargeType.RECURRING,
        Decimal(price),
        pricing_term,
        frequency,
        billing,
    )


def with_line(
    state: ContractState,
    key: Hashable,
    item: ProductInfo,
    quantity: int,
    *,
    price: str | None = None,
    stored_through: DateLike | None = None,
    cancelled: bool = False,
) -> ContractState:
    """``state`` with a new line whose order product covers the whole contract.

    An evergreen contract's lines are stored through ``stored_through``
    (default: three years from the start).
    """
    unit_price = item.list_price if price is None else Decimal(price)
    recurring = item.charge_type is ChargeType.RECURRING
    op_terms = OrderProductTerms(
        currency=state.currency,
        charge_type=item.charge_type,
        start=state.start,
        end=state.end if recurring else state.start,
        quantity=quantity,
        unit_price=unit_price,
        pricing_term_months=item.pricing_term_months,
        frequency=item.frequency,
        billing_type=item.billing_type,
        series=state.series(item.frequency) if recurring else None,
        policy=state.policy,
        treatment=state.treatment,
    )
    through = None
    if op_terms.is_evergreen:
        through = day(stored_through) if stored_through else add_months(state.start, 36)
    op_key = (key, "original")
    op = OrderProductState(
        op_key, op_terms, tuple(stored(build_schedule(op_terms, through), key=op_key))
    )
    line = ContractLineState(
        key,
        item,
        item.charge_type,
        unit_price,
        item.pricing_term_months,
        item.frequency,
        item.billing_type,
        (op,),
        cancelled,
    )
    return replace(state, lines=(*state.lines, line))


def order_products(state: ContractState) -> list[OrderProductState]:
    return [op for line in state.lines for op in line.order_products]


def all_lines(state: ContractState, through: DateLike | None = None) -> list[Line]:
    """Every stored line of the contract (starting on or before ``through``, if given)."""
    return [
        s.line
        for op in order_products(state)
        for s in op.lines
        if through is None or s.line.start <= day(through)
    ]


def lifetime(state: ContractState, through: DateLike | None = None) -> Decimal:
    """What the contract bills over its life: the sum of all its stored lines."""
    return total(all_lines(state, through))


def run(state: ContractState, run_date: DateLike) -> tuple[ContractState, list[Line]]:
    """An invoice run for ``run_date``: bills every line whose effective due date has
    come. Returns the contract afterwards and the lines of the document."""
    when = day(run_date)
    document: list[Line] = []

    def bill(op: OrderProductState) -> OrderProductState:
        due = effective_dues(op.lines)
        items = []
        for item, effective in zip(op.lines, due, strict=True):
            if not item.billed and effective <= when:
                document.append(item.line)
                item = replace(item, billed=True, override=None)
            items.append(item)
        return replace(op, lines=tuple(items))

    lines = tuple(
        replace(line, order_products=tuple(bill(op) for op in line.order_products))
        for line in state.lines
    )
    return replace(state, lines=lines), document


def apply(state: ContractState, plan: AmendmentPlan) -> ContractState:
    """What persisting ``plan`` leaves: deltas become order products, terminations
    remove, cut and credit lines."""
    lines = {line.key: line for line in state.lines}
    for planned in plan.terminations:
        line = lines[planned.line.key]
        ops = tuple(
            _terminated(op, planned.termination) if op.key == planned.order_product.key else op
            for op in line.order_products
        )
        lines[line.key] = replace(line, order_products=ops, cancelled=True)
    for delta in plan.deltas:
        op_key = ("delta", plan.effective, delta.change_index)
        op = OrderProductState(op_key, delta.terms, tuple(stored(delta.schedule, key=op_key)))
        if delta.line is not None:
            line = lines[delta.line.key]
            lines[line.key] = replace(line, order_products=(*line.order_products, op))
        else:
            t = delta.terms
            lines[op_key] = ContractLineState(
                op_key,
                delta.product,
                t.charge_type,
                t.unit_price,
                t.pricing_term_months,
                t.frequency,
                t.billing_type,
                (op,),
            )
    return replace(
        state,
        lines=tuple(lines.values()),
        end=plan.contract_end,
        status=ContractStatus.CANCELLED if plan.cancels_contract else state.status,
        latest_amendment=plan.effective,
    )


def _terminated(op: OrderProductState, termination: Termination) -> OrderProductState:
    removed = {s.key for s in termination.removed}
    cut = termination.cut_line.key if termination.cut_line else None
    items = []
    for item in op.lines:
        if item.key in removed:
            continue
        if item.key == cut:
            assert termination.kept_line is not None
            item = replace(item, line=termination.kept_line, override=None)
        items.append(item)
    if termination.credit_line is not None:
        items.append(StoredLine((op.key, "credit", termination.cut), termination.credit_line))
    # an order product starting after the cut keeps only its credit
    end = termination.cut if termination.cut >= op.terms.start else op.terms.end
    return replace(op, terms=replace(op.terms, end=end), lines=tuple(items))

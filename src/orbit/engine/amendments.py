"""Amendments: a contract's changes on an effective date, as delta order products
and terminations, with the change of the contract's lifetime billing.

``plan_amendment`` is both the preview and the recipe: applying an amendment
persists exactly the plan it returns.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from orbit.engine.calendar import ONE_DAY, add_months, next_billing_date_after
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    ContractStatus,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.errors import Code, EngineError, Problem
from orbit.engine.lines import StoredLine
from orbit.engine.schedule import (
    Alignment,
    Line,
    OrderProductTerms,
    Part,
    build_schedule,
    cumulative_amounts,
    extend_schedule,
    schedule_total,
)
from orbit.engine.series import BillingSeries
from orbit.engine.terminations import Termination, terminate


@dataclass(frozen=True)
class ProductInfo:
    key: Hashable
    charge_type: ChargeType
    list_price: Decimal
    pricing_term_months: int
    frequency: BillingFrequency
    billing_type: BillingType


@dataclass(frozen=True)
class OrderProductState:
    key: Hashable
    terms: OrderProductTerms
    lines: tuple[StoredLine, ...] = ()

    def in_effect_on(self, when: date) -> bool:
        end = self.terms.end
        return self.terms.start <= when and (end is None or when <= end)


@dataclass(frozen=True)
class ContractLineState:
    key: Hashable
    product: ProductInfo
    charge_type: ChargeType
    unit_price: Decimal
    pricing_term_months: int
    frequency: BillingFrequency
    billing_type: BillingType
    order_products: tuple[OrderProductState, ...] = ()
    cancelled: bool = False

    def quantity_on(self, when: date) -> int:
        return sum(op.terms.quantity for op in self.order_products if op.in_effect_on(when))


@dataclass(frozen=True)
class ContractState:
    currency: str
    status: ContractStatus
    start: date
    end: date | None
    billing_day: int
    anchor: date
    lines: tuple[ContractLineState, ...] = ()
    latest_amendment: date | None = None
    #: the account's policy and treatment, copied onto new order products
    policy: ProrationPolicy = ProrationPolicy.ACTUAL_DAYS
    treatment: PartialPeriodTreatment = PartialPeriodTreatment.SEPARATE

    def series(self, frequency: BillingFrequency) -> BillingSeries:
        return BillingSeries(self.billing_day, self.anchor, frequency.months)

    def line(self, key: Hashable) -> ContractLineState | None:
        return next((line for line in self.lines if line.key == key), None)


@dataclass(frozen=True)
class Change:
    """One requested change: a line's new quantity (0 cancels it), or a new product."""

    quantity: int
    line: Hashable | None = None
    product: ProductInfo | None = None
    unit_price: Decimal | None = None
    frequency: BillingFrequency | None = None
    billing_type: BillingType | None = None


@dataclass(frozen=True)
class Delta:
    """A new order product: a quantity change on a line, or a new line."""

    change_index: int
    line: ContractLineState | None
    product: ProductInfo
    quantity_before: int
    quantity_after: int
    terms: OrderProductTerms
    #: the whole schedule, or for an evergreen one the lines through the plan's date
    schedule: tuple[Line, ...]

    @property
    def quantity_delta(self) -> int:
        return self.quantity_after - self.quantity_before

    @property
    def total(self) -> Decimal | None:
        return None if self.terms.is_evergreen else schedule_total(self.schedule)


@dataclass(frozen=True)
class TerminationPlan:
    line: ContractLineState
    order_product: OrderProductState
    termination: Termination


@dataclass(frozen=True)
class AmendmentPlan:
    effective: date
    #: evergreen totals count lines starting on or before this date
    through: date
    deltas: tuple[Delta, ...]
    terminations: tuple[TerminationPlan, ...]
    #: the contract's end date after the amendment
    contract_end: date | None
    cancels_contract: bool = False
    evergreen: bool = field(default=False)

    @property
    def bounded_total(self) -> Decimal:
        """The change of billing, counting evergreen lines up to ``through``."""
        deltas = sum((schedule_total(d.schedule, self.through) for d in self.deltas), Decimal(0))
        return deltas + sum((t.termination.total_change for t in self.terminations), Decimal(0))

    @property
    def total(self) -> Decimal | None:
        """The change of the contract's lifetime billing; None for an evergreen contract."""
        if self.evergreen:
            return None
        deltas = sum((schedule_total(d.schedule) for d in self.deltas), Decimal(0))
        return deltas + sum((t.termination.total_change for t in self.terminations), Decimal(0))


def default_through(effective: date) -> date:
    return add_months(effective, 12) - ONE_DAY


def _check_contract(contract: ContractState, effective: date) -> list[Problem]:
    if contract.status is not ContractStatus.ACTIVE:
        return [
            Problem(
                Code.INVALID_STATE,
                f"only an ACTIVE contract can change; this one is {contract.status.value}",
                ("contractId",),
            )
        ]
    if effective < contract.start or (contract.end is not None and effective > contract.end):
        end = contract.end.isoformat() if contract.end else "open-ended"
        return [
            Problem(
                Code.OUT_OF_RANGE,
                f"effective date {effective} is outside the contract ({contract.start} to {end})",
                ("effectiveDate",),
            )
        ]
    if contract.latest_amendment is not None and effective < contract.latest_amendment:
        return [
            Problem(
                Code.CONFLICT,
                f"effective date {effective} is before the contract's latest amendment "
                f"({contract.latest_amendment})",
                ("effectiveDate",),
            )
        ]
    return []


def plan_amendment(
    contract: ContractState,
    changes: Sequence[Change],
    effective: date,
    align_billing: bool = True,
    through: date | None = None,
) -> AmendmentPlan:
    """Validate the changes and work out exactly what the amendment creates."""
    problems = _check_contract(contract, effective)
    if problems:
        raise EngineError(problems)
    if not changes:
        raise EngineError(Code.INVALID, "an amendment needs at least one change", ("changes",))
    through = through or default_through(effective)
    cut = effective - ONE_DAY
    deltas: list[Delta] = []
    terminations: list[TerminationPlan] = []
    seen: set[Hashable] = set()
    for index, change in enumerate(changes):
        path = ("changes", str(index))
        problem = _check_change(contract, change, effective, seen, path)
        if problem is not None:
            problems.append(problem)
            continue
        if change.line is not None:
            line = contract.line(change.line)
            assert line is not None
            seen.add(change.line)
            if change.quantity == 0:
                due = _credit_due(contract, effective, contract.end)
                terminations.extend(_terminate_line(contract, line, cut, due, through))
            else:
                before = line.quantity_on(effective)
                terms = _delta_terms(
                    contract,
                    effective,
                    align_billing,
                    quantity=change.quantity - before,
                    unit_price=line.unit_price,
                    pricing_term_months=line.pricing_term_months,
                    charge_type=ChargeType.RECURRING,
                    frequency=line.frequency,
                    billing_type=line.billing_type,
                )
                delta = _delta(index, line, line.product, before, change.quantity, terms, through)
                if delta.quantity_delta < 0:
                    delta = _closing(delta, line)
                deltas.append(delta)
        else:
            product = change.product
            assert product is not None
            terms = _delta_terms(
                contract,
                effective,
                align_billing,
                quantity=change.quantity,
                unit_price=product.list_price if change.unit_price is None else change.unit_price,
                pricing_term_months=product.pricing_term_months,
                charge_type=product.charge_type,
                frequency=change.frequency or product.frequency,
                billing_type=change.billing_type or product.billing_type,
            )
            deltas.append(_delta(index, None, product, 0, change.quantity, terms, through))
    if problems:
        raise EngineError(problems)
    return AmendmentPlan(
        effective,
        through,
        tuple(deltas),
        tuple(terminations),
        contract.end,
        evergreen=contract.end is None,
    )


def plan_cancellation(
    contract: ContractState, effective: date, through: date | None = None
) -> AmendmentPlan:
    """Cancel the whole contract from ``effective``: every line terminated the day before."""
    problems = _check_contract(contract, effective)
    if problems:
        raise EngineError(problems)
    through = through or default_through(effective)
    cut = effective - ONE_DAY
    terminations: list[TerminationPlan] = []
    for line in contract.lines:
        terminations.extend(_terminate_line(contract, line, cut, effective, through))
    return AmendmentPlan(
        effective,
        through,
        (),
        tuple(terminations),
        cut,
        cancels_contract=True,
        evergreen=contract.end is None,
    )


def _check_change(
    contract: ContractState,
    change: Change,
    effective: date,
    seen: set[Hashable],
    path: tuple[str, ...],
) -> Problem | None:
    if change.quantity < 0:
        return Problem(Code.INVALID, "quantity cannot be negative", (*path, "quantity"))
    if (change.line is None) == (change.product is None):
        return Problem(Code.INVALID, "give either contractLineId or productId", path)
    if change.line is not None:
        for name, value in (
            ("unitPrice", change.unit_price),
            ("billingFrequency", change.frequency),
            ("billingType", change.billing_type),
        ):
            if value is not None:
                return Problem(
                    Code.INVALID, f"{name} cannot be changed on an existing line", (*path, name)
                )
        line = contract.line(change.line)
        if line is None:
            return Problem(
                Code.NOT_FOUND, "no such line on this contract", (*path, "contractLineId")
            )
        if change.line in seen:
            return Problem(
                Code.INVALID,
                "a line can be changed once per amendment",
                (*path, "contractLineId"),
            )
        if line.charge_type is ChargeType.ONE_TIME:
            return Problem(
                Code.INVALID,
                "a one-time line cannot be amended; add a new one-time product instead",
                (*path, "contractLineId"),
            )
        if line.cancelled:
            return Problem(Code.INVALID, "the line is cancelled", (*path, "contractLineId"))
        if line.quantity_on(effective) == change.quantity:
            return Problem(Code.INVALID, "the quantity is unchanged", (*path, "quantity"))
        return None
    if change.quantity == 0:
        return Problem(
            Code.INVALID, "a new product needs a quantity of at least 1", (*path, "quantity")
        )
    if change.unit_price is not None and change.unit_price < 0:
        return Problem(Code.INVALID, "unit price cannot be negative", (*path, "unitPrice"))
    return None


def _delta_terms(
    contract: ContractState,
    effective: date,
    align_billing: bool,
    *,
    quantity: int,
    unit_price: Decimal,
    pricing_term_months: int,
    charge_type: ChargeType,
    frequency: BillingFrequency,
    billing_type: BillingType,
) -> OrderProductTerms:
    recurring = charge_type is ChargeType.RECURRING
    if align_billing:
        series = contract.series(frequency)
        alignment: Alignment | None = Alignment(contract.billing_day, contract.end)
    else:
        series = BillingSeries.starting(effective.day, effective, frequency.months)
        alignment = None
    return OrderProductTerms(
        currency=contract.currency,
        charge_type=charge_type,
        start=effective,
        end=contract.end if recurring else effective,
        quantity=quantity,
        unit_price=unit_price,
        pricing_term_months=pricing_term_months,
        frequency=frequency,
        billing_type=billing_type,
        series=series if recurring else None,
        policy=contract.policy,
        treatment=contract.treatment,
        alignment=alignment,
    )


def _delta(
    index: int,
    line: ContractLineState | None,
    product: ProductInfo,
    before: int,
    after: int,
    terms: OrderProductTerms,
    through: date,
) -> Delta:
    schedule = build_schedule(terms, through if terms.is_evergreen else None)
    return Delta(index, line, product, before, after, terms, tuple(schedule))


def _closing(delta: Delta, line: ContractLineState) -> Delta:
    """A reduction gives nothing back for the days already given back on the line."""
    closed = closed_days(line)
    if not closed:
        return delta
    schedule = give_nothing_back(delta.schedule, closed, delta.terms.currency)
    return replace(delta, schedule=tuple(schedule))


def closed_days(line: ContractLineState) -> set[date]:
    """The days on which every order product of the line with a positive quantity in
    effect that day billed the day and had it credited without rebill: the line is
    at 0 for them, and a reduction has nothing left to give back."""
    positive = [op for op in line.order_products if op.terms.quantity > 0]
    waived: list[set[date]] = []
    for op in positive:
        days: set[date] = set()
        for item in op.lines:
            if item.billed and item.reversed and not item.line.is_credit:
                first = max(item.line.start, op.terms.start)
                last = item.line.end if op.terms.end is None else min(item.line.end, op.terms.end)
                while first <= last:
                    days.add(first)
                    first += ONE_DAY
        waived.append(days)
    closed = set()
    for day in set().union(*waived) if waived else set():
        covering = [w for op, w in zip(positive, waived, strict=True) if op.in_effect_on(day)]
        if covering and all(day in w for w in covering):
            closed.add(day)
    return closed


def give_nothing_back(lines: Sequence[Line], closed: set[date], currency: str) -> list[Line]:
    """``lines`` (a reduction's schedule) with the value of the ``closed`` days taken
    out, amounts rounded cumulatively again; the days keep their lines."""
    result: list[Line] = []
    changed = False
    for line in lines:
        parts: list[Part] = []
        for part in line.parts:
            parts.extend(_split_closed(part, closed))
        if tuple(parts) != line.parts:
            changed = True
        result.append(replace(line, parts=tuple(parts)))
    if not changed:
        return list(lines)
    amounts = cumulative_amounts([line.value for line in result], currency)
    return [replace(line, amount=a) for line, a in zip(result, amounts, strict=True)]


def _split_closed(part: Part, closed: set[date]) -> list[Part]:
    """``part`` cut into runs of days all closed or all open; closed runs are worth 0."""
    if part.value == 0 or not any(part.start + ONE_DAY * i in closed for i in range(part.days)):
        return [part]
    runs: list[Part] = []
    first = part.start
    while first <= part.end:
        state = first in closed
        last = first
        while last + ONE_DAY <= part.end and ((last + ONE_DAY) in closed) == state:
            last += ONE_DAY
        piece = part.portion(first, last)
        assert piece is not None
        runs.append(Part(first, last, Fraction(0), Fraction(0)) if state else piece)
        first = last + ONE_DAY
    return runs


@dataclass(frozen=True)
class Reclosing:
    """What a reduction gives back no more, once days of its line were closed."""

    #: unbilled lines and what they become (re-rounded from the exact sum before)
    revalued: tuple[tuple[StoredLine, Line], ...]
    #: billed lines whose every day of value is closed now: a credit without rebill
    #: gives them back whole
    given_back: tuple[StoredLine, ...]


def reclose(terms: OrderProductTerms, stored: Sequence[StoredLine], closed: set[date]) -> Reclosing:
    """A reduction's schedule after days of its line were closed by a credit without
    rebill: the closed days of its unbilled lines are worth 0 now; a billed line
    whose every day of value is closed is to be given back whole."""
    revalued: list[tuple[StoredLine, Line]] = []
    given_back: list[StoredLine] = []
    running = Fraction(0)
    moved = False
    for item in stored:
        line = item.line
        if line.is_credit:
            continue
        before = running
        parts = tuple(p for part in line.parts for p in _split_closed(part, closed))
        if item.billed:
            running += line.value
            # (its days after the order product's end were given back by the termination)
            in_effect = [p for p in parts if terms.end is None or p.start <= terms.end]
            closes_all = parts != line.parts and all(p.value == 0 for p in in_effect)
            if not item.reversed and line.value != 0 and closes_all:
                given_back.append(item)
            continue
        value = sum((p.value for p in parts), Fraction(0))
        running += value
        if parts != line.parts or moved:
            moved = True
            (amount,) = cumulative_amounts([value], terms.currency, before)
            new = replace(line, parts=parts, amount=amount)
            if new != line:
                revalued.append((item, new))
    return Reclosing(tuple(revalued), tuple(given_back))


def _credit_due(contract: ContractState, effective: date, end_after: date | None) -> date:
    next_date = next_billing_date_after(effective, contract.billing_day)
    if end_after is None or next_date <= end_after:
        return next_date
    return effective


def _terminate_line(
    contract: ContractState,
    line: ContractLineState,
    cut: date,
    credit_due: date,
    through: date,
) -> list[TerminationPlan]:
    plans = []
    for op in line.order_products:
        if op.terms.end is not None and op.terms.end <= cut:
            continue
        lines = with_lines_through(op, max(through, cut + ONE_DAY))
        termination = terminate(op.terms, lines, cut, credit_due, through)
        plans.append(TerminationPlan(line, op, termination))
    return plans


def with_lines_through(op: OrderProductState, through: date) -> list[StoredLine]:
    """The order product's stored lines, followed (when evergreen) by the lines not
    stored yet up to ``through``; those have no key."""
    lines = list(op.lines)
    if op.terms.is_evergreen:
        ahead = extend_schedule(op.terms, [s.line for s in lines], through)
        lines.extend(StoredLine(None, line) for line in ahead)
    return lines

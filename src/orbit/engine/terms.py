"""Contract terms: end dates, renewals and annual value."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from orbit.engine.calendar import ONE_DAY, clamped, shift_month
from orbit.engine.errors import Code, EngineError
from orbit.engine.money import exact, round_money

DEFAULT_RENEWAL_MONTHS = 12


def anniversary_day(start: date, term_months: int | None, end: date | None) -> int | None:
    """The start day for a term in months; else the day after an explicit end."""
    if term_months is not None:
        return start.day
    if end is not None:
        return (end + ONE_DAY).day
    return None


def term_end(start: date, months: int, anniversary: int) -> date:
    """The last day of a term of ``months`` months from ``start``."""
    if months < 1:
        raise EngineError(Code.INVALID, "a term is at least one month", ("termMonths",))
    year, month = shift_month(start.year, start.month, months)
    return clamped(year, month, anniversary) - ONE_DAY


@dataclass(frozen=True)
class ContractTerm:
    start: date
    end: date | None
    term_months: int | None
    anniversary: int | None


def contract_term(
    start: date, term_months: int | None = None, end: date | None = None
) -> ContractTerm:
    """Resolve a contract's term from ``termMonths`` or an explicit inclusive end."""
    if term_months is not None and end is not None:
        raise EngineError(Code.INVALID, "give termMonths or endDate, not both", ("termMonths",))
    if term_months is not None:
        return ContractTerm(start, term_end(start, term_months, start.day), term_months, start.day)
    if end is not None:
        if end < start:
            raise EngineError(Code.INVALID, "the contract ends before it starts", ("endDate",))
        return ContractTerm(start, end, None, anniversary_day(start, None, end))
    return ContractTerm(start, None, None, None)


def renewal_term(
    end: date,
    anniversary: int,
    renewal_term_months: int | None,
    term_months: int | None,
    requested_months: int | None = None,
) -> ContractTerm:
    """The term of the contract renewing one that ends on ``end``."""
    months = next(
        (m for m in (requested_months, renewal_term_months, term_months) if m is not None),
        DEFAULT_RENEWAL_MONTHS,
    )
    start = end + ONE_DAY
    return ContractTerm(start, term_end(start, months, anniversary), months, anniversary)


def uplifted_price(unit_price: Decimal, percent: Decimal, currency: str) -> Decimal:
    """A unit price raised by ``percent`` and rounded to the currency."""
    return round_money(exact(unit_price) * (1 + exact(percent) / 100), currency)


@dataclass(frozen=True)
class RecurringRate:
    quantity: int
    unit_price: Decimal
    pricing_term_months: int

    @property
    def monthly(self) -> Fraction:
        return self.quantity * exact(self.unit_price) / self.pricing_term_months


def annual_value(rates: Iterable[RecurringRate], currency: str) -> Decimal:
    """12 x the sum of monthly rates, rounded once."""
    return round_money(12 * sum((r.monthly for r in rates), Fraction(0)), currency)

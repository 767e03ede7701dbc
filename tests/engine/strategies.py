"""Hypothesis strategies for Orbit's billing values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from orbit.engine.calendar import ONE_DAY, add_months, days_in_month
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.money import minor_units
from orbit.engine.schedule import Alignment, OrderProductTerms
from orbit.engine.series import BillingSeries

FIRST, LAST = date(2023, 1, 1), date(2030, 12, 31)

currencies = st.sampled_from(["USD", "EUR", "JPY", "BHD"])
billing_days = st.integers(1, 31)
frequencies = st.sampled_from(list(BillingFrequency))
policies = st.sampled_from(list(ProrationPolicy))
treatments = st.sampled_from(list(PartialPeriodTreatment))
billing_types = st.sampled_from(list(BillingType))
pricing_terms = st.sampled_from([1, 12])
quantities = st.integers(1, 40)
delta_quantities = st.integers(-40, 40).filter(bool)

month_ends = st.builds(
    lambda year, month: date(year, month, days_in_month(year, month)),
    st.integers(FIRST.year, LAST.year),
    st.integers(1, 12),
)
leap_days = st.sampled_from([date(2024, 2, 29), date(2028, 2, 29)])
#: any day 2023..2030, with month ends and February 29 drawn often
dates = st.one_of(st.dates(FIRST, LAST), month_ends, leap_days)


def prices(currency: str) -> st.SearchStrategy[Decimal]:
    """Prices with up to the currency's decimals, free ones included."""
    digits = minor_units(currency)
    return st.integers(0, 10**7).map(lambda n: Decimal(n).scaleb(-digits))


def ends_after(start: date) -> st.SearchStrategy[date]:
    """An inclusive end on or after ``start``, within about three years: any day,
    or the day before a monthly anniversary."""
    return st.one_of(
        st.integers(0, 3 * 366).map(lambda n: start + timedelta(days=n)),
        st.integers(1, 36).map(lambda n: add_months(start, n) - ONE_DAY),
    )


@dataclass(frozen=True)
class Case:
    """An order product, and for an evergreen one how far to build its schedule."""

    terms: OrderProductTerms
    through: date | None

    @property
    def last_day(self) -> date:
        """The end, or for an evergreen schedule its through date."""
        return self.terms.end or self.through  # type: ignore[return-value]


@st.composite
def order_products(
    draw: st.DrawFn,
    *,
    evergreen: bool | None = None,
    quantity: st.SearchStrategy[int] = quantities,
    aligned: bool | None = None,
) -> Case:
    """A recurring order product on a contract's series: the series is anchored
    up to ~13 months before the start, so lines may start mid-period."""
    currency = draw(currencies)
    frequency = draw(frequencies)
    billing_day = draw(billing_days)
    start = draw(dates)
    anchored_from = start - timedelta(days=draw(st.integers(0, 400)))
    if evergreen is None:
        evergreen = draw(st.booleans())
    end = None if evergreen else draw(ends_after(start))
    through = start + timedelta(days=draw(st.integers(0, 3 * 366))) if evergreen else None
    if aligned is None:
        aligned = draw(st.booleans())
    terms = OrderProductTerms(
        currency=currency,
        charge_type=ChargeType.RECURRING,
        start=start,
        end=end,
        quantity=draw(quantity),
        unit_price=draw(prices(currency)),
        pricing_term_months=draw(pricing_terms),
        frequency=frequency,
        billing_type=draw(billing_types),
        series=BillingSeries.starting(billing_day, anchored_from, frequency.months),
        policy=draw(policies),
        treatment=draw(treatments),
        alignment=Alignment(billing_day, end) if aligned else None,
    )
    return Case(terms, through)


@st.composite
def contracts(draw: st.DrawFn, *, evergreen: bool | None = None) -> dict:
    """The settings of a one-line contract, as keyword arguments for the support
    builders, plus an effective date for an amendment within it."""
    currency = draw(currencies)
    start = draw(dates)
    if evergreen is None:
        evergreen = draw(st.integers(0, 3).map(lambda n: n == 0))
    end = None if evergreen else draw(ends_after(start))
    last = end or start + timedelta(days=3 * 366)
    effective = start + timedelta(days=draw(st.integers(0, (last - start).days)))
    return {
        "currency": currency,
        "start": start,
        "end": end,
        "bdom": draw(billing_days),
        "policy": draw(policies),
        "treatment": draw(treatments),
        "frequency": draw(frequencies),
        "billing": draw(billing_types),
        "price": draw(prices(currency)),
        "pricing_term": draw(pricing_terms),
        "quantity": draw(quantities),
        "effective": effective,
    }

"""Currencies and rounding.

Exact amounts are rationals (``Fraction``); a ``Decimal`` is produced only
where a line amount is rounded, to the currency's ISO 4217 minor unit,
half away from zero.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache

from iso4217 import Currency

from orbit.engine.errors import Code, EngineError


@cache
def minor_units(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (USD 2, JPY 0, BHD 3)."""
    code = currency.upper() if isinstance(currency, str) else currency
    if code != currency or len(currency) != 3:
        raise EngineError(Code.INVALID, f"unknown currency {currency!r}", ("currency",))
    try:
        exponent = Currency(code).exponent
    except ValueError:
        raise EngineError(Code.INVALID, f"unknown currency {currency!r}", ("currency",)) from None
    if exponent is None:
        raise EngineError(
            Code.INVALID,
            f"currency {currency!r} has no minor unit and cannot be billed",
            ("currency",),
        )
    return int(exponent)


def check_currency(currency: str) -> str:
    minor_units(currency)
    return currency


def exact(value: Decimal | int | str | Fraction) -> Fraction:
    """The exact rational value of a decimal amount."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str):
        value = Decimal(value)
    return Fraction(value)


def round_money(value: Fraction, currency: str) -> Decimal:
    """Round an exact value to the currency's minor unit, half away from zero."""
    digits = minor_units(currency)
    scale = 10**digits
    scaled = abs(value) * scale
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    if value < 0:
        whole = -whole
    return Decimal(whole).scaleb(-digits)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round a decimal amount (a price, a payment) to the currency's minor unit."""
    digits = minor_units(currency)
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def has_minor_precision(amount: Decimal, currency: str) -> bool:
    """Whether ``amount`` needs no more digits than the currency has."""
    return quantize(amount, currency) == amount


def round_fraction(value: Fraction, places: int = 10) -> Decimal:
    """A fraction shown to clients: half away from zero to ``places`` digits."""
    scaled = abs(value) * 10**places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    if value < 0:
        whole = -whole
    return Decimal(whole).scaleb(-places)

"""Checks on plain inputs shared by the services."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orbit.engine.errors import EngineError
from orbit.engine.money import minor_units
from orbit.services.errors import Code, DomainError

MAX_NAME = 200
MAX_PRICE_PLACES = 6
MAX_AMOUNT = Decimal("1e14")


def text(value: str, field: str, max_length: int = MAX_NAME, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise DomainError(Code.INVALID, f"{field} cannot be empty", (field,))
    if len(value) > max_length:
        raise DomainError(Code.INVALID, f"{field} is longer than {max_length} characters", (field,))
    return value


def currency(code: str, field: str = "currency") -> str:
    try:
        minor_units(code)
    except EngineError:
        raise DomainError(Code.INVALID, f"unknown currency {code!r}", (field,)) from None
    return code


def timezone(name: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DomainError(Code.INVALID, f"unknown time zone {name!r}", (field,)) from None
    return name


def billing_day(day: int, field: str = "billingDayOfMonth") -> int:
    if not 1 <= day <= 31:
        raise DomainError(Code.INVALID, "billing day of month must be 1 to 31", (field,))
    return day


def whole(value: int, field: str, minimum: int = 0, maximum: int = 10**6) -> int:
    if not minimum <= value <= maximum:
        raise DomainError(
            Code.INVALID, f"{field} must be between {minimum} and {maximum}", (field,)
        )
    return value


def finite(value: Decimal, field: str) -> Decimal:
    if not value.is_finite():
        raise DomainError(Code.INVALID, f"{field} must be a number", (field,))
    if abs(value) >= MAX_AMOUNT:
        raise DomainError(Code.INVALID, f"{field} is too large", (field,))
    return value


def unit_price(value: Decimal, field: str = "unitPrice") -> Decimal:
    """A price of at most six decimal places (prices may be finer than the currency)."""
    finite(value, field)
    if value < 0:
        raise DomainError(Code.INVALID, f"{field} cannot be negative", (field,))
    places = Decimal(1).scaleb(-MAX_PRICE_PLACES)
    if value != value.quantize(places):
        raise DomainError(
            Code.INVALID, f"{field} has more than {MAX_PRICE_PLACES} decimal places", (field,)
        )
    return value.quantize(places)


def money(value: Decimal, currency_code: str, field: str) -> Decimal:
    """An amount that must be exact in the currency's minor unit."""
    finite(value, field)
    digits = minor_units(currency_code)
    quantum = Decimal(1).scaleb(-digits)
    if value != value.quantize(quantum):
        raise DomainError(
            Code.INVALID,
            f"{field} has more decimals than {currency_code} allows ({digits})",
            (field,),
        )
    return value.quantize(quantum)

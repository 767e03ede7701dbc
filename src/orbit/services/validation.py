"""Checks on plain inputs shared by the services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orbit import clock
from orbit.engine.calendar import add_months
from orbit.engine.errors import EngineError
from orbit.engine.money import minor_units
from orbit.services.errors import Code, DomainError

MAX_NAME = 200
MAX_PRICE_PLACES = 6
#: payments and other amounts typed in (a DECIMAL(20,3) column holds < 1e17)
MAX_AMOUNT = Decimal("1e14")

# --- dates ------------------------------------------------------------------------
#: every date a client gives lies in [EARLIEST_DATE, today + YEARS_AHEAD years]
EARLIEST_DATE = date(2000, 1, 1)
YEARS_AHEAD = 10
#: a contract's end date (and its term) reaches at most this far past its start
CONTRACT_YEARS = 50
MAX_TERM_MONTHS = CONTRACT_YEARS * 12
#: "today" for the upper bound is today anywhere on Earth (UTC+14 is the furthest ahead)
_FURTHEST_AHEAD = timedelta(hours=14)

# --- amounts that multiply into stored money (see docs/api.md, "Bounds") ----------
MAX_QUANTITY = 10**6
MAX_UNIT_PRICE = Decimal(10**9)
MAX_PRICING_TERM_MONTHS = 120
MAX_UPLIFT_PERCENT = Decimal(100)
#: months an evergreen line is assumed to bill for (2000-01-01 to the end of 2099)
EVERGREEN_MONTHS = 1200
#: months added to every term for partial periods (a COMBINE line's first document
#: can carry a partial period and a full annual one) and rounding
SLACK_MONTHS = 24
#: the most that all the order products of one account may ever bill, summed: every
#: schedule line, order product total and document fits under it, and it is 1/10 of
#: what a DECIMAL(20,3) column holds (< 1e17)
MAX_ACCOUNT_EXPOSURE = Decimal(10**16)

#: C0 controls, DEL, C1 controls and lone surrogates are refused in every string;
#: free text (FREE_TEXT_FIELDS) may hold tab, line feed and carriage return
_CONTROL = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)])
_FREE_TEXT_ALLOWED = "\t\n\r"
FREE_TEXT_FIELDS = frozenset({"reason"})


def latest_date() -> date:
    """The last date a client may give (today + 10 years, today anywhere on Earth)."""
    today = (clock.now() + _FURTHEST_AHEAD).date()
    return add_months(today, YEARS_AHEAD * 12)


def bad_date(value: date, start: date | None = None) -> str | None:
    """Why ``value`` is outside the dates Orbit takes (None when it is inside). With
    ``start``, ``value`` is a contract's end date: at most 50 years after ``start``."""
    if value < EARLIEST_DATE:
        return f"{value.isoformat()} is before {EARLIEST_DATE.isoformat()}"
    if start is not None and EARLIEST_DATE <= start <= latest_date():
        last = add_months(start, MAX_TERM_MONTHS)
        if value > last:
            return f"{value.isoformat()} is more than {CONTRACT_YEARS} years after the start"
        return None
    last = latest_date()
    if value > last:
        return f"{value.isoformat()} is after {last.isoformat()} (today + {YEARS_AHEAD} years)"
    return None


def in_bounds(value: date, field: str, start: date | None = None) -> date:
    why = bad_date(value, start)
    if why is not None:
        raise DomainError(Code.INVALID, f"{field}: {why}", (field,))
    return value


def bad_text(value: str, free_text: bool = False) -> str | None:
    """Why ``value`` cannot be stored (None when it can): control characters, or
    lone surrogates (not UTF-8)."""
    for char in value:
        if char in _CONTROL and not (free_text and char in _FREE_TEXT_ALLOWED):
            return f"contains the control character U+{ord(char):04X}"
        if "\ud800" <= char <= "\udfff":
            return f"contains the lone surrogate U+{ord(char):04X} (not UTF-8)"
    return None


def text(value: str, field: str, max_length: int = MAX_NAME, required: bool = True) -> str:
    why = bad_text(value, field in FREE_TEXT_FIELDS)
    if why is not None:
        raise DomainError(Code.INVALID, f"{field} {why}", (field,))
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


def whole(
    value: int,
    field: str,
    minimum: int = 0,
    maximum: int = 10**6,
    path: tuple[str, ...] | None = None,
) -> int:
    if not minimum <= value <= maximum:
        raise DomainError(
            Code.INVALID, f"{field} must be between {minimum} and {maximum}", path or (field,)
        )
    return value


def finite(value: Decimal, field: str) -> Decimal:
    if not value.is_finite():
        raise DomainError(Code.INVALID, f"{field} must be a number", (field,))
    if abs(value) >= MAX_AMOUNT:
        raise DomainError(Code.INVALID, f"{field} is too large", (field,))
    return value


def unit_price(
    value: Decimal, field: str = "unitPrice", path: tuple[str, ...] | None = None
) -> Decimal:
    """A price of at most six decimal places (prices may be finer than the currency),
    from 0 to MAX_UNIT_PRICE."""
    where = path or (field,)
    if not value.is_finite():
        raise DomainError(Code.INVALID, f"{field} must be a number", where)
    if value < 0:
        raise DomainError(Code.INVALID, f"{field} cannot be negative", where)
    if value > MAX_UNIT_PRICE:
        raise DomainError(Code.INVALID, f"{field} may be at most {MAX_UNIT_PRICE:,}", where)
    places = Decimal(1).scaleb(-MAX_PRICE_PLACES)
    if value != value.quantize(places):
        raise DomainError(
            Code.INVALID, f"{field} has more than {MAX_PRICE_PLACES} decimal places", where
        )
    return value.quantize(places)


def uplift(value: Decimal, field: str) -> Decimal:
    """A renewal uplift in percent: above -100, at most MAX_UPLIFT_PERCENT, and of at
    most six decimal places (its column's scale)."""
    if not value.is_finite():
        raise DomainError(Code.INVALID, f"{field} must be a number", (field,))
    if value <= -100:
        raise DomainError(Code.INVALID, "uplift must be above -100%", (field,))
    if value > MAX_UPLIFT_PERCENT:
        raise DomainError(Code.INVALID, f"uplift may be at most {MAX_UPLIFT_PERCENT}%", (field,))
    places = Decimal(1).scaleb(-MAX_PRICE_PLACES)
    if value != value.quantize(places):
        raise DomainError(
            Code.INVALID, f"{field} has more than {MAX_PRICE_PLACES} decimal places", (field,)
        )
    return value


def exposure(
    quantity: int,
    price: Decimal,
    pricing_term_months: int,
    start: date,
    end: date | None,
    recurring: bool = True,
) -> Decimal:
    """The most an order product of ``quantity`` at ``price`` (per ``pricing_term_months``)
    from ``start`` to ``end`` (None: evergreen) could ever bill, with slack for partial
    periods and rounding: |quantity| x price x (months + 24) / pricing term."""
    amount = abs(quantity) * price
    if not recurring:
        return amount
    if end is None:
        months = EVERGREEN_MONTHS
    else:
        months = max(0, (end.year - start.year) * 12 + end.month - start.month + 1)
    return amount * (months + SLACK_MONTHS) / max(pricing_term_months, 1)


def within_exposure(
    existing: Decimal, added: list[tuple[Decimal, tuple[str, ...]]], what: str = "account"
) -> None:
    """Refuse (INVALID at the field of the item that goes over) when ``added`` on top of
    the ``existing`` exposure of an account would pass MAX_ACCOUNT_EXPOSURE."""
    total = existing
    for amount, field in added:
        total += amount
        if total > MAX_ACCOUNT_EXPOSURE:
            raise DomainError(
                Code.INVALID,
                f"quantity x price over the term would let the {what} bill more than "
                f"{MAX_ACCOUNT_EXPOSURE:,} (the most Orbit stores for one account)",
                field,
            )


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

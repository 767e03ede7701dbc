"""Strict scalars: plain decimal strings only (no NaN, no exponents, ASCII digits),
and dates as YYYY-MM-DD only (no week dates, no compact forms)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import strawberry

# ASCII digits only: \d would take Arabic-Indic and other digits, which Decimal reads
_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,10})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, Decimal) and value.is_finite():
        value = format(value, "f")
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise ValueError(f'expected a decimal string such as "1234.50", got {value!r}')
    return Decimal(value)


def parse_date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(f'expected a date as "YYYY-MM-DD", got {value!r}')
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date of the calendar") from None


StrictDecimal = strawberry.scalar(
    name="Decimal",
    description='A decimal number as a string, e.g. "1234.50".',
    serialize=lambda value: format(value, "f"),
    parse_value=parse_decimal,
)

StrictDate = strawberry.scalar(
    name="Date",
    description="Date (isoformat)",
    serialize=lambda value: value.isoformat(),
    parse_value=parse_date,
)

SCALAR_MAP = {Decimal: StrictDecimal, date: StrictDate}

"""A strict Decimal scalar: plain decimal strings only (no NaN, no exponents)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import strawberry

_DECIMAL = re.compile(r"^-?\d{1,15}(\.\d{1,10})?$")


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, Decimal) and value.is_finite():
        value = format(value, "f")
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise ValueError(f'expected a decimal string such as "1234.50", got {value!r}')
    return Decimal(value)


StrictDecimal = strawberry.scalar(
    name="Decimal",
    description='A decimal number as a string, e.g. "1234.50".',
    serialize=lambda value: format(value, "f"),
    parse_value=parse_decimal,
)

SCALAR_MAP = {Decimal: StrictDecimal}

"""Column types shared by the models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import fields

#: money amounts: rounded to the currency's minor unit (at most 3 digits) before saving
AMOUNT_DIGITS = 20
AMOUNT_PLACES = 3
#: unit prices and percentages may carry more digits than the currency
PRICE_PLACES = 6


def amount(**kwargs: Any) -> fields.DecimalField[Decimal]:
    return fields.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, **kwargs)


def price(**kwargs: Any) -> fields.DecimalField[Decimal]:
    return fields.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=PRICE_PLACES, **kwargs)


def rational(**kwargs: Any) -> fields.CharField[str]:
    """An exact value as 'numerator/denominator'."""
    return fields.CharField(max_length=200, **kwargs)

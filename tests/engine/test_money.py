"""Currencies, exact values and rounding (spec section 1)."""

from decimal import Decimal
from fractions import Fraction

import pytest

from orbit.engine.errors import Code, EngineError
from orbit.engine.money import (
    check_currency,
    exact,
    has_minor_precision,
    minor_units,
    quantize,
    round_fraction,
    round_money,
)


@pytest.mark.parametrize(("currency", "digits"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("BHD", 3)])
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits
    assert check_currency(currency) == currency


@pytest.mark.parametrize(
    "currency",
    [
        "XYZ",  # not a currency
        "usd",  # codes are upper case
        "Usd",
        "US",
        "USDD",
        "",
        "XAU",  # gold: no minor unit, cannot be billed
        "XXX",  # "no currency"
    ],
)
def test_unknown_or_unbillable_currencies_are_rejected(currency: str) -> None:
    with pytest.raises(EngineError) as raised:
        minor_units(currency)

    assert raised.value.code is Code.INVALID
    assert raised.value.problems[0].field == ("currency",)


@pytest.mark.parametrize(
    ("value", "currency", "rounded"),
    [
        ("174.965", "USD", "174.97"),
        ("-174.965", "USD", "-174.97"),
        ("0.005", "USD", "0.01"),
        ("-0.005", "USD", "-0.01"),
        ("0.0049999", "USD", "0.00"),
        ("2.675", "EUR", "2.68"),  # 2.67 as a binary float
        ("0.5", "JPY", "1"),
        ("2.5", "JPY", "3"),  # not banker's rounding
        ("-2.5", "JPY", "-3"),
        ("1.2345", "BHD", "1.235"),
        ("1.2344999", "BHD", "1.234"),
        ("7", "BHD", "7.000"),
        ("0", "USD", "0.00"),
    ],
)
def test_round_money_is_half_away_from_zero_to_the_minor_unit(
    value: str, currency: str, rounded: str
) -> None:
    result = round_money(Fraction(value), currency)

    assert str(result) == rounded


def test_round_money_rounds_exact_thirds() -> None:
    assert round_money(Fraction(100, 3), "USD") == Decimal("33.33")
    assert round_money(Fraction(200, 3), "USD") == Decimal("66.67")
    assert round_money(Fraction(-200, 3), "JPY") == Decimal("-67")


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("10.005", "USD", "10.01"),
        ("-10.005", "USD", "-10.01"),
        ("10", "USD", "10.00"),
        ("2.5", "JPY", "3"),
        ("1.2345", "BHD", "1.235"),
    ],
)
def test_quantize_rounds_a_decimal_to_the_minor_unit(
    amount: str, currency: str, rounded: str
) -> None:
    assert str(quantize(Decimal(amount), currency)) == rounded


@pytest.mark.parametrize(
    ("amount", "currency", "fits"),
    [
        ("10.00", "USD", True),
        ("10.5", "USD", True),
        ("10.005", "USD", False),
        ("1000", "JPY", True),
        ("1000.5", "JPY", False),
        ("1.234", "BHD", True),
        ("1.2345", "BHD", False),
    ],
)
def test_has_minor_precision(amount: str, currency: str, fits: bool) -> None:
    assert has_minor_precision(Decimal(amount), currency) is fits


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.10"), Fraction(11, 10)),
        ("0.1", Fraction(1, 10)),
        (3, Fraction(3)),
        (Fraction(1, 3), Fraction(1, 3)),
    ],
)
def test_exact_values_are_rationals(value, expected: Fraction) -> None:
    assert exact(value) == expected
    assert isinstance(exact(value), Fraction)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Fraction(1, 3), "0.3333333333"),
        (Fraction(2, 3), "0.6666666667"),
        (Fraction(-2, 3), "-0.6666666667"),
        (Fraction(5, 10**11), "1E-10"),  # a tie at the 11th digit goes up
        (Fraction(22, 31), "0.7096774194"),
        (Fraction(1), "1.0000000000"),
    ],
)
def test_fractions_are_shown_to_ten_places_half_away_from_zero(value: Fraction, shown: str) -> None:
    assert round_fraction(value) == Decimal(shown)
    assert round_fraction(value).as_tuple().exponent == -10

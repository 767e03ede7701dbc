"""Contract terms, renewals and annual value (spec section 10)."""

from decimal import Decimal
from itertools import pairwise

import pytest

from orbit.engine.calendar import ONE_DAY, clamped
from orbit.engine.errors import Code, EngineError
from orbit.engine.terms import (
    ContractTerm,
    RecurringRate,
    anniversary_day,
    annual_value,
    contract_term,
    renewal_term,
    term_end,
    uplifted_price,
)
from tests.engine.support import day


@pytest.mark.parametrize(
    ("start", "months", "anniversary", "end"),
    [
        ("2026-03-10", 12, 10, "2027-03-09"),
        ("2026-01-01", 12, 1, "2026-12-31"),
        ("2026-01-31", 1, 31, "2026-02-27"),  # day 31 clamped to 02-28, minus a day
        ("2024-01-31", 1, 31, "2024-02-28"),  # leap year: 02-29 minus a day
        ("2026-01-30", 1, 30, "2026-02-27"),
        ("2026-02-28", 1, 30, "2026-03-29"),  # a renewal restores the 30th
        ("2024-02-29", 12, 29, "2025-02-27"),
        ("2027-02-28", 12, 29, "2028-02-28"),  # back to the 29th in a leap year
        ("2026-11-15", 3, 15, "2027-02-14"),  # over the year end
        ("2026-12-31", 2, 31, "2027-02-27"),
    ],
)
def test_term_end(start: str, months: int, anniversary: int, end: str) -> None:
    assert term_end(day(start), months, anniversary) == day(end)


@pytest.mark.parametrize("months", [0, -12])
def test_a_term_is_at_least_one_month(months: int) -> None:
    with pytest.raises(EngineError) as raised:
        term_end(day("2026-01-01"), months, 1)

    assert raised.value.code is Code.INVALID
    assert raised.value.problems[0].field == ("termMonths",)


def renewals(first: ContractTerm, count: int, **kwargs) -> list[ContractTerm]:
    chain = [first]
    for _ in range(count):
        previous = chain[-1]
        chain.append(
            renewal_term(previous.end, previous.anniversary, None, previous.term_months, **kwargs)
        )
    return chain


def test_yearly_renewals_from_february_29_never_drift_to_the_28th() -> None:
    chain = renewals(contract_term(day("2024-02-29"), term_months=12), 8)

    assert [t.start.isoformat() for t in chain] == [
        "2024-02-29",
        "2025-02-28",
        "2026-02-28",
        "2027-02-28",
        "2028-02-29",
        "2029-02-28",
        "2030-02-28",
        "2031-02-28",
        "2032-02-29",
    ]
    assert {t.anniversary for t in chain} == {29}
    assert all(a.end + ONE_DAY == b.start for a, b in pairwise(chain))


@pytest.mark.parametrize("anniversary", [29, 30, 31])
def test_monthly_renewals_keep_the_anniversary_day(anniversary: int) -> None:
    chain = renewals(contract_term(day(f"2026-01-{anniversary}"), term_months=1), 36)

    assert all(t.start == clamped(t.start.year, t.start.month, anniversary) for t in chain)
    assert chain[-1].start == day(f"2029-01-{anniversary}")


def test_a_contract_term_from_term_months() -> None:
    term = contract_term(day("2026-03-10"), term_months=12)

    assert term == ContractTerm(day("2026-03-10"), day("2027-03-09"), 12, 10)


@pytest.mark.parametrize(
    ("start", "end", "anniversary"),
    [
        ("2026-01-15", "2026-07-14", 15),
        ("2026-03-01", "2027-02-28", 1),
        ("2026-01-31", "2026-04-29", 30),
        ("2026-01-31", "2026-01-31", 1),
    ],
)
def test_an_explicit_end_gives_the_anniversary_of_the_day_after(start, end, anniversary):
    term = contract_term(day(start), end=day(end))

    assert term == ContractTerm(day(start), day(end), None, anniversary)
    assert anniversary_day(day(start), None, day(end)) == anniversary


def test_an_open_ended_contract_has_no_end_nor_anniversary() -> None:
    assert contract_term(day("2026-01-01")) == ContractTerm(day("2026-01-01"), None, None, None)
    assert anniversary_day(day("2026-01-01"), None, None) is None
    assert anniversary_day(day("2026-01-17"), 12, None) == 17


def test_a_term_cannot_be_given_twice_or_end_before_it_starts() -> None:
    with pytest.raises(EngineError) as both:
        contract_term(day("2026-01-01"), term_months=12, end=day("2026-12-31"))
    with pytest.raises(EngineError) as backwards:
        contract_term(day("2026-01-01"), end=day("2025-12-31"))

    assert both.value.code is Code.INVALID
    assert backwards.value.code is Code.INVALID
    assert backwards.value.problems[0].field == ("endDate",)


@pytest.mark.parametrize(
    ("requested", "renewal_months", "term_months", "end"),
    [
        (6, 24, 12, "2027-06-30"),  # requested on renewal
        (None, 24, 12, "2028-12-31"),  # the contract's renewal term
        (None, None, 3, "2027-03-31"),  # else its term
        (None, None, None, "2027-12-31"),  # else 12 months
    ],
)
def test_renewal_term_length(requested, renewal_months, term_months, end) -> None:
    term = renewal_term(day("2026-12-31"), 1, renewal_months, term_months, requested)

    assert term.start == day("2027-01-01")
    assert term.end == day(end)


@pytest.mark.parametrize(
    ("price", "percent", "currency", "uplifted"),
    [
        ("30.00", "3.5", "USD", "31.05"),
        ("99.99", "5", "USD", "104.99"),  # 104.9895
        ("10.10", "5", "USD", "10.61"),  # 10.605: half away from zero
        ("10.05", "-10", "USD", "9.05"),  # 9.045
        ("100.00", "0", "USD", "100.00"),
        ("999", "5", "JPY", "1049"),  # 1048.95
        ("1000", "3.5", "JPY", "1035"),
        ("2.345", "10", "BHD", "2.580"),  # 2.5795
        ("1.234", "10", "BHD", "1.357"),  # 1.3574
    ],
)
def test_uplifted_price_is_rounded_to_the_currency(price, percent, currency, uplifted):
    result = uplifted_price(Decimal(price), Decimal(percent), currency)

    assert str(result) == uplifted


@pytest.mark.parametrize(
    ("rates", "currency", "value"),
    [
        (
            [RecurringRate(2, Decimal("30.00"), 1), RecurringRate(1, Decimal("1200.00"), 12)],
            "USD",
            "1920.00",
        ),
        ([RecurringRate(1, Decimal("103.00"), 12)], "USD", "103.00"),
        ([RecurringRate(1, Decimal("10.00"), 3)], "USD", "40.00"),  # 3.333.../month
        ([RecurringRate(3, Decimal("0.125"), 1)], "BHD", "4.500"),
        ([RecurringRate(1, Decimal("1000"), 7)], "JPY", "1714"),  # 1714.28...
        ([], "USD", "0.00"),
    ],
)
def test_annual_value_is_twelve_monthly_rates_rounded_once(rates, currency, value) -> None:
    assert str(annual_value(rates, currency)) == value

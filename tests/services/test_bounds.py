"""Nothing stored can overflow (billing-semantics §12): the largest contracts the input
bounds accept bill, store and renew on both backends, to the cent; one step further is
refused with INVALID at the field and writes nothing.

The bounds (services/validation.py, docs/api.md "Bounds"): quantity <= 1,000,000,
unit price <= 1,000,000,000, uplift <= 100%, terms <= 600 months, and an account's
exposure (every order product's |quantity| x price x (months + 24) / pricing term,
summed) <= 10^16, a tenth of what a DECIMAL(20,3) column holds.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from orbit.db.models import Contract, Invoice, OrderProduct, ScheduleLine
from orbit.engine.enums import BillingFrequency, ContractStatus
from orbit.services import validation as check
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract
from orbit.services.contracts import LineInput, account_exposure, renew_contract
from orbit.services.errors import Code, DomainError
from orbit.services.renewals import process_renewals
from tests.services import factory
from tests.services.conftest import Bill
from tests.services.factory import SYSTEM, refused

MAX_QUANTITY = 1_000_000
#: an annual line priced by the month, 12 months: exposure = q x p x (12 + 24)
ANNUAL_MAX_PRICE = Decimal("277777777.777777")  # 10^6 x p x 36 <= 10^16
#: the same, leaving room for one renewal at a 100% uplift: q x (p + 2p) x 36 <= 10^16
#: (in whole cents: a renewal rounds its uplifted price to the currency)
RENEWABLE_PRICE = Decimal("92592592.59")


def test_the_bounds_fit_the_columns() -> None:
    """The arithmetic the bounds rest on: DECIMAL(20,6) prices hold < 10^14, DECIMAL(20,3)
    amounts < 10^17, INT quantities < 2^31."""
    assert Decimal(10**14) > check.MAX_UNIT_PRICE * (1 + check.MAX_UPLIFT_PERCENT / 100)
    assert check.MAX_QUANTITY * 2 < 2**31  # an amendment's delta: new - old
    assert Decimal(10**17) == check.MAX_ACCOUNT_EXPOSURE * 10
    # the largest exposure a single line could claim without the account bound
    largest = check.exposure(
        MAX_QUANTITY, check.MAX_UNIT_PRICE, 1, date(2000, 1, 1), None
    )  # evergreen: 1200 + 24 months
    assert largest > check.MAX_ACCOUNT_EXPOSURE  # so the account bound is what holds
    assert check.exposure(
        MAX_QUANTITY, ANNUAL_MAX_PRICE, 1, date(2026, 1, 1), date(2026, 12, 31)
    ) == Decimal("9999999999999972")


async def test_the_largest_annual_contract_bills_and_stores(bill: Bill) -> None:
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    big = await factory.product(str(ANNUAL_MAX_PRICE), frequency=BillingFrequency.ANNUAL)
    contract, order = await factory.contract(acme, big, date(2026, 1, 1), quantity=MAX_QUANTITY)
    assert await account_exposure(acme.id) == Decimal("9999999999999972")
    (op,) = await factory.order_products(order)
    assert op.total_amount == Decimal("3333333333333324.000")
    invoice = await bill(acme, date(2026, 1, 1))
    assert invoice is not None
    stored = await Invoice.get(id=invoice.id)
    assert stored.total == Decimal("3333333333333324.000")
    assert await factory.document_lines(stored) == [
        (date(2026, 1, 1), date(2026, 12, 31), Decimal("3333333333333324.000"))
    ]
    # the account is full: nothing more may be added to it, not even one seat
    more = await refused(factory.contract(acme, big, date(2026, 2, 1), quantity=1), Code.INVALID)
    assert isinstance(more, DomainError)
    assert more.problems[0].field == ("lines", "0", "quantity")
    again = await refused(renew_contract(SYSTEM, contract.id), Code.INVALID)
    assert isinstance(again, DomainError)
    assert again.problems[0].field == ("upliftPercent",)


async def test_one_millionth_more_is_refused_at_the_quantity() -> None:
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    big = await factory.product(
        str(ANNUAL_MAX_PRICE + Decimal("0.000001")), frequency=BillingFrequency.ANNUAL
    )
    error = await refused(
        factory.contract(acme, big, date(2026, 1, 1), quantity=MAX_QUANTITY), Code.INVALID
    )
    assert isinstance(error, DomainError)
    assert error.problems[0].field == ("lines", "0", "quantity")
    assert "10,000,000,000,000,000" in error.problems[0].message


async def test_a_renewal_at_the_largest_uplift_bills_and_the_next_is_refused(bill: Bill) -> None:
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    big = await factory.product(str(RENEWABLE_PRICE), frequency=BillingFrequency.ANNUAL)
    contract, _ = await factory.contract(
        acme,
        big,
        date(2026, 1, 1),
        quantity=MAX_QUANTITY,
        auto_renew=True,
        renewal_uplift_percent=check.MAX_UPLIFT_PERCENT,
    )
    first = await bill(acme, date(2026, 1, 1))
    assert first is not None and first.total == Decimal("1111111111080000.000")
    factory.pin_today(date(2026, 12, 31))
    assert await process_renewals() == (1, 0)  # the worker renews it at +100%
    renewal = await Contract.get(renewal_of_id=contract.id)
    (op,) = await OrderProduct.filter(contract_id=renewal.id)
    assert op.unit_price == Decimal("185185185.18")
    assert op.total_amount == Decimal("2222222222160000.000")
    assert await account_exposure(acme.id) == Decimal("9999999999720000")
    factory.pin_today(date(2027, 1, 1))
    second = await bill(acme, date(2027, 1, 1))
    assert second is not None and second.total == Decimal("2222222222160000.000")
    # a second +100% would pass the account's bound: refused at the uplift, by hand...
    error = await refused(renew_contract(SYSTEM, renewal.id), Code.INVALID)
    assert isinstance(error, DomainError) and error.problems[0].field == ("upliftPercent",)
    # ...and by the worker, which goes on (the contract expires the day after its end)
    factory.pin_today(date(2027, 12, 31))
    assert await process_renewals() == (0, 0)
    assert (await Contract.get(id=renewal.id)).status is ContractStatus.ACTIVE
    assert not await Contract.filter(renewal_of_id=renewal.id).exists()


async def test_a_uplift_that_would_pass_the_largest_price_is_refused() -> None:
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    dear = await factory.product("600000000.00")
    contract, _ = await factory.contract(acme, dear, date(2026, 1, 1))
    error = await refused(
        renew_contract(SYSTEM, contract.id, uplift_percent=Decimal(100)), Code.INVALID
    )
    assert isinstance(error, DomainError)
    assert error.problems[0].field == ("upliftPercent",)
    assert "1200000000.00" in error.problems[0].message
    renewed, _ = await renew_contract(SYSTEM, contract.id, uplift_percent=Decimal("66.666666"))
    (op,) = await OrderProduct.filter(contract_id=renewed.id)
    assert op.unit_price == Decimal("999999996.00")


async def test_a_50_year_contract_backdated_to_2000_bills_26_years_in_one_document(
    bill: Bill,
) -> None:
    """The largest catch-up document: monthly lines from 2000-01 to 2026-01 at the
    largest price a 600-month term allows (10^6 x p x 624 <= 10^16)."""
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    price = Decimal("16025641.025641")
    monthly = await factory.product(str(price))
    _, order = await factory.contract(
        acme, monthly, date(2000, 1, 1), quantity=MAX_QUANTITY, months=600
    )
    (op,) = await factory.order_products(order)
    assert op.total_amount == MAX_QUANTITY * price * 600
    assert await ScheduleLine.filter(order_product_id=op.id).count() == 600
    invoice = await bill(acme, date(2026, 1, 1))
    assert invoice is not None
    assert invoice.total == MAX_QUANTITY * price * 313  # 2000-01 .. 2026-01
    assert (await Invoice.get(id=invoice.id)).total == Decimal("5016025641025633.000")


async def test_an_amendment_past_the_bounds_is_refused_at_its_change() -> None:
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    big = await factory.product(str(ANNUAL_MAX_PRICE), frequency=BillingFrequency.ANNUAL)
    contract, order = await factory.contract(acme, big, date(2026, 1, 1), quantity=500_000)
    (op,) = await factory.order_products(order)
    too_many = AmendmentInput(
        contract.id, date(2026, 3, 1), [ChangeInput(MAX_QUANTITY + 1, op.contract_line_id)]
    )
    error = await refused(amend_contract(SYSTEM, too_many), Code.INVALID)
    assert isinstance(error, DomainError)
    assert error.problems[0].field == ("changes", "0", "quantity")
    doubled = AmendmentInput(
        contract.id, date(2026, 3, 1), [ChangeInput(MAX_QUANTITY, op.contract_line_id)]
    )
    error = await refused(amend_contract(SYSTEM, doubled), Code.INVALID)
    assert isinstance(error, DomainError)
    assert error.problems[0].field == ("changes", "0", "quantity")
    # within the bound it goes through
    _, _, plan = await amend_contract(
        SYSTEM,
        AmendmentInput(contract.id, date(2026, 3, 1), [ChangeInput(400_000, op.contract_line_id)]),
    )
    assert plan.deltas


async def test_input_bounds_name_their_field() -> None:
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account()
    seats = await factory.product()
    cases = {
        ("lines", "0", "quantity"): dict(lines=[LineInput(seats.id, MAX_QUANTITY + 1)]),
        ("lines", "0", "unitPrice"): dict(
            lines=[LineInput(seats.id, 1, check.MAX_UNIT_PRICE + Decimal("0.000001"))]
        ),
        ("termMonths",): dict(months=601),
        ("renewalTermMonths",): dict(renewal_term_months=601),
        ("renewalUpliftPercent",): dict(renewal_uplift_percent=Decimal("100.000001")),
        ("endDate",): dict(months=None, end_date=date(2076, 1, 2)),
        ("startDate",): dict(start=date(1999, 12, 31)),
    }
    for field, kwargs in cases.items():
        start = kwargs.pop("start", date(2026, 1, 1))
        error = await refused(factory.contract(acme, seats, start, **kwargs), Code.INVALID)
        assert isinstance(error, DomainError)
        assert error.problems[0].field == field, (field, error.problems)
    # at the bounds: accepted
    await factory.contract(acme, seats, date(2026, 1, 1), months=600)
    await factory.contract(acme, seats, date(2026, 1, 1), months=None, end_date=date(2076, 1, 1))
    await factory.contract(
        acme, seats, date(2026, 1, 1), lines=[LineInput(seats.id, 1, check.MAX_UNIT_PRICE)]
    )

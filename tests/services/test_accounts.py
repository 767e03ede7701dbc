"""Accounts and the product catalog: what is stored, and what is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from orbit.db.models import Account, Contract, Product
from orbit.engine.enums import BillingFrequency, BillingType, ChargeType, ProrationPolicy
from orbit.services.accounts import (
    AccountChanges,
    AccountInput,
    ProductInput,
    create_account,
    create_product,
    update_account,
)
from orbit.services.errors import Code
from tests.services import factory
from tests.services.factory import SYSTEM, refused


async def test_create_account_stores_what_was_given() -> None:
    owner = await factory.user()
    account = await create_account(
        SYSTEM,
        AccountInput(
            name="  Acme Ltd ",
            currency="JPY",
            billing_day_of_month=31,
            payment_term_days=15,
            timezone="Asia/Tokyo",
            proration_policy=ProrationPolicy.MONTHLY_PLUS_DAILY,
            requires_purchase_order=True,
            owner_id=owner.id,
        ),
    )
    stored = await Account.get(id=account.id)
    assert (stored.name, stored.currency, stored.billing_day_of_month) == ("Acme Ltd", "JPY", 31)
    assert (stored.payment_term_days, stored.timezone) == (15, "Asia/Tokyo")
    assert stored.proration_policy is ProrationPolicy.MONTHLY_PLUS_DAILY
    assert stored.requires_purchase_order is True
    assert stored.owner_id == owner.id


async def test_an_account_may_start_without_a_billing_day() -> None:
    account = await factory.account()
    assert (await Account.get(id=account.id)).billing_day_of_month is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"billing_day_of_month": 0}, Code.INVALID),
        ({"billing_day_of_month": 32}, Code.INVALID),
        ({"currency": "ABC"}, Code.INVALID),
        ({"currency": "usd"}, Code.INVALID),
        ({"currency": "XXX"}, Code.INVALID),  # no minor unit: cannot be billed
        ({"timezone": "Mars/Olympus_Mons"}, Code.INVALID),
        ({"name": "   "}, Code.INVALID),
        ({"payment_term_days": -1}, Code.INVALID),
        ({"owner_id": 999_999}, Code.NOT_FOUND),
    ],
    ids=[
        "bdom-0",
        "bdom-32",
        "unknown-currency",
        "lowercase-currency",
        "no-minor-unit",
        "bad-timezone",
        "blank-name",
        "negative-terms",
        "unknown-owner",
    ],
)
async def test_create_account_refuses_bad_input(changes: dict[str, Any], code: Code) -> None:
    data = AccountInput(**{"name": "Acme", "currency": "USD", **changes})
    await refused(create_account(SYSTEM, data), code)


async def test_update_account_changes_only_what_is_given() -> None:
    account = await factory.account(billing_day_of_month=5, timezone="Europe/Paris")
    updated = await update_account(
        SYSTEM, account.id, AccountChanges(billing_day_of_month=20, payment_term_days=45)
    )
    stored = await Account.get(id=account.id)
    assert (stored.billing_day_of_month, stored.payment_term_days) == (20, 45)
    assert (stored.name, stored.timezone, stored.currency) == ("Acme", "Europe/Paris", "USD")
    assert updated.billing_day_of_month == 20


async def test_a_new_owner_is_copied_onto_the_accounts_contracts() -> None:
    factory.pin_today(date(2026, 1, 1))
    first, second = await factory.user(name="First"), await factory.user(name="Second")
    account = await factory.account(owner_id=first.id)
    seats = await factory.product()
    contract, _ = await factory.contract(account, seats, date(2026, 1, 1))
    assert contract.owner_id == first.id

    await update_account(SYSTEM, account.id, AccountChanges(owner_id=second.id))
    assert (await Contract.get(id=contract.id)).owner_id == second.id
    await update_account(SYSTEM, account.id, AccountChanges(owner_id=None))
    assert (await Contract.get(id=contract.id)).owner_id is None
    assert (await Account.get(id=account.id)).owner_id is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (AccountChanges(billing_day_of_month=0), Code.INVALID),
        (AccountChanges(billing_day_of_month=32), Code.INVALID),
        (AccountChanges(timezone="Nowhere/Else"), Code.INVALID),
        (AccountChanges(name=""), Code.INVALID),
        (AccountChanges(payment_term_days=-5), Code.INVALID),
        (AccountChanges(owner_id=999_999), Code.NOT_FOUND),
        (AccountChanges(billing_day_of_month=7, owner_id=999_999), Code.NOT_FOUND),
    ],
    ids=[
        "bdom-0",
        "bdom-32",
        "bad-timezone",
        "blank-name",
        "negative-terms",
        "unknown-owner",
        "valid-day-with-unknown-owner",
    ],
)
async def test_update_account_refuses_bad_input(changes: AccountChanges, code: Code) -> None:
    account = await factory.account(billing_day_of_month=5)
    await refused(update_account(SYSTEM, account.id, changes), code)


async def test_update_of_an_unknown_account_is_not_found() -> None:
    await refused(update_account(SYSTEM, 424_242, AccountChanges(name="X")), Code.NOT_FOUND)


async def test_create_product_stores_the_catalog_entry() -> None:
    product = await create_product(
        SYSTEM,
        ProductInput(
            sku="PLAT-Y",
            name="Platform",
            list_price=Decimal("1200.125"),
            billing_frequency=BillingFrequency.QUARTERLY,
            billing_type=BillingType.ARREARS,
            pricing_term_months=12,
        ),
    )
    stored = await Product.get(id=product.id)
    assert (stored.sku, stored.name, stored.list_price) == (
        "PLAT-Y",
        "Platform",
        Decimal("1200.125"),
    )
    assert stored.charge_type is ChargeType.RECURRING
    assert stored.billing_frequency is BillingFrequency.QUARTERLY
    assert stored.billing_type is BillingType.ARREARS
    assert stored.pricing_term_months == 12


async def test_a_reused_sku_is_a_duplicate() -> None:
    await create_product(SYSTEM, ProductInput(sku="SEAT", name="Seat", list_price=Decimal(10)))
    await refused(
        create_product(SYSTEM, ProductInput(sku="SEAT", name="Other", list_price=Decimal(5))),
        Code.DUPLICATE,
    )
    assert await Product.filter(sku="SEAT").count() == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"list_price": Decimal("-0.01")},
        {"list_price": Decimal("1.0000001")},
        {"list_price": Decimal("NaN")},
        {"pricing_term_months": 0},
        {"sku": " "},
        {"name": ""},
    ],
    ids=["negative-price", "seven-decimals", "nan-price", "zero-term", "blank-sku", "blank-name"],
)
async def test_create_product_refuses_bad_input(changes: dict[str, Any]) -> None:
    data = ProductInput(**{"sku": "S-1", "name": "Seat", "list_price": Decimal(10), **changes})
    await refused(create_product(SYSTEM, data), Code.INVALID)

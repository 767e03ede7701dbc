"""Building blocks for service tests: accounts, products, contracts in one call."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from orbit import clock
from orbit.db.models import Account, Contract, Order, Product
from orbit.engine.enums import BillingFrequency, BillingType, ChargeType
from orbit.services.access import Actor
from orbit.services.accounts import AccountInput, ProductInput, create_account, create_product
from orbit.services.contracts import ContractInput, LineInput, create_contract

SYSTEM = Actor.system()


def pin_today(day: date) -> None:
    clock.pin(datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC))


async def account(**kwargs: Any) -> Account:
    data = {"name": "Acme", "currency": "USD", **kwargs}
    return await create_account(SYSTEM, AccountInput(**data))


_sku = 0


async def product(
    price: str = "30.00",
    frequency: BillingFrequency = BillingFrequency.MONTHLY,
    billing_type: BillingType = BillingType.ADVANCE,
    charge_type: ChargeType = ChargeType.RECURRING,
    term: int = 1,
    name: str = "Seats",
) -> Product:
    global _sku
    _sku += 1
    return await create_product(
        SYSTEM,
        ProductInput(
            sku=f"SKU-{_sku}", name=name, list_price=Decimal(price), charge_type=charge_type,
            billing_frequency=frequency, billing_type=billing_type, pricing_term_months=term,
        ),
    )


async def contract(
    owner: Account,
    item: Product,
    start: date,
    quantity: int = 1,
    months: int | None = 12,
    **kwargs: Any,
) -> tuple[Contract, Order]:
    lines = kwargs.pop("lines", None) or [LineInput(product_id=item.id, quantity=quantity)]
    return await create_contract(
        SYSTEM,
        ContractInput(account_id=owner.id, start_date=start, lines=lines, term_months=months,
                      **kwargs),
    )

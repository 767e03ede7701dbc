"""Accounts and the product catalog."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from orbit.db.models import Account, Contract, Product, User
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.services import validation as check
from orbit.services.access import Actor, Permission
from orbit.services.audit import record
from orbit.services.errors import Code, DomainError, NotFound

UNSET = object()


async def lock_account(account_id: int) -> None:
    """Take the account's row lock (PostgreSQL). Every operation that changes what an
    account bills or owes takes it first, then its other rows: one lock order for all."""
    await Account.filter(id=account_id).select_for_update().first()


M = TypeVar("M", bound=Model)


async def get_visible(
    actor: Actor, query: QuerySet[M], what: str, field: str, lock: bool = False
) -> M:
    """The one row of ``query`` (which selects its ``account``), if the actor may see
    it; with ``lock``, its account's row and its own are locked, in that order."""
    row = await query.first()
    if row is None or not actor.sees(row.account):  # type: ignore[attr-defined]
        raise NotFound(what, (field,))
    if lock:
        await lock_account(row.account_id)  # type: ignore[attr-defined]
        locked = await query.select_for_update(of=(row._meta.db_table,)).first()
        assert locked is not None
        return locked
    return row


async def get_account(actor: Actor, account_id: int, lock: bool = False) -> Account:
    """The account, if the actor may see it."""
    query = Account.filter(id=account_id)
    if lock:
        query = query.select_for_update()
    account = await query.first()
    if account is None or not actor.sees(account):
        raise NotFound("account", ("accountId",))
    return account


async def _owner(owner_id: int | None) -> int | None:
    if owner_id is None:
        return None
    if not await User.filter(id=owner_id).exists():
        raise NotFound("owner", ("ownerId",))
    return owner_id


@dataclass
class AccountInput:
    name: str
    currency: str
    billing_day_of_month: int | None = None
    payment_term_days: int = 30
    timezone: str = "UTC"
    proration_policy: ProrationPolicy = ProrationPolicy.ACTUAL_DAYS
    partial_period_treatment: PartialPeriodTreatment = PartialPeriodTreatment.SEPARATE
    requires_purchase_order: bool = False
    owner_id: int | None = None


async def create_account(actor: Actor, data: AccountInput) -> Account:
    actor.require(Permission.CREATE_ACCOUNTS)
    name = check.text(data.name, "name")
    currency = check.currency(data.currency)
    if data.billing_day_of_month is not None:
        check.billing_day(data.billing_day_of_month)
    check.whole(data.payment_term_days, "paymentTermDays", 0, 3650)
    check.timezone(data.timezone)
    async with in_transaction():
        owner_id = await _owner(data.owner_id)
        account = await Account.create(
            name=name,
            currency=currency,
            billing_day_of_month=data.billing_day_of_month,
            payment_term_days=data.payment_term_days,
            timezone=data.timezone,
            proration_policy=data.proration_policy,
            partial_period_treatment=data.partial_period_treatment,
            requires_purchase_order=data.requires_purchase_order,
            owner_id=owner_id,
        )
        await record(actor, "account.create", account, {"name": name, "currency": currency})
    return account


@dataclass
class AccountChanges:
    """Fields left as None are not changed."""

    name: str | None = None
    billing_day_of_month: int | None = None
    payment_term_days: int | None = None
    timezone: str | None = None
    proration_policy: ProrationPolicy | None = None
    partial_period_treatment: PartialPeriodTreatment | None = None
    requires_purchase_order: bool | None = None
    owner_id: int | object | None = UNSET


async def update_account(actor: Actor, account_id: int, changes: AccountChanges) -> Account:
    actor.require(Permission.UPDATE_ACCOUNTS)
    if changes.owner_id is not UNSET:
        actor.require(Permission.SET_ACCOUNT_OWNER)
    if changes.name is not None:
        changes.name = check.text(changes.name, "name")
    if changes.billing_day_of_month is not None:
        check.billing_day(changes.billing_day_of_month)
    if changes.payment_term_days is not None:
        check.whole(changes.payment_term_days, "paymentTermDays", 0, 3650)
    if changes.timezone is not None:
        check.timezone(changes.timezone)
    async with in_transaction():
        account = await get_account(actor, account_id, lock=True)
        changed: dict[str, object] = {}
        for item in fields(changes):
            value = getattr(changes, item.name)
            if value is None or value is UNSET:
                continue
            if item.name == "owner_id":
                continue
            if getattr(account, item.name) != value:
                setattr(account, item.name, value)
                changed[item.name] = value
        if changes.owner_id is not UNSET:
            owner_id = await _owner(changes.owner_id)  # type: ignore[arg-type]
            if owner_id != account.owner_id:
                account.owner_id = owner_id
                changed["owner_id"] = owner_id
                await Contract.filter(account_id=account.id).update(owner_id=owner_id)
        if changed:
            await account.save()
        await record(actor, "account.update", account, changed)
    return account


@dataclass
class ProductInput:
    sku: str
    name: str
    list_price: Decimal
    charge_type: ChargeType = ChargeType.RECURRING
    billing_frequency: BillingFrequency = BillingFrequency.MONTHLY
    billing_type: BillingType = BillingType.ADVANCE
    pricing_term_months: int = 1


async def create_product(actor: Actor, data: ProductInput) -> Product:
    actor.require(Permission.MANAGE_PRODUCTS)
    sku = check.text(data.sku, "sku", 100)
    name = check.text(data.name, "name")
    price = check.unit_price(data.list_price, "listPrice")
    check.whole(data.pricing_term_months, "pricingTermMonths", 1, 120)
    try:
        async with in_transaction():
            if await Product.filter(sku=sku).exists():
                raise DomainError(Code.DUPLICATE, f"a product with sku {sku!r} exists", ("sku",))
            product = await Product.create(
                sku=sku,
                name=name,
                list_price=price,
                charge_type=data.charge_type,
                billing_frequency=data.billing_frequency,
                billing_type=data.billing_type,
                pricing_term_months=data.pricing_term_months,
            )
            await record(actor, "product.create", product, {"sku": sku, "price": price})
    except IntegrityError:
        raise DomainError(Code.DUPLICATE, f"a product with sku {sku!r} exists", ("sku",)) from None
    return product

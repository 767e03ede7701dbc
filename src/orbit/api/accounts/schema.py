"""Queries and mutations on accounts, products and users' accounts."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from orbit.api.accounts.types import Account, AccountConnection, Product, User
from orbit.api.common import UserError, user_errors
from orbit.api.context import Info
from orbit.api.ids import require_id, row_id
from orbit.api.mutations import Result, run
from orbit.api.pagination import keyset
from orbit.db import models as db
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.services import accounts as service
from orbit.services.access import Actor, Permission
from orbit.services.errors import Problem


@strawberry.input
class CreateAccountInput:
    name: str
    currency: str
    billing_day_of_month: int | None = None
    payment_term_days: int = 30
    timezone: str = "UTC"
    proration_policy: ProrationPolicy = ProrationPolicy.ACTUAL_DAYS
    partial_period_treatment: PartialPeriodTreatment = PartialPeriodTreatment.SEPARATE
    requires_purchase_order: bool = False
    owner_id: strawberry.ID | None = None


@strawberry.input(description="Changes apply to contracts and order products created afterwards.")
class UpdateAccountInput:
    account_id: strawberry.ID
    name: str | None = None
    billing_day_of_month: int | None = None
    payment_term_days: int | None = None
    timezone: str | None = None
    proration_policy: ProrationPolicy | None = None
    partial_period_treatment: PartialPeriodTreatment | None = None
    requires_purchase_order: bool | None = None
    owner_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class CreateProductInput:
    sku: str
    name: str
    charge_type: ChargeType = ChargeType.RECURRING
    billing_frequency: BillingFrequency = BillingFrequency.MONTHLY
    billing_type: BillingType = BillingType.ADVANCE
    list_price: Decimal
    pricing_term_months: int = 1


@strawberry.type
class AccountPayload:
    account: Account | None
    user_errors: list[UserError]


@strawberry.type
class ProductPayload:
    product: Product | None
    user_errors: list[UserError]


def _owner(value: strawberry.ID | None) -> int | None:
    if value is None:
        return None
    return require_id(value, "User", ("ownerId",))


async def _account_payload(result: Result) -> AccountPayload:
    row = await db.Account.get(id=result["account"])
    return AccountPayload(account=Account.of(row), user_errors=[])


def _account_failed(problems: list[Problem]) -> AccountPayload:
    return AccountPayload(account=None, user_errors=user_errors(problems))


@strawberry.type
class AccountQueries:
    @strawberry.field
    async def account(self, info: Info, id: strawberry.ID) -> Account | None:
        info.context.require(Permission.READ)
        account = await info.context.visible_account(row_id(id, "Account"))
        return Account.of(account) if account else None

    @strawberry.field
    async def accounts(
        self,
        info: Info,
        search: str | None = None,
        owner_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AccountConnection:
        actor = info.context.require(Permission.READ)
        query = db.Account.all()
        if search:
            query = query.filter(name__icontains=search.strip())
        if owner_id is not None:
            query = query.filter(owner_id=row_id(owner_id, "User") or -1)
        if actor.owner_scope is not None:
            query = query.filter(owner_id=actor.owner_scope)
        return AccountConnection.of(await keyset(query, first, after))

    @strawberry.field
    async def products(self, info: Info) -> list[Product]:
        info.context.require(Permission.READ)
        return [Product.of(row) for row in await db.Product.all().order_by("id")]


@strawberry.type
class AccountMutations:
    @strawberry.mutation
    async def create_account(self, info: Info, input: CreateAccountInput) -> AccountPayload:
        async def work(actor: Actor) -> Result:
            data = service.AccountInput(
                name=input.name,
                currency=input.currency,
                billing_day_of_month=input.billing_day_of_month,
                payment_term_days=input.payment_term_days,
                timezone=input.timezone,
                proration_policy=input.proration_policy,
                partial_period_treatment=input.partial_period_treatment,
                requires_purchase_order=input.requires_purchase_order,
                owner_id=_owner(input.owner_id),
            )
            return {"account": (await service.create_account(actor, data)).id}

        return await run(info, "createAccount", work, _account_payload, _account_failed)

    @strawberry.mutation
    async def update_account(self, info: Info, input: UpdateAccountInput) -> AccountPayload:
        async def work(actor: Actor) -> Result:
            changes = service.AccountChanges(
                name=input.name,
                billing_day_of_month=input.billing_day_of_month,
                payment_term_days=input.payment_term_days,
                timezone=input.timezone,
                proration_policy=input.proration_policy,
                partial_period_treatment=input.partial_period_treatment,
                requires_purchase_order=input.requires_purchase_order,
            )
            if input.owner_id is not strawberry.UNSET:
                changes.owner_id = _owner(input.owner_id)
            account_id = require_id(input.account_id, "Account", ("accountId",))
            return {"account": (await service.update_account(actor, account_id, changes)).id}

        return await run(info, "updateAccount", work, _account_payload, _account_failed)

    @strawberry.mutation
    async def create_product(self, info: Info, input: CreateProductInput) -> ProductPayload:
        async def work(actor: Actor) -> Result:
            product = await service.create_product(
                actor,
                service.ProductInput(
                    sku=input.sku,
                    name=input.name,
                    list_price=input.list_price,
                    charge_type=input.charge_type,
                    billing_frequency=input.billing_frequency,
                    billing_type=input.billing_type,
                    pricing_term_months=input.pricing_term_months,
                ),
            )
            return {"product": product.id}

        async def build(result: Result) -> ProductPayload:
            return ProductPayload(
                product=Product.of(await db.Product.get(id=result["product"])), user_errors=[]
            )

        return await run(
            info,
            "createProduct",
            work,
            build,
            lambda problems: ProductPayload(product=None, user_errors=user_errors(problems)),
        )


__all__ = ["AccountMutations", "AccountQueries", "User"]

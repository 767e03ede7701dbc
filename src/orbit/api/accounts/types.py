"""Account, User and Product."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from orbit.api.common import Money, Node, from_row, price
from orbit.api.context import Info
from orbit.api.pagination import Page, PageInfo, edges_of, nested_page
from orbit.api.refs import (
    BillingHoldRef,
    ContractConnectionRef,
    InvoiceConnectionRef,
    InvoicePreviewRef,
    OrderConnectionRef,
    PaymentConnectionRef,
)
from orbit.db import models as db
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    ContractStatus,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.services import holds as hold_service


@strawberry.type
class User(Node):
    email: str
    name: str
    role: db.Role

    @classmethod
    def of(cls, row: db.User) -> User:
        return from_row(cls, row)


@strawberry.type
class Product(Node):
    sku: str
    name: str
    charge_type: ChargeType
    billing_frequency: BillingFrequency
    billing_type: BillingType
    list_price: Decimal = strawberry.field(
        description="List price of one unit for pricingTermMonths months (recurring) or once "
        "(one-time)."
    )
    pricing_term_months: int

    @classmethod
    def of(cls, row: db.Product) -> Product:
        return from_row(cls, row, list_price=price(row.list_price))


@strawberry.type
class Account(Node):
    name: str
    currency: str
    billing_day_of_month: int | None = strawberry.field(
        description="Null until set, or until the account's first contract is created (then "
        "its start day)."
    )
    payment_term_days: int
    timezone: str
    proration_policy: ProrationPolicy
    partial_period_treatment: PartialPeriodTreatment
    requires_purchase_order: bool
    row: strawberry.Private[db.Account]

    @classmethod
    def of(cls, row: db.Account) -> Account:
        return from_row(cls, row)

    @strawberry.field
    async def owner(self, info: Info) -> User | None:
        if self.row.owner_id is None:
            return None
        user = await info.context.loaders.user.load(self.row.owner_id)
        return User.of(user) if user else None

    @strawberry.field
    async def contracts(
        self,
        info: Info,
        status: list[ContractStatus] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ContractConnectionRef:
        from orbit.api.contracts.types import ContractConnection

        loader = info.context.loaders.contracts_of_account
        return ContractConnection.of(await nested_page(loader, self.row.id, first, after, status))

    @strawberry.field
    async def orders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> OrderConnectionRef:
        from orbit.api.contracts.types import OrderConnection

        loader = info.context.loaders.orders_of_account
        return OrderConnection.of(await nested_page(loader, self.row.id, first, after))

    @strawberry.field
    async def invoices(
        self,
        info: Info,
        status: list[db.InvoiceStatus] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> InvoiceConnectionRef:
        from orbit.api.billing.types import InvoiceConnection

        loader = info.context.loaders.invoices_of_account
        return InvoiceConnection.of(await nested_page(loader, self.row.id, first, after, status))

    @strawberry.field
    async def payments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> PaymentConnectionRef:
        from orbit.api.receivables.types import PaymentConnection

        loader = info.context.loaders.payments_of_account
        return PaymentConnection.of(await nested_page(loader, self.row.id, first, after))

    @strawberry.field
    async def holds(self, info: Info, active_only: bool = True) -> list[BillingHoldRef]:
        from orbit import clock
        from orbit.api.billing.types import BillingHold

        today = clock.today(self.row.timezone)
        rows = await info.context.loaders.holds_of_account.load(self.row.id)
        return [
            BillingHold.of(row, today)
            for row in rows
            if not active_only or hold_service.is_active(row, today)
        ]

    @strawberry.field(
        description="What the customer owes at the end of the account's today (negative: "
        "credit): posted documents less payments, each counted from its date (postedOn, "
        "receivedOn) on. Always receivablesAging's total for the account as of that day."
    )
    async def balance(self, info: Info) -> Money:
        return Money.of(await info.context.loaders.balance.load(self.row), self.row.currency)

    @strawberry.field(
        description="Dry run: the document an invoice run with this target date would create now."
    )
    async def invoice_preview(self, info: Info, target_date: date) -> InvoicePreviewRef:
        from orbit.api.billing.types import InvoicePreview

        return await InvoicePreview.build(info, self.row, target_date)


@strawberry.type
class AccountEdge:
    cursor: str
    node: Account


@strawberry.type
class AccountConnection:
    edges: list[AccountEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[db.Account]) -> AccountConnection:
        return cls(edges=edges_of(page, AccountEdge, Account.of), page_info=page.page_info)

"""Payments, applications and the receivables aging."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from orbit.api import lookups
from orbit.api.common import Money, Node, from_row
from orbit.api.context import Info
from orbit.api.pagination import Page, PageInfo, edges_of
from orbit.api.refs import AccountRef, InvoiceRef
from orbit.db import models as db
from orbit.services.receivables import BUCKETS
from orbit.services.receivables import AccountAging as AgingRow
from orbit.services.receivables import CurrencyAging as CurrencyTotals


@strawberry.type(description="Part of a payment or posted credit note applied to an invoice.")
class Application:
    amount: Money
    applied_on: date
    row: strawberry.Private[db.Application]

    @classmethod
    def of(cls, row: db.Application, currency: str) -> Application:
        return cls(amount=Money.of(row.amount, currency), applied_on=row.applied_on, row=row)

    @strawberry.field
    async def invoice(self, info: Info) -> InvoiceRef:
        from orbit.api.billing.types import Invoice

        row = await info.context.loaders.invoice.load(self.row.invoice_id)
        assert row is not None
        return Invoice.of(row)

    @strawberry.field(description="One of payment and creditNote is set.")
    async def payment(self, info: Info) -> Payment | None:
        if self.row.payment_id is None:
            return None
        row = await info.context.loaders.payment.load(self.row.payment_id)
        return Payment.of(row) if row else None

    @strawberry.field
    async def credit_note(self, info: Info) -> InvoiceRef | None:
        from orbit.api.billing.types import Invoice

        if self.row.credit_note_id is None:
            return None
        row = await info.context.loaders.invoice.load(self.row.credit_note_id)
        return Invoice.of(row) if row else None


@strawberry.type
class Payment(Node):
    amount: Money
    received_on: date
    reference: str
    unapplied_amount: Money
    row: strawberry.Private[db.Payment]

    @classmethod
    def of(cls, row: db.Payment) -> Payment:
        return from_row(
            cls,
            row,
            amount=Money.of(row.amount, row.currency),
            unapplied_amount=Money.of(row.unapplied, row.currency),
        )

    @strawberry.field
    async def account(self, info: Info) -> AccountRef:
        return await lookups.account(info, self.row.account_id)

    @strawberry.field
    async def applications(self, info: Info) -> list[Application]:
        rows = await info.context.loaders.applications_of_payment.load(self.row.id)
        return [Application.of(row, self.row.currency) for row in rows]


@strawberry.type
class PaymentEdge:
    cursor: str
    node: Payment


@strawberry.type
class PaymentConnection:
    edges: list[PaymentEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[db.Payment]) -> PaymentConnection:
        return cls(edges=edges_of(page, PaymentEdge, Payment.of), page_info=page.page_info)


@strawberry.type
class AgingBucket:
    label: str = strawberry.field(description="CURRENT, 1-30, 31-60, 61-90 or 91+.")
    min_days: int | None = strawberry.field(
        description="Days past due, inclusive; CURRENT has no lower bound and 91+ no upper bound."
    )
    max_days: int | None
    amount: Money


def buckets(amounts: dict[str, Decimal], currency: str) -> list[AgingBucket]:
    return [
        AgingBucket(
            label=label,
            min_days=low,
            max_days=high,
            amount=Money.of(amounts.get(label, Decimal(0)), currency),
        )
        for label, low, high in BUCKETS
    ]


@strawberry.type
class AccountAging:
    buckets: list[AgingBucket]
    unapplied_credit: Money
    total: Money
    row: strawberry.Private[db.Account]

    @classmethod
    def of(cls, aging: AgingRow) -> AccountAging:
        currency = aging.account.currency
        return cls(
            buckets=buckets(aging.buckets, currency),
            unapplied_credit=Money.of(aging.unapplied_credit, currency),
            total=Money.of(aging.total, currency),
            row=aging.account,
        )

    @strawberry.field
    async def account(self, info: Info) -> AccountRef:
        from orbit.api.accounts.types import Account

        return Account.of(self.row)


@strawberry.type
class AccountAgingEdge:
    cursor: str
    node: AccountAging


@strawberry.type
class AccountAgingConnection:
    edges: list[AccountAgingEdge]
    page_info: PageInfo
    currency_totals: strawberry.Private[list[CurrencyTotals]]

    @strawberry.field(
        description="Bucket totals over every account of the report (all pages). Accounts in "
        "other currencies are not added up: with several currencies, the totals are those of "
        "the currency with the most accounts and totalsByCurrency has them all."
    )
    def totals(self) -> list[AgingBucket]:
        if not self.currency_totals:
            return buckets({}, "USD")
        first = self.currency_totals[0]
        return buckets(first.buckets, first.currency)

    @strawberry.field(
        description="Totals per currency over every account of the report (all pages), the "
        "currency with the most accounts first: each figure is the sum of its accounts'."
    )
    def totals_by_currency(self) -> list[CurrencyAging]:
        return [CurrencyAging.of(totals) for totals in self.currency_totals]


@strawberry.type
class CurrencyAging:
    currency: str
    buckets: list[AgingBucket]
    unapplied_credit: Money = strawberry.field(
        description="The accounts' unapplied credit (negative), added up."
    )
    total: Money = strawberry.field(
        description="Buckets plus unapplied credit: the sum of the accounts' totals."
    )

    @classmethod
    def of(cls, totals: CurrencyTotals) -> CurrencyAging:
        currency = totals.currency
        return cls(
            currency=currency,
            buckets=buckets(totals.buckets, currency),
            unapplied_credit=Money.of(totals.unapplied_credit, currency),
            total=Money.of(totals.total, currency),
        )

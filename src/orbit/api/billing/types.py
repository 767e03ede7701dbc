"""Invoices and credit notes, invoice runs, previews, and billing holds."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import strawberry

from orbit.api import lookups
from orbit.api.common import Money, Node, from_row
from orbit.api.context import Info
from orbit.api.pagination import Page, PageInfo, edges_of, nested_page
from orbit.api.refs import (
    AccountRef,
    ApplicationRef,
    ContractRef,
    OrderProductRef,
    OrderRef,
    ProductRef,
    ScheduleLineRef,
)
from orbit.db import models as db
from orbit.engine.money import round_fraction
from orbit.services import holds as hold_service
from orbit.services.access import Permission
from orbit.services.billing import invoice_preview
from orbit.services.state import ScheduleEntry


@strawberry.type
class InvoiceLine(Node):
    description: str
    period_start: date
    period_end: date
    quantity: int
    fraction: Decimal
    amount: Money
    row: strawberry.Private[db.InvoiceLine]

    @classmethod
    def of(cls, row: db.InvoiceLine, currency: str) -> InvoiceLine:
        return from_row(
            cls,
            row,
            fraction=round_fraction(Fraction(row.fraction)),
            amount=Money.of(row.amount, currency),
        )

    @strawberry.field
    async def schedule_line(self, info: Info) -> ScheduleLineRef:
        from orbit.api.contracts.types import ScheduleLine

        line = await ScheduleLine.load(info, self.row.schedule_line_id)
        assert line is not None
        return line

    @strawberry.field
    async def order_product(self, info: Info) -> OrderProductRef:
        from orbit.api.contracts.types import OrderProduct

        row = await info.context.loaders.order_product.load(self.row.order_product_id)
        assert row is not None
        return OrderProduct.of(row)

    @strawberry.field
    async def product(self, info: Info) -> ProductRef:
        return await lookups.product(info, self.row.product_id)


@strawberry.type
class Invoice(Node):
    number: str | None = strawberry.field(
        description="Assigned when posted; gapless and increasing per document type."
    )
    document_type: db.DocumentType
    status: db.InvoiceStatus
    payment_status: db.PaymentStatus | None = strawberry.field(
        description="Null for drafts and cancelled documents."
    )
    invoice_date: date
    due_date: date
    posted_on: date | None
    total: Money
    balance: Money
    row: strawberry.Private[db.Invoice]

    @classmethod
    def of(cls, row: db.Invoice) -> Invoice:
        if row.status is db.InvoiceStatus.POSTED:
            open_amount = row.open_balance
        elif row.status is db.InvoiceStatus.DRAFT:
            open_amount = row.total
        else:
            open_amount = Decimal(0)
        return from_row(
            cls,
            row,
            payment_status=row.payment_status if row.status is db.InvoiceStatus.POSTED else None,
            total=Money.of(row.total, row.currency),
            balance=Money.of(open_amount, row.currency),
        )

    @strawberry.field
    async def account(self, info: Info) -> AccountRef:
        return await lookups.account(info, self.row.account_id)

    @strawberry.field
    async def invoice_run(self, info: Info) -> InvoiceRun | None:
        # a run spans every account: only roles that read runs see it (as node(id))
        if self.row.invoice_run_id is None or not info.context.actor.can(Permission.READ_RUNS):
            return None
        row = await info.context.loaders.invoice_run.load(self.row.invoice_run_id)
        return InvoiceRun.of(row) if row else None

    @strawberry.field
    async def lines(self, info: Info) -> list[InvoiceLine]:
        rows = await info.context.loaders.lines_of_invoice.load(self.row.id)
        return [InvoiceLine.of(row, self.row.currency) for row in rows]

    @strawberry.field(
        description="For an invoice: the credits applied to it; for a credit note: where it "
        "was applied."
    )
    async def applications(self, info: Info) -> list[ApplicationRef]:
        from orbit.api.receivables.types import Application

        loaders = info.context.loaders
        if self.row.document_type is db.DocumentType.INVOICE:
            rows = await loaders.applications_to_invoice.load(self.row.id)
        else:
            rows = await loaders.applications_of_note.load(self.row.id)
        return [Application.of(row, self.row.currency) for row in rows]

    @strawberry.field(description="For a credit note: the invoice it reverses, if any.")
    async def reverses(self, info: Info) -> Invoice | None:
        if self.row.reverses_id is None:
            return None
        row = await info.context.loaders.invoice.load(self.row.reverses_id)
        return Invoice.of(row) if row else None


@strawberry.type
class InvoiceEdge:
    cursor: str
    node: Invoice


@strawberry.type
class InvoiceConnection:
    edges: list[InvoiceEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[db.Invoice]) -> InvoiceConnection:
        return cls(edges=edges_of(page, InvoiceEdge, Invoice.of), page_info=page.page_info)


@strawberry.type
class InvoiceRunError:
    message: str
    account_id: strawberry.Private[int | None]

    @strawberry.field(description="Null for an error of the run itself.")
    async def account(self, info: Info) -> AccountRef | None:
        if self.account_id is None:
            return None
        return await lookups.account(info, self.account_id)


@strawberry.type
class InvoiceRun(Node):
    status: db.InvoiceRunStatus
    target_date: date
    invoice_date: date
    auto_post: bool
    accounts_total: int
    accounts_processed: int
    invoices_created: int
    lines_created: int
    started_at: datetime | None
    finished_at: datetime | None
    row: strawberry.Private[db.InvoiceRun]

    @classmethod
    def of(cls, row: db.InvoiceRun) -> InvoiceRun:
        return from_row(cls, row)

    @strawberry.field
    async def errors(self, info: Info) -> list[InvoiceRunError]:
        failed = await db.InvoiceRunAccount.filter(
            run_id=self.row.id, status=db.RunAccountStatus.FAILED
        ).order_by("account_id")
        errors = [
            InvoiceRunError(message=f.error or "failed", account_id=f.account_id) for f in failed
        ]
        actor = info.context.actor
        visible = []
        for error in errors:
            account = await info.context.visible_account(error.account_id)
            if account is not None or actor.owner_scope is None:
                visible.append(error)
        if self.row.error:
            visible.insert(0, InvoiceRunError(message=self.row.error, account_id=None))
        return visible

    @strawberry.field
    async def invoices(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> InvoiceConnection:
        loader = info.context.loaders.invoices_of_run
        return InvoiceConnection.of(
            await nested_page(
                loader, self.row.id, first, after, owner=info.context.actor.owner_scope
            )
        )


@strawberry.type
class InvoiceRunEdge:
    cursor: str
    node: InvoiceRun


@strawberry.type
class InvoiceRunConnection:
    edges: list[InvoiceRunEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[db.InvoiceRun]) -> InvoiceRunConnection:
        return cls(edges=edges_of(page, InvoiceRunEdge, InvoiceRun.of), page_info=page.page_info)


@strawberry.type
class InvoicePreview:
    target_date: date
    lines: list[ScheduleLineRef]
    total: Money
    account_row: strawberry.Private[db.Account]

    @classmethod
    async def build(cls, info: Info, account: db.Account, target: date) -> InvoicePreview:
        from orbit.api.contracts.types import ScheduleLine

        preview = await invoice_preview(account, target)
        lines = [
            ScheduleLine.of(ScheduleEntry(d.row, d.effective_due, None), account.currency)
            for d in preview.lines
        ]
        return cls(
            target_date=target,
            lines=lines,
            total=Money.of(preview.total, account.currency),
            account_row=account,
        )

    @strawberry.field
    async def account(self, info: Info) -> AccountRef:
        from orbit.api.accounts.types import Account

        return Account.of(self.account_row)


@strawberry.type
class BillingHold(Node):
    scope: db.HoldScope
    source: db.HoldSource
    reason: str
    placed_at: datetime
    release_on: date | None
    released_at: datetime | None
    active: bool
    row: strawberry.Private[db.BillingHold]

    @classmethod
    def of(cls, row: db.BillingHold, today: date) -> BillingHold:
        return from_row(cls, row, active=hold_service.is_active(row, today))

    @strawberry.field
    async def account(self, info: Info) -> AccountRef:
        return await lookups.account(info, self.row.account_id)

    @strawberry.field
    async def contract(self, info: Info) -> ContractRef | None:
        from orbit.api.contracts.types import Contract

        if self.row.contract_id is None:
            return None
        row = await info.context.loaders.contract.load(self.row.contract_id)
        return Contract.of(row) if row else None

    @strawberry.field
    async def order(self, info: Info) -> OrderRef | None:
        from orbit.api.contracts.types import Order

        if self.row.order_id is None:
            return None
        row = await info.context.loaders.order.load(self.row.order_id)
        return Order.of(row) if row else None

    @strawberry.field
    async def order_product(self, info: Info) -> OrderProductRef | None:
        from orbit.api.contracts.types import OrderProduct

        if self.row.order_product_id is None:
            return None
        row = await info.context.loaders.order_product.load(self.row.order_product_id)
        return OrderProduct.of(row) if row else None


@strawberry.type
class BillingHoldEdge:
    cursor: str
    node: BillingHold


@strawberry.type
class BillingHoldConnection:
    edges: list[BillingHoldEdge]
    page_info: PageInfo


@strawberry.type
class HoldRules:
    overdue_days: int | None = strawberry.field(
        description="Hold an account's billing while it has a posted invoice at least this "
        "many days past due; null: off."
    )

"""Queries and mutations on documents, invoice runs and holds."""

from __future__ import annotations

from datetime import date

import strawberry

from orbit import clock
from orbit.api.billing.types import (
    BillingHold,
    BillingHoldConnection,
    BillingHoldEdge,
    HoldRules,
    Invoice,
    InvoiceConnection,
    InvoiceRun,
    InvoiceRunConnection,
)
from orbit.api.common import UserError, user_errors
from orbit.api.context import Info
from orbit.api.errors import BadInput
from orbit.api.ids import require_id, row_id
from orbit.api.mutations import Result, run
from orbit.api.pagination import MAX_PAGE, PageInfo, keyset, page_size
from orbit.db import models as db
from orbit.services import holds as hold_service
from orbit.services import invoices as invoicing
from orbit.services import runs
from orbit.services.access import Actor, Permission
from orbit.services.errors import Problem

MAX_ITEMS = 100


@strawberry.input
class PlaceBillingHoldInput:
    scope: db.HoldScope
    target_id: strawberry.ID = strawberry.field(
        description="The account, contract, order or order product to hold."
    )
    reason: str
    release_on: date | None = strawberry.field(
        default=None, description="Release automatically on this date (in the account's time zone)."
    )


@strawberry.input
class ReleaseBillingHoldInput:
    hold_id: strawberry.ID


@strawberry.input
class HoldRulesInput:
    overdue_days: int | None = strawberry.field(
        default=None, description="Null turns the overdue rule off."
    )


@strawberry.input
class StartInvoiceRunInput:
    target_date: date
    invoice_date: date | None = strawberry.field(
        default=None, description="Defaults to targetDate."
    )
    account_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Limit the run to these accounts; all accounts when omitted."
    )
    auto_post: bool = False


@strawberry.input
class InvoiceInput:
    invoice_id: strawberry.ID


@strawberry.input
class CreditInvoiceInput:
    invoice_id: strawberry.ID
    rebill: bool = strawberry.field(
        default=True,
        description="Bill the credited lines again on the next run (cancel and rebill).",
    )


@strawberry.input
class PostInvoicesInput:
    invoice_run_id: strawberry.ID


@strawberry.type
class BillingHoldPayload:
    hold: BillingHold | None
    user_errors: list[UserError]


@strawberry.type
class HoldRulesPayload:
    hold_rules: HoldRules | None
    user_errors: list[UserError]


@strawberry.type
class InvoiceRunPayload:
    invoice_run: InvoiceRun | None
    user_errors: list[UserError]


@strawberry.type
class InvoicePayload:
    invoice: Invoice | None
    credit_note: Invoice | None
    user_errors: list[UserError]


@strawberry.type
class PostInvoicesPayload:
    invoices: list[Invoice]
    user_errors: list[UserError]


async def _hold_payload(result: Result) -> BillingHoldPayload:
    row = await db.BillingHold.get(id=result["hold"]).select_related("account")
    return BillingHoldPayload(
        hold=BillingHold.of(row, clock.today(row.account.timezone)), user_errors=[]
    )


def _hold_failed(problems: list[Problem]) -> BillingHoldPayload:
    return BillingHoldPayload(hold=None, user_errors=user_errors(problems))


async def _invoice_payload(result: Result) -> InvoicePayload:
    invoice = await db.Invoice.get(id=result["invoice"])
    note = await db.Invoice.get(id=result["creditNote"]) if result.get("creditNote") else None
    return InvoicePayload(
        invoice=Invoice.of(invoice), credit_note=Invoice.of(note) if note else None, user_errors=[]
    )


def _invoice_failed(problems: list[Problem]) -> InvoicePayload:
    return InvoicePayload(invoice=None, credit_note=None, user_errors=user_errors(problems))


@strawberry.type
class BillingQueries:
    @strawberry.field
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        info.context.require(Permission.READ)
        row = await info.context.loaders.invoice.load(row_id(id, "Invoice") or 0)
        if row is None or await info.context.visible_account(row.account_id) is None:
            return None
        return Invoice.of(row)

    @strawberry.field
    async def invoices(
        self,
        info: Info,
        account_id: strawberry.ID | None = None,
        invoice_run_id: strawberry.ID | None = None,
        status: list[db.InvoiceStatus] | None = None,
        document_type: db.DocumentType | None = None,
        invoice_date_from: date | None = None,
        invoice_date_to: date | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> InvoiceConnection:
        actor = info.context.require(Permission.READ)
        query = db.Invoice.all()
        if account_id is not None:
            query = query.filter(account_id=row_id(account_id, "Account") or 0)
        if invoice_run_id is not None:
            query = query.filter(invoice_run_id=row_id(invoice_run_id, "InvoiceRun") or 0)
        if status:
            query = query.filter(status__in=status)
        if document_type is not None:
            query = query.filter(document_type=document_type)
        if invoice_date_from is not None:
            query = query.filter(invoice_date__gte=invoice_date_from)
        if invoice_date_to is not None:
            query = query.filter(invoice_date__lte=invoice_date_to)
        if actor.owner_scope is not None:
            query = query.filter(account__owner_id=actor.owner_scope)
        return InvoiceConnection.of(await keyset(query, first, after, newest_first=True))

    @strawberry.field
    async def holds(
        self,
        info: Info,
        active_only: bool = True,
        source: db.HoldSource | None = None,
        account_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> BillingHoldConnection:
        actor = info.context.require(Permission.READ)
        query = db.BillingHold.all().select_related("account")
        if active_only:
            query = query.filter(released_at=None)
        if source is not None:
            query = query.filter(source=source)
        if account_id is not None:
            query = query.filter(account_id=row_id(account_id, "Account") or 0)
        if actor.owner_scope is not None:
            query = query.filter(account__owner_id=actor.owner_scope)
        # releaseOn is judged in each account's time zone, so it is filtered here; read on
        # past lapsed holds until the page is full and one more active hold is seen
        size = page_size(first)
        edges: list[BillingHoldEdge] = []
        has_next, last = False, after
        while not has_next:
            page = await keyset(query, MAX_PAGE, last, newest_first=True)
            for row, cursor in zip(page.items, page.cursors, strict=True):
                today = clock.today(row.account.timezone)
                if active_only and not hold_service.is_active(row, today):
                    continue
                if len(edges) == size:
                    has_next = True
                    break
                edges.append(BillingHoldEdge(cursor=cursor, node=BillingHold.of(row, today)))
            if not page.has_next:
                break
            last = page.cursors[-1]
        return BillingHoldConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field
    async def hold_rules(self, info: Info) -> HoldRules:
        info.context.require(Permission.READ)
        rules = await hold_service.hold_rules()
        return HoldRules(overdue_days=rules.overdue_days)

    @strawberry.field
    async def invoice_run(self, info: Info, id: strawberry.ID) -> InvoiceRun | None:
        info.context.require(Permission.READ_RUNS)
        row = await info.context.loaders.invoice_run.load(row_id(id, "InvoiceRun") or 0)
        return InvoiceRun.of(row) if row else None

    @strawberry.field
    async def invoice_runs(
        self,
        info: Info,
        status: list[db.InvoiceRunStatus] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> InvoiceRunConnection:
        info.context.require(Permission.READ_RUNS)
        query = db.InvoiceRun.all()
        if status:
            query = query.filter(status__in=status)
        return InvoiceRunConnection.of(await keyset(query, first, after, newest_first=True))


@strawberry.type
class BillingMutations:
    @strawberry.mutation
    async def place_billing_hold(
        self, info: Info, input: PlaceBillingHoldInput, idempotency_key: str | None = None
    ) -> BillingHoldPayload:
        async def work(actor: Actor) -> Result:
            type_name = {
                db.HoldScope.ACCOUNT: "Account",
                db.HoldScope.CONTRACT: "Contract",
                db.HoldScope.ORDER: "Order",
                db.HoldScope.ORDER_PRODUCT: "OrderProduct",
            }[input.scope]
            target = require_id(input.target_id, type_name, ("targetId",))
            hold = await hold_service.place_hold(
                actor, hold_service.HoldInput(input.scope, target, input.reason, input.release_on)
            )
            return {"hold": hold.id}

        return await run(
            info, "placeBillingHold", work, _hold_payload, _hold_failed, idempotency_key, input
        )

    @strawberry.mutation
    async def release_billing_hold(
        self, info: Info, input: ReleaseBillingHoldInput
    ) -> BillingHoldPayload:
        async def work(actor: Actor) -> Result:
            hold_id = require_id(input.hold_id, "BillingHold", ("holdId",))
            return {"hold": (await hold_service.release_hold(actor, hold_id)).id}

        return await run(info, "releaseBillingHold", work, _hold_payload, _hold_failed)

    @strawberry.mutation
    async def update_hold_rules(self, info: Info, input: HoldRulesInput) -> HoldRulesPayload:
        async def work(actor: Actor) -> Result:
            rules = await hold_service.update_hold_rules(actor, input.overdue_days)
            return {"overdueDays": rules.overdue_days}

        async def build(result: Result) -> HoldRulesPayload:
            await info.context.enqueue_hold_rules()
            return HoldRulesPayload(
                hold_rules=HoldRules(overdue_days=result["overdueDays"]), user_errors=[]
            )

        return await run(
            info,
            "updateHoldRules",
            work,
            build,
            lambda problems: HoldRulesPayload(hold_rules=None, user_errors=user_errors(problems)),
        )

    @strawberry.mutation(
        description="Queues an invoice run; workers carry it out. Follow it with invoiceRun(id)."
    )
    async def start_invoice_run(
        self, info: Info, input: StartInvoiceRunInput, idempotency_key: str | None = None
    ) -> InvoiceRunPayload:
        if input.account_ids is not None and len(input.account_ids) > MAX_ITEMS:
            raise BadInput(f"accountIds takes at most {MAX_ITEMS} items")

        async def work(actor: Actor) -> Result:
            ids = None
            if input.account_ids is not None:
                ids = [
                    require_id(a, "Account", ("accountIds", str(i)))
                    for i, a in enumerate(input.account_ids)
                ]
            run_row = await runs.start_run(
                actor,
                runs.RunRequest(input.target_date, input.invoice_date, ids, input.auto_post),
            )
            return {"run": run_row.id}

        async def build(result: Result) -> InvoiceRunPayload:
            # enqueued after the commit: a worker must find the run's rows
            await info.context.enqueue_run(result["run"])
            row = await db.InvoiceRun.get(id=result["run"])
            return InvoiceRunPayload(invoice_run=InvoiceRun.of(row), user_errors=[])

        return await run(
            info,
            "startInvoiceRun",
            work,
            build,
            lambda problems: InvoiceRunPayload(invoice_run=None, user_errors=user_errors(problems)),
            idempotency_key,
            input,
        )

    @strawberry.mutation
    async def post_invoice(
        self, info: Info, input: InvoiceInput, idempotency_key: str | None = None
    ) -> InvoicePayload:
        async def work(actor: Actor) -> Result:
            invoice_id = require_id(input.invoice_id, "Invoice", ("invoiceId",))
            return {"invoice": (await invoicing.post_invoice(actor, invoice_id)).id}

        return await run(
            info, "postInvoice", work, _invoice_payload, _invoice_failed, idempotency_key, input
        )

    @strawberry.mutation(description="Posts every DRAFT document of a run.")
    async def post_invoices(self, info: Info, input: PostInvoicesInput) -> PostInvoicesPayload:
        async def work(actor: Actor) -> Result:
            run_id = require_id(input.invoice_run_id, "InvoiceRun", ("invoiceRunId",))
            return {"invoices": [i.id for i in await invoicing.post_run(actor, run_id)]}

        async def build(result: Result) -> PostInvoicesPayload:
            rows = await db.Invoice.filter(id__in=result["invoices"]).order_by("id")
            return PostInvoicesPayload(invoices=[Invoice.of(r) for r in rows], user_errors=[])

        return await run(
            info,
            "postInvoices",
            work,
            build,
            lambda problems: PostInvoicesPayload(invoices=[], user_errors=user_errors(problems)),
        )

    @strawberry.mutation(
        description="Cancels a DRAFT document; its lines are billed again by the next run."
    )
    async def cancel_invoice(self, info: Info, input: InvoiceInput) -> InvoicePayload:
        async def work(actor: Actor) -> Result:
            invoice_id = require_id(input.invoice_id, "Invoice", ("invoiceId",))
            return {"invoice": (await invoicing.cancel_invoice(actor, invoice_id)).id}

        return await run(info, "cancelInvoice", work, _invoice_payload, _invoice_failed)

    @strawberry.mutation(description="Reverses a POSTED invoice with a posted credit note.")
    async def credit_invoice(
        self, info: Info, input: CreditInvoiceInput, idempotency_key: str | None = None
    ) -> InvoicePayload:
        async def work(actor: Actor) -> Result:
            invoice_id = require_id(input.invoice_id, "Invoice", ("invoiceId",))
            invoice, note = await invoicing.credit_invoice(actor, invoice_id, input.rebill)
            return {"invoice": invoice.id, "creditNote": note.id}

        return await run(
            info, "creditInvoice", work, _invoice_payload, _invoice_failed, idempotency_key, input
        )

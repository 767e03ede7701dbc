"""Payments and the receivables aging."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from orbit.api.common import UserError, user_errors
from orbit.api.context import Info
from orbit.api.ids import require_id, row_id
from orbit.api.mutations import Result, run
from orbit.api.pagination import keyset, offset_page
from orbit.api.receivables.types import (
    AccountAging,
    AccountAgingConnection,
    AccountAgingEdge,
    Payment,
    PaymentConnection,
)
from orbit.db import models as db
from orbit.services import receivables as service
from orbit.services.access import Actor, Permission
from orbit.services.receivables import AccountAging as AgingRow


@strawberry.input
class RecordPaymentInput:
    account_id: strawberry.ID
    amount: Decimal
    received_on: date
    reference: str


@strawberry.type
class PaymentPayload:
    payment: Payment | None
    user_errors: list[UserError]


@strawberry.type
class AgingReport:
    as_of: date
    rows: strawberry.Private[list[AgingRow]]

    @strawberry.field
    def accounts(
        self, first: int | None = None, after: str | None = None
    ) -> AccountAgingConnection:
        page = offset_page(self.rows, first, after)
        return AccountAgingConnection(
            edges=[
                AccountAgingEdge(cursor=c, node=AccountAging.of(r))
                for r, c in zip(page.items, page.cursors, strict=True)
            ],
            page_info=page.page_info,
            currency_totals=service.by_currency(self.rows),
        )


@strawberry.type
class ReceivablesQueries:
    @strawberry.field
    async def payments(
        self,
        info: Info,
        account_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> PaymentConnection:
        actor = info.context.require(Permission.READ)
        query = db.Payment.all()
        if account_id is not None:
            query = query.filter(account_id=row_id(account_id, "Account") or 0)
        if actor.owner_scope is not None:
            query = query.filter(account__owner_id=actor.owner_scope)
        return PaymentConnection.of(await keyset(query, first, after, newest_first=True))

    @strawberry.field
    async def receivables_aging(
        self, info: Info, as_of: date | None = None, owner_id: strawberry.ID | None = None
    ) -> AgingReport:
        actor = info.context.require(Permission.READ)
        owner = None if owner_id is None else (row_id(owner_id, "User") or -1)
        when, rows = await service.aging(actor, as_of, owner)
        rows = [r for r in rows if any(r.buckets.values()) or r.unapplied_credit]
        return AgingReport(as_of=when, rows=rows)


@strawberry.type
class ReceivablesMutations:
    @strawberry.mutation
    async def record_payment(
        self, info: Info, input: RecordPaymentInput, idempotency_key: str | None = None
    ) -> PaymentPayload:
        async def work(actor: Actor) -> Result:
            account_id = require_id(input.account_id, "Account", ("accountId",))
            payment = await service.record_payment(
                actor, account_id, input.amount, input.received_on, input.reference
            )
            return {"payment": payment.id}

        async def build(result: Result) -> PaymentPayload:
            return PaymentPayload(
                payment=Payment.of(await db.Payment.get(id=result["payment"])), user_errors=[]
            )

        return await run(
            info,
            "recordPayment",
            work,
            build,
            lambda problems: PaymentPayload(payment=None, user_errors=user_errors(problems)),
            idempotency_key,
            input,
        )

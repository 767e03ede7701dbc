"""Per-request context: who is calling, and DataLoaders that batch reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from tortoise.models import Model

from orbit.api.errors import Forbidden, Unauthenticated
from orbit.api.pagination import PageKey, paged
from orbit.db.models import (
    Account,
    Application,
    BillingHold,
    Contract,
    ContractLine,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    Order,
    OrderProduct,
    OrderStatus,
    Payment,
    Product,
    ScheduleLine,
    User,
)
from orbit.services.access import Actor, Permission
from orbit.services.errors import AccessDenied
from orbit.services.errors import Unauthenticated as NoActor
from orbit.services.receivables import balances
from orbit.services.state import (
    BillingSummary,
    ScheduleEntry,
    billing_summaries,
    schedule_entries,
)

M = TypeVar("M", bound=Model)


def _by_id(model: type[M]) -> Callable[[list[int]], Awaitable[list[M | None]]]:
    async def load(keys: list[int]) -> list[M | None]:
        rows = {row.pk: row for row in await model.filter(pk__in=list(set(keys)))}
        return [rows.get(key) for key in keys]

    return load


def _grouped(
    model: type[M], column: str, order: Sequence[str] = ("id",), **filters: Any
) -> Callable[[list[int]], Awaitable[list[list[M]]]]:
    async def load(keys: list[int]) -> list[list[M]]:
        groups: dict[int, list[M]] = defaultdict(list)
        query = model.filter(**{f"{column}__in": list(set(keys))}, **filters).order_by(*order)
        for row in await query:
            groups[getattr(row, column)].append(row)
        return [groups.get(key, []) for key in keys]

    return load


async def _balances(keys: list[Account]) -> list[Decimal]:
    """services.receivables.balances: the accounts of one batch in three statements."""
    found = await balances(list({account.id: account for account in keys}.values()))
    return [found[account.id] for account in keys]


async def _load_summaries(keys: list[int]) -> list[BillingSummary | None]:
    ops = await OrderProduct.filter(id__in=list(set(keys)))
    summaries = await billing_summaries(ops)
    return [summaries.get(key) for key in keys]


async def _load_schedules(keys: list[int]) -> list[list[ScheduleEntry]]:
    ops = await OrderProduct.filter(id__in=list(set(keys)))
    entries = await schedule_entries(ops)
    return [entries.get(key, []) for key in keys]


@dataclass
class Loaders:
    user: DataLoader[int, User | None] = field(default_factory=lambda: DataLoader(_by_id(User)))
    account: DataLoader[int, Account | None] = field(
        default_factory=lambda: DataLoader(_by_id(Account))
    )
    product: DataLoader[int, Product | None] = field(
        default_factory=lambda: DataLoader(_by_id(Product))
    )
    contract: DataLoader[int, Contract | None] = field(
        default_factory=lambda: DataLoader(_by_id(Contract))
    )
    contract_line: DataLoader[int, ContractLine | None] = field(
        default_factory=lambda: DataLoader(_by_id(ContractLine))
    )
    order: DataLoader[int, Order | None] = field(default_factory=lambda: DataLoader(_by_id(Order)))
    order_product: DataLoader[int, OrderProduct | None] = field(
        default_factory=lambda: DataLoader(_by_id(OrderProduct))
    )
    schedule_line: DataLoader[int, ScheduleLine | None] = field(
        default_factory=lambda: DataLoader(_by_id(ScheduleLine))
    )
    invoice: DataLoader[int, Invoice | None] = field(
        default_factory=lambda: DataLoader(_by_id(Invoice))
    )
    invoice_run: DataLoader[int, InvoiceRun | None] = field(
        default_factory=lambda: DataLoader(_by_id(InvoiceRun))
    )
    payment: DataLoader[int, Payment | None] = field(
        default_factory=lambda: DataLoader(_by_id(Payment))
    )
    hold: DataLoader[int, BillingHold | None] = field(
        default_factory=lambda: DataLoader(_by_id(BillingHold))
    )
    lines_of_contract: DataLoader[int, list[ContractLine]] = field(
        default_factory=lambda: DataLoader(_grouped(ContractLine, "contract_id"))
    )
    products_of_order: DataLoader[int, list[OrderProduct]] = field(
        default_factory=lambda: DataLoader(_grouped(OrderProduct, "order_id"))
    )
    activated_products_of_contract: DataLoader[int, list[OrderProduct]] = field(
        default_factory=lambda: DataLoader(
            _grouped(OrderProduct, "contract_id", order__status=OrderStatus.ACTIVATED)
        )
    )
    lines_of_invoice: DataLoader[int, list[InvoiceLine]] = field(
        default_factory=lambda: DataLoader(_grouped(InvoiceLine, "invoice_id"))
    )
    applications_to_invoice: DataLoader[int, list[Application]] = field(
        default_factory=lambda: DataLoader(_grouped(Application, "invoice_id"))
    )
    applications_of_note: DataLoader[int, list[Application]] = field(
        default_factory=lambda: DataLoader(_grouped(Application, "credit_note_id"))
    )
    applications_of_payment: DataLoader[int, list[Application]] = field(
        default_factory=lambda: DataLoader(_grouped(Application, "payment_id"))
    )
    holds_of_account: DataLoader[int, list[BillingHold]] = field(
        default_factory=lambda: DataLoader(_grouped(BillingHold, "account_id"))
    )
    # pages of nested connections, for every parent on the page at once
    contracts_of_account: DataLoader[PageKey, list[Contract]] = field(
        default_factory=lambda: DataLoader(paged(Contract, "account_id"))
    )
    orders_of_account: DataLoader[PageKey, list[Order]] = field(
        default_factory=lambda: DataLoader(paged(Order, "account_id"))
    )
    invoices_of_account: DataLoader[PageKey, list[Invoice]] = field(
        default_factory=lambda: DataLoader(paged(Invoice, "account_id", newest_first=True))
    )
    payments_of_account: DataLoader[PageKey, list[Payment]] = field(
        default_factory=lambda: DataLoader(paged(Payment, "account_id", newest_first=True))
    )
    orders_of_contract: DataLoader[PageKey, list[Order]] = field(
        default_factory=lambda: DataLoader(paged(Order, "contract_id"))
    )
    invoices_of_run: DataLoader[PageKey, list[Invoice]] = field(
        default_factory=lambda: DataLoader(paged(Invoice, "invoice_run_id"))
    )
    #: keyed by the account row (its time zone gives its today), cached by id
    balance: DataLoader[Account, Decimal] = field(
        default_factory=lambda: DataLoader(_balances, cache_key_fn=lambda account: account.id)
    )
    renewal_of: DataLoader[int, list[Contract]] = field(
        default_factory=lambda: DataLoader(_grouped(Contract, "renewal_of_id"))
    )
    schedule: DataLoader[int, list[ScheduleEntry]] = field(
        default_factory=lambda: DataLoader(_load_schedules)
    )
    billing_summary: DataLoader[int, BillingSummary | None] = field(
        default_factory=lambda: DataLoader(_load_summaries)
    )


@dataclass
class Context:
    request: Request | None
    response: Response | None
    actor_or_none: Actor | None
    #: why there is no actor, when a token was sent but not accepted
    auth_error: str | None = None
    loaders: Loaders = field(default_factory=Loaders)
    #: the job queue (``orbit.queue.JobQueue``); None runs jobs inline
    queue: Any = None

    async def enqueue_run(self, run_id: int) -> None:
        if self.queue is None:
            from orbit.services.runs import run_inline

            await run_inline(run_id)
        else:
            await self.queue.enqueue_run(run_id)

    async def enqueue_hold_rules(self, account_id: int | None = None) -> None:
        if self.queue is None:
            from workers.jobs import apply_hold_rules

            await apply_hold_rules({}, account_id)
        else:
            await self.queue.enqueue_hold_rules(account_id)

    @property
    def actor(self) -> Actor:
        if self.actor_or_none is None:
            raise Unauthenticated(self.auth_error)
        return self.actor_or_none

    def require(self, permission: Permission) -> Actor:
        actor = self.actor
        try:
            actor.require(permission)
        except AccessDenied as denied:
            raise Forbidden(str(denied)) from None
        return actor

    async def visible_account(self, account_id: int | None) -> Account | None:
        """The account, or None when it does not exist or the caller may not see it."""
        if account_id is None:
            return None
        account = await self.loaders.account.load(account_id)
        if account is None or not self.actor.sees(account):
            return None
        return account


Info = strawberry.Info[Context, None]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def build_context(request: Request | None, response: Response | None) -> Context:
    from orbit.services.access import authenticate

    queue = getattr(request.app.state, "queue", None) if request is not None else None
    token = bearer_token(request) if request is not None else None
    if token is None:
        return Context(request, response, None, queue=queue)
    try:
        actor = await authenticate(token)
    except NoActor as error:
        return Context(request, response, None, auth_error=str(error), queue=queue)
    return Context(request, response, actor, queue=queue)

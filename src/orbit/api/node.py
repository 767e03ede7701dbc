"""node(id): any object by its global ID (null when unknown or not visible)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from orbit import clock
from orbit.api.access.types import AuditEvent
from orbit.api.accounts.types import Account, Product, User
from orbit.api.billing.types import BillingHold, Invoice, InvoiceLine, InvoiceRun
from orbit.api.common import Node
from orbit.api.context import Info
from orbit.api.contracts.types import Contract, ContractLine, Order, OrderProduct, ScheduleLine
from orbit.api.receivables.types import Payment
from orbit.db import models as db
from orbit.services import ids
from orbit.services.access import Permission


async def _visible(info: Info, account_id: int | None) -> bool:
    return account_id is not None and await info.context.visible_account(account_id) is not None


async def _account(info: Info, pk: int) -> Node | None:
    row = await info.context.visible_account(pk)
    return Account.of(row) if row else None


async def _user(info: Info, pk: int) -> Node | None:
    actor = info.context.actor
    if actor.owner_scope is not None and pk != actor.user_id:
        return None
    row = await info.context.loaders.user.load(pk)
    return User.of(row) if row else None


async def _product(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.product.load(pk)
    return Product.of(row) if row else None


async def _contract(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.contract.load(pk)
    return Contract.of(row) if row and await _visible(info, row.account_id) else None


async def _contract_line(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.contract_line.load(pk)
    if row is None:
        return None
    contract = await info.context.loaders.contract.load(row.contract_id)
    if contract is None or not await _visible(info, contract.account_id):
        return None
    return await ContractLine.load(info, pk)


async def _order(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.order.load(pk)
    return Order.of(row) if row and await _visible(info, row.account_id) else None


async def _order_product(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.order_product.load(pk)
    return OrderProduct.of(row) if row and await _visible(info, row.account_id) else None


async def _schedule_line(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.schedule_line.load(pk)
    if row is None or not await _visible(info, row.account_id):
        return None
    return await ScheduleLine.load(info, pk)


async def _invoice(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.invoice.load(pk)
    return Invoice.of(row) if row and await _visible(info, row.account_id) else None


async def _invoice_line(info: Info, pk: int) -> Node | None:
    row = await db.InvoiceLine.get_or_none(id=pk)
    if row is None:
        return None
    invoice = await info.context.loaders.invoice.load(row.invoice_id)
    if invoice is None or not await _visible(info, invoice.account_id):
        return None
    return InvoiceLine.of(row, invoice.currency)


async def _invoice_run(info: Info, pk: int) -> Node | None:
    if not info.context.actor.can(Permission.READ_RUNS):
        return None
    row = await info.context.loaders.invoice_run.load(pk)
    return InvoiceRun.of(row) if row else None


async def _payment(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.payment.load(pk)
    return Payment.of(row) if row and await _visible(info, row.account_id) else None


async def _hold(info: Info, pk: int) -> Node | None:
    row = await info.context.loaders.hold.load(pk)
    if row is None:
        return None
    account = await info.context.visible_account(row.account_id)
    return BillingHold.of(row, clock.today(account.timezone)) if account else None


async def _audit_event(info: Info, pk: int) -> Node | None:
    row = await db.AuditEvent.get_or_none(id=pk)
    if row is None:
        return None
    if info.context.actor.owner_scope is not None and not await _visible(info, row.account_id):
        return None
    return AuditEvent.of(row)


RESOLVERS: dict[str, Callable[[Info, int], Awaitable[Any]]] = {
    "Account": _account,
    "User": _user,
    "Product": _product,
    "Contract": _contract,
    "ContractLine": _contract_line,
    "Order": _order,
    "OrderProduct": _order_product,
    "ScheduleLine": _schedule_line,
    "Invoice": _invoice,
    "InvoiceLine": _invoice_line,
    "InvoiceRun": _invoice_run,
    "Payment": _payment,
    "BillingHold": _hold,
    "AuditEvent": _audit_event,
}


@strawberry.type
class NodeQueries:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.require(Permission.READ)
        parts = ids.decode(str(id))
        if parts is None or parts[0] not in RESOLVERS:
            return None
        pk = ids.decode_int(str(id), parts[0])
        if pk is None:
            return None
        node: Node | None = await RESOLVERS[parts[0]](info, pk)
        return node


NODE_TYPES = (
    Account,
    User,
    Product,
    Contract,
    ContractLine,
    Order,
    OrderProduct,
    ScheduleLine,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    Payment,
    BillingHold,
    AuditEvent,
)

"""Worlds for API tests, built through the services (fast, and with real audit trails).

A ``World`` has a user of each role and two accounts with the same shape: ``own``
(owned by the account manager) and ``other`` (owned by a second account manager).
``ghost`` has the same keys as a side, with IDs of rows that do not exist: what an
account manager gets for ``other`` must be exactly what they get for ``ghost``.

Each side, with today pinned at 2026-02-15 (see conftest.TODAY):
- an ACTIVE 12-month contract from 2026-01-01, BDOM 1: 2 x a 30.00 monthly product
  (60.00 a month), NEW order activated;
- a DRAFT contract with its DRAFT order (activate: false), under a MANUAL hold;
- January billed by run 1 (auto-posted invoice 60.00, due 2026-01-31), February by
  run 2 (a DRAFT invoice of 60.00);
- a payment of 25.00 received 2026-02-10, applied to the posted invoice (35.00 open).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from orbit.db import models as db
from orbit.db.models import Role
from orbit.services import holds, runs
from orbit.services.access import Actor, create_user
from orbit.services.accounts import AccountInput, ProductInput, create_account, create_product
from orbit.services.contracts import ContractInput, LineInput, create_contract
from orbit.services.ids import encode
from orbit.services.receivables import record_payment

SYSTEM = Actor.system()
CONTRACT_START = date(2026, 1, 1)

#: the keys of a side and the node type of each
SIDE_TYPES = {
    "account": "Account",
    "contract": "Contract",
    "contractLine": "ContractLine",
    "order": "Order",
    "orderProduct": "OrderProduct",
    "scheduleLine": "ScheduleLine",
    "draftContract": "Contract",
    "draftOrder": "Order",
    "postedInvoice": "Invoice",
    "invoiceLine": "InvoiceLine",
    "draftInvoice": "Invoice",
    "payment": "Payment",
    "hold": "BillingHold",
    "auditEvent": "AuditEvent",
}
GHOST_ROW = 900_000


def gid(type_name: str, row_id: int) -> str:
    return encode(type_name, row_id)


def decode(global_id: str) -> tuple[str, int] | None:
    """(type, row id) of one of our global IDs, else None."""
    try:
        raw = base64.b64decode(global_id.encode(), validate=True).decode()
    except (ValueError, UnicodeError):
        return None
    type_name, sep, row = raw.partition(":")
    if not sep or not row.isdigit() or not type_name.isalpha():
        return None
    return type_name, int(row)


def row_of(global_id: str) -> int:
    decoded = decode(global_id)
    assert decoded is not None, global_id
    return decoded[1]


@dataclass(frozen=True)
class Caller:
    role: Role
    user_id: int
    token: str

    @property
    def gid(self) -> str:
        return gid("User", self.user_id)


@dataclass(frozen=True)
class World:
    users: dict[str, Caller]
    own: dict[str, str]
    other: dict[str, str]
    ghost: dict[str, str]
    product: str
    run_posted: str
    run_draft: str

    @property
    def manager(self) -> Caller:
        return self.users["ACCOUNT_MANAGER"]


_serial = 0


def serial() -> int:
    global _serial
    _serial += 1
    return _serial


async def user(role: Role, name: str | None = None) -> Caller:
    row, token = await create_user(
        SYSTEM, f"{role.value.lower()}-{serial()}@orbit.test", name or role.value.title(), role
    )
    return Caller(role, row.id, token)


async def product(price: str = "30.00", **kwargs: Any) -> db.Product:
    return await create_product(
        SYSTEM,
        ProductInput(
            sku=kwargs.pop("sku", f"SKU-{serial()}"),
            name=kwargs.pop("name", "Seats"),
            list_price=Decimal(price),
            **kwargs,
        ),
    )


async def account(name: str = "Acme", owner_id: int | None = None, **kwargs: Any) -> db.Account:
    data = {"currency": "USD", "billing_day_of_month": 1, **kwargs}
    return await create_account(SYSTEM, AccountInput(name=name, owner_id=owner_id, **data))


async def contract(
    owner: db.Account,
    item: db.Product,
    start: date = CONTRACT_START,
    quantity: int = 2,
    months: int | None = 12,
    **kwargs: Any,
) -> tuple[db.Contract, db.Order]:
    return await create_contract(
        SYSTEM,
        ContractInput(
            account_id=owner.id,
            start_date=start,
            lines=[LineInput(product_id=item.id, quantity=quantity)],
            term_months=months,
            **kwargs,
        ),
    )


async def run(
    target: date, auto_post: bool = False, account_ids: list[int] | None = None
) -> db.InvoiceRun:
    """An invoice run carried out at once, in this process."""
    started = await runs.start_run(
        SYSTEM, runs.RunRequest(target, account_ids=account_ids, auto_post=auto_post)
    )
    return await runs.run_inline(started.id)


async def _side(name: str, owner: Caller, item: db.Product) -> dict[str, Any]:
    row = await account(name, owner.user_id)
    active, order = await contract(row, item)
    draft, draft_order = await contract(row, item, activate=False)
    return {
        "row": row,
        "contract": active,
        "order": order,
        "draftContract": draft,
        "draftOrder": draft_order,
    }


async def _finish_side(side: dict[str, Any]) -> dict[str, str]:
    row: db.Account = side["row"]
    op = await db.OrderProduct.get(order_id=side["order"].id)
    posted = await db.Invoice.get(account_id=row.id, status=db.InvoiceStatus.POSTED)
    draft = await db.Invoice.get(account_id=row.id, status=db.InvoiceStatus.DRAFT)
    payment = await record_payment(SYSTEM, row.id, Decimal("25.00"), date(2026, 2, 10), "wire")
    hold = await holds.place_hold(
        SYSTEM, holds.HoldInput(db.HoldScope.ORDER, side["draftOrder"].id, "awaiting approval")
    )
    schedule_line = await db.ScheduleLine.filter(order_product_id=op.id).order_by("id").first()
    invoice_line = await db.InvoiceLine.filter(invoice_id=posted.id).first()
    event = await db.AuditEvent.filter(account_id=row.id).order_by("-id").first()
    assert schedule_line and invoice_line and event
    rows = {
        "account": row.id,
        "contract": side["contract"].id,
        "contractLine": op.contract_line_id,
        "order": side["order"].id,
        "orderProduct": op.id,
        "scheduleLine": schedule_line.id,
        "draftContract": side["draftContract"].id,
        "draftOrder": side["draftOrder"].id,
        "postedInvoice": posted.id,
        "invoiceLine": invoice_line.id,
        "draftInvoice": draft.id,
        "payment": payment.id,
        "hold": hold.id,
        "auditEvent": event.id,
    }
    return {key: gid(SIDE_TYPES[key], value) for key, value in rows.items()}


async def build_world() -> World:
    users = {role.value: await user(role) for role in Role}
    rival = await user(Role.ACCOUNT_MANAGER, "Rival")
    item = await product(sku="SEAT")
    own = await _side("Own Co", users["ACCOUNT_MANAGER"], item)
    other = await _side("Other Co", rival, item)
    posted_run = await run(date(2026, 1, 1), auto_post=True)
    draft_run = await run(date(2026, 2, 1))
    ghost = {
        key: gid(type_name, GHOST_ROW + index)
        for index, (key, type_name) in enumerate(SIDE_TYPES.items())
    }
    return World(
        users=users,
        own=await _finish_side(own),
        other=await _finish_side(other),
        ghost=ghost,
        product=gid("Product", item.id),
        run_posted=gid("InvoiceRun", posted_run.id),
        run_draft=gid("InvoiceRun", draft_run.id),
    )


#: node type -> how to find the account an entity belongs to (None: no account)
_ACCOUNT_OF = {
    "Account": lambda pk: db.Account.filter(id=pk).values_list("id", flat=True),
    "Contract": lambda pk: db.Contract.filter(id=pk).values_list("account_id", flat=True),
    "ContractLine": lambda pk: db.ContractLine.filter(id=pk).values_list(
        "contract__account_id", flat=True
    ),
    "Order": lambda pk: db.Order.filter(id=pk).values_list("account_id", flat=True),
    "OrderProduct": lambda pk: db.OrderProduct.filter(id=pk).values_list("account_id", flat=True),
    "ScheduleLine": lambda pk: db.ScheduleLine.filter(id=pk).values_list("account_id", flat=True),
    "Invoice": lambda pk: db.Invoice.filter(id=pk).values_list("account_id", flat=True),
    "InvoiceLine": lambda pk: db.InvoiceLine.filter(id=pk).values_list(
        "invoice__account_id", flat=True
    ),
    "Payment": lambda pk: db.Payment.filter(id=pk).values_list("account_id", flat=True),
    "BillingHold": lambda pk: db.BillingHold.filter(id=pk).values_list("account_id", flat=True),
    "AuditEvent": lambda pk: db.AuditEvent.filter(id=pk).values_list("account_id", flat=True),
}


def global_ids(value: Any) -> set[str]:
    """Every string in a response that is one of our global IDs."""
    found: set[str] = set()
    if isinstance(value, dict):
        for item in value.values():
            found |= global_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= global_ids(item)
    elif isinstance(value, str) and decode(value) is not None:
        found.add(value)
    return found


async def accounts_in(value: Any) -> set[int]:
    """The accounts of every account-bound entity a response mentions (by ID)."""
    accounts: set[int] = set()
    for global_id in global_ids(value):
        type_name, pk = decode(global_id)  # type: ignore[misc]
        lookup = _ACCOUNT_OF.get(type_name)
        if lookup is None:
            continue
        for account_id in await lookup(pk):
            if account_id is not None:
                accounts.add(int(account_id))
    return accounts

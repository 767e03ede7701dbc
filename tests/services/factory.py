"""Building blocks for service tests: accounts, products, contracts in one call."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.connection import db
from orbit.db.models import (
    Account,
    Contract,
    Invoice,
    InvoiceLine,
    Order,
    OrderProduct,
    Product,
    Role,
    ScheduleLine,
    User,
)
from orbit.engine.enums import BillingFrequency, BillingType, ChargeType
from orbit.services.access import Actor, create_user
from orbit.services.accounts import AccountInput, ProductInput, create_account, create_product
from orbit.services.billing import bill_account
from orbit.services.contracts import ContractInput, LineInput, create_contract
from orbit.services.errors import Code, DomainError
from tests.support import tables

SYSTEM = Actor.system()


def pin_today(day: date) -> None:
    clock.pin(datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC))


async def account(**kwargs: Any) -> Account:
    data = {"name": "Acme", "currency": "USD", **kwargs}
    return await create_account(SYSTEM, AccountInput(**data))


_sku = 0


async def product(
    price: str = "30.00",
    frequency: BillingFrequency = BillingFrequency.MONTHLY,
    billing_type: BillingType = BillingType.ADVANCE,
    charge_type: ChargeType = ChargeType.RECURRING,
    term: int = 1,
    name: str = "Seats",
) -> Product:
    global _sku
    _sku += 1
    return await create_product(
        SYSTEM,
        ProductInput(
            sku=f"SKU-{_sku}",
            name=name,
            list_price=Decimal(price),
            charge_type=charge_type,
            billing_frequency=frequency,
            billing_type=billing_type,
            pricing_term_months=term,
        ),
    )


async def contract(
    owner: Account,
    item: Product,
    start: date,
    quantity: int = 1,
    months: int | None = 12,
    **kwargs: Any,
) -> tuple[Contract, Order]:
    lines = kwargs.pop("lines", None) or [LineInput(product_id=item.id, quantity=quantity)]
    return await create_contract(
        SYSTEM,
        ContractInput(
            account_id=owner.id, start_date=start, lines=lines, term_months=months, **kwargs
        ),
    )


# --- people -----------------------------------------------------------------

_email = 0


async def user(role: Role = Role.ACCOUNT_MANAGER, name: str = "Ada") -> User:
    global _email
    _email += 1
    created, _token = await create_user(SYSTEM, f"user{_email}@orbit.test", name, role)
    return created


def actor_of(person: User) -> Actor:
    return Actor(person.id, person.role, person.name)


# --- billing ----------------------------------------------------------------


async def bill(owner: Account | int, on: date, invoice_date: date | None = None) -> Invoice | None:
    """Bill one account for ``on`` in its own transaction, as a run would."""
    account_id = owner if isinstance(owner, int) else owner.id
    async with in_transaction():
        result = await bill_account(account_id, on, invoice_date or on)
    return result.invoice


async def schedule(order_product: OrderProduct | int) -> list[tuple[date, date, date, Decimal]]:
    """(periodStart, periodEnd, dueDate, amount) of an order product's live lines."""
    op_id = order_product if isinstance(order_product, int) else order_product.id
    rows = await ScheduleLine.filter(order_product_id=op_id, removed=False).order_by(
        "period_start", "is_credit", "id"
    )
    return [(r.period_start, r.period_end, r.due_date, r.amount) for r in rows]


async def order_products(order: Order | int) -> list[OrderProduct]:
    order_id = order if isinstance(order, int) else order.id
    return await OrderProduct.filter(order_id=order_id).order_by("id")


async def document_lines(invoice: Invoice) -> list[tuple[date, date, Decimal]]:
    lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("id")
    return [(line.period_start, line.period_end, line.amount) for line in lines]


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- "nothing was written" ----------------------------------------------------


async def snapshot() -> dict[str, list[str]]:
    """Every row of every table (as text), table by table."""
    conn = db()
    result = {}
    for name in await tables():
        rows = await conn.execute_query_dict(f'SELECT * FROM "{name}"')
        result[name] = sorted(repr(sorted(row.items())) for row in rows)
    return result


async def refused(
    call: Awaitable[Any], code: Code | None = None, error: type[Exception] = DomainError
) -> Exception:
    """Await ``call``, which must fail with ``error`` (of ``code``) and leave every
    table exactly as it was: same row counts, same rows."""
    before = await snapshot()
    with pytest.raises(error) as caught:
        await call
    if code is not None:
        assert isinstance(caught.value, DomainError)
        assert caught.value.code is code, caught.value.problems
    after = await snapshot()
    counts = {t: (len(before[t]), len(after.get(t, []))) for t in before}
    changed = {t: c for t, c in counts.items() if before[t] != after.get(t)}
    assert not changed, f"tables written by a refused call (rows before, after): {changed}"
    return caught.value


async def bill_by_run(
    owner: Account | int, on: date, invoice_date: date | None = None
) -> Invoice | None:
    """Bill one account for ``on`` through an invoice run limited to it (on PostgreSQL
    a run bills set-based, not through ``bill_account``)."""
    from orbit.db.models import InvoiceRunStatus
    from orbit.services.runs import RunRequest, run_inline, start_run

    account_id = owner if isinstance(owner, int) else owner.id
    queued = await start_run(SYSTEM, RunRequest(on, invoice_date, account_ids=[account_id]))
    run = await run_inline(queued.id)
    assert run.status is InvoiceRunStatus.COMPLETED, run.error
    return await Invoice.filter(invoice_run_id=run.id, account_id=account_id).first()

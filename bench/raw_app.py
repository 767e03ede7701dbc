"""The account page's baseline: a hand-written Starlette + asyncpg endpoint that answers
the AccountPage operation (schema/operations/account-page.graphql) with the same JSON
as Orbit's GraphQL API (bench.account_page checks it before it measures), with no ORM
and no GraphQL engine: it reads the variables, not the query text.

It authenticates the bearer token as Orbit does, runs 15 statements (token, account,
owner, balance, holds, contracts, their lines with products, the quantities in
effect, orders, their order products, their schedules with billed state, documents,
their lines, payments; the first page of each) and does the same money and date
arithmetic with Orbit's pure engine functions.

    BENCH_DATABASE_URL=postgresql://... uvicorn bench.raw_app:app --port 8001
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orbit.engine.money import quantize, round_fraction
from orbit.engine.schedule import DueState, effective_due_dates
from orbit.engine.terms import RecurringRate, annual_value


def gid(type_name: str, row_id: int) -> str:
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


def cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"c:{row_id}".encode()).decode()


def decimal_text(value: Decimal) -> str:
    return format(value, "f")


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": decimal_text(quantize(amount, currency)), "currency": currency}


def price(value: Decimal) -> str:
    two = value.quantize(Decimal("0.01"))
    return decimal_text(two if two == value else value.normalize())


def iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


class Counted:
    """The connection, counting the statements it runs (returned in a header)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.count = 0

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self.count += 1
        return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.count += 1
        return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.count += 1
        return await self.conn.fetchval(sql, *args)


def _active(hold: asyncpg.Record, today: date) -> bool:
    """As services.holds.is_active."""
    return hold["released_at"] is None and (
        hold["release_on"] is None or hold["release_on"] > today
    )


def _covers(hold: asyncpg.Record, op: asyncpg.Record) -> bool:
    """As services.holds._covers."""
    scope = hold["scope"]
    if scope == "ACCOUNT":
        return True
    if scope == "CONTRACT":
        return bool(hold["contract_id"] == op["contract_id"])
    if scope == "ORDER":
        return bool(hold["order_id"] == op["order_id"])
    return bool(hold["order_product_id"] == op["id"])


def _ref(type_name: str, prefix: str, row_id: int | None) -> dict[str, str] | None:
    return (
        None
        if row_id is None
        else {"id": gid(type_name, row_id), "number": f"{prefix}-{row_id:06d}"}
    )


def _connection(
    edges: list[dict[str, Any]], rows: list[asyncpg.Record], page: list[asyncpg.Record], size: int
) -> dict[str, Any]:
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": len(rows) > size,
            "endCursor": cursor(page[-1]["id"]) if page else None,
        },
    }


async def account_page(
    db: Counted, account_id: int, user: asyncpg.Record, size: int, as_of: date | None
) -> dict[str, Any] | None:
    """schema/operations/account-page.graphql, by hand."""
    a = await db.fetchrow(
        "SELECT id, name, currency, timezone, billing_day_of_month, payment_term_days, "
        "requires_purchase_order, owner_id FROM accounts WHERE id = $1",
        account_id,
    )
    if a is None or (user["role"] == "ACCOUNT_MANAGER" and a["owner_id"] != user["id"]):
        return None
    currency = a["currency"]
    today = datetime.now(ZoneInfo(a["timezone"])).date()
    when = as_of or today
    owner = None
    if a["owner_id"] is not None:
        o = await db.fetchrow("SELECT id, name, email FROM users WHERE id = $1", a["owner_id"])
        owner = {"id": gid("User", o["id"]), "name": o["name"], "email": o["email"]} if o else None
    balance = await db.fetchval(
        "SELECT (SELECT coalesce(sum(total), 0) FROM invoices WHERE account_id = $1 "
        "AND status = 'POSTED') - (SELECT coalesce(sum(amount), 0) FROM payments "
        "WHERE account_id = $1)",
        account_id,
    )
    holds = await db.fetch(
        "SELECT h.id, h.scope, h.source, h.reason, h.release_on, h.placed_at, h.released_at, "
        "h.contract_id, h.order_id, h.order_product_id, c.id AS contract_found, "
        "o.id AS order_found FROM billing_holds h "
        "LEFT JOIN contracts c ON c.id = h.contract_id LEFT JOIN orders o ON o.id = h.order_id "
        "WHERE h.account_id = $1 ORDER BY h.id",
        account_id,
    )
    active = [h for h in holds if _active(h, today)]

    # contracts, their lines and the quantities in effect
    contracts = await db.fetch(
        "SELECT c.id, c.status, c.start_date, c.end_date, c.auto_renew, c.renewal_notice_days, "
        "c.billing_day_of_month, r.id AS renewal_of, "
        "(SELECT n.id FROM contracts n WHERE n.renewal_of_id = c.id ORDER BY n.id LIMIT 1) "
        "AS renewed_by FROM contracts c LEFT JOIN contracts r ON r.id = c.renewal_of_id "
        "WHERE c.account_id = $1 ORDER BY c.id LIMIT $2",
        account_id,
        size + 1,
    )
    shown = contracts[:size]
    ids = [c["id"] for c in shown]
    lines: dict[int, list[asyncpg.Record]] = defaultdict(list)
    in_effect: dict[int, int] = defaultdict(int)  # on asOf (lines and annual value)
    if ids:
        for row in await db.fetch(
            "SELECT cl.id, cl.contract_id, cl.charge_type, cl.unit_price, "
            "cl.pricing_term_months, cl.billing_frequency, cl.billing_type, cl.start_date, "
            "cl.end_date, cl.cancelled, p.id AS product_id, p.sku, p.name AS product_name, "
            "p.charge_type AS product_charge_type "
            "FROM contract_lines cl JOIN products p ON p.id = cl.product_id "
            "WHERE cl.contract_id = ANY($1::int[]) ORDER BY cl.id",
            ids,
        ):
            lines[row["contract_id"]].append(row)
        for op in await db.fetch(
            "SELECT op.contract_line_id, op.quantity FROM order_products op "
            "JOIN orders o ON o.id = op.order_id "
            "WHERE op.contract_id = ANY($1::int[]) AND o.status = 'ACTIVATED' "
            "AND op.start_date <= $2 AND (op.end_date IS NULL OR op.end_date >= $2)",
            ids,
            when,
        ):
            in_effect[op["contract_line_id"]] += op["quantity"]
    contract_edges = []
    for c in shown:
        rates = [
            RecurringRate(in_effect[ln["id"]], ln["unit_price"], ln["pricing_term_months"])
            for ln in lines[c["id"]]
            if ln["charge_type"] == "RECURRING" and in_effect[ln["id"]] != 0
        ]
        contract_edges.append(
            {
                "node": {
                    "id": gid("Contract", c["id"]),
                    "number": f"CTR-{c['id']:06d}",
                    "status": c["status"],
                    "startDate": iso(c["start_date"]),
                    "endDate": iso(c["end_date"]),
                    "autoRenew": c["auto_renew"],
                    "renewalNoticeDays": c["renewal_notice_days"],
                    "billingDayOfMonth": c["billing_day_of_month"],
                    "annualRecurringValue": money(annual_value(rates, currency), currency),
                    "renewalOf": _ref("Contract", "CTR", c["renewal_of"]),
                    "renewedBy": _ref("Contract", "CTR", c["renewed_by"]),
                    "lines": [
                        {
                            "id": gid("ContractLine", ln["id"]),
                            "quantity": in_effect[ln["id"]],
                            "unitPrice": price(ln["unit_price"]),
                            "pricingTermMonths": ln["pricing_term_months"],
                            "billingFrequency": ln["billing_frequency"],
                            "billingType": ln["billing_type"],
                            "startDate": iso(ln["start_date"]),
                            "endDate": iso(ln["end_date"]),
                            "product": {
                                "id": gid("Product", ln["product_id"]),
                                "sku": ln["sku"],
                                "name": ln["product_name"],
                                "chargeType": ln["product_charge_type"],
                            },
                        }
                        for ln in lines[c["id"]]
                        if not (
                            ln["cancelled"] and ln["end_date"] is not None and ln["end_date"] < when
                        )
                    ],
                }
            }
        )

    # orders, their order products and what their schedules say
    orders = await db.fetch(
        "SELECT id, type, status, effective_date, purchase_order_number, contract_id "
        "FROM orders WHERE account_id = $1 ORDER BY id LIMIT $2",
        account_id,
        size + 1,
    )
    orders_shown = orders[:size]
    ops_of: dict[int, list[asyncpg.Record]] = defaultdict(list)
    schedules: dict[int, list[asyncpg.Record]] = defaultdict(list)
    if orders_shown:
        ops = await db.fetch(
            "SELECT op.id, op.order_id, op.contract_id, op.quantity, op.unit_price, "
            "op.start_date, op.end_date, op.billing_frequency, op.billing_type, op.currency, "
            "op.total_amount, op.override_line_id, op.next_billing_date_override, "
            "p.sku, p.name AS product_name "
            "FROM order_products op JOIN products p ON p.id = op.product_id "
            "WHERE op.order_id = ANY($1::int[]) ORDER BY op.id",
            [o["id"] for o in orders_shown],
        )
        for op in ops:
            ops_of[op["order_id"]].append(op)
        if ops:
            for row in await db.fetch(
                "SELECT sl.id, sl.order_product_id, sl.period_start, sl.period_end, "
                "sl.due_date, sl.amount, sl.is_credit, il.invoice_id "
                "FROM schedule_lines sl LEFT JOIN invoice_lines il "
                "ON il.schedule_line_id = sl.id AND il.bills "
                "WHERE sl.order_product_id = ANY($1::int[]) AND NOT sl.removed",
                [op["id"] for op in ops],
            ):
                schedules[row["order_product_id"]].append(row)

    def order_product(op: asyncpg.Record) -> dict[str, Any]:
        rows = sorted(
            schedules[op["id"]], key=lambda r: (r["period_start"], r["is_credit"], r["id"])
        )
        dues = effective_due_dates(
            [
                DueState(
                    r["due_date"],
                    billed=r["invoice_id"] is not None,
                    is_credit=r["is_credit"],
                    override=op["next_billing_date_override"]
                    if r["id"] == op["override_line_id"]
                    else None,
                )
                for r in rows
            ]
        )
        billed = [r for r in rows if r["invoice_id"] is not None]
        next_due = next(
            (
                d
                for r, d in zip(rows, dues, strict=True)
                if r["invoice_id"] is None and not r["is_credit"]
            ),
            None,
        )
        ends = [r["period_end"] for r in billed if not r["is_credit"]]
        return {
            "id": gid("OrderProduct", op["id"]),
            "product": {"sku": op["sku"], "name": op["product_name"]},
            "quantity": op["quantity"],
            "unitPrice": price(op["unit_price"]),
            "startDate": iso(op["start_date"]),
            "endDate": iso(op["end_date"]),
            "billingFrequency": op["billing_frequency"],
            "billingType": op["billing_type"],
            "nextBillingDate": iso(next_due),
            "billedThroughDate": iso(max(ends)) if ends else None,
            "onHold": any(_covers(h, op) for h in active),
            "totalAmount": None
            if op["total_amount"] is None
            else money(op["total_amount"], op["currency"]),
            "billedAmount": money(sum((r["amount"] for r in billed), Decimal(0)), op["currency"]),
        }

    order_edges = [
        {
            "node": {
                "id": gid("Order", o["id"]),
                "number": f"ORD-{o['id']:06d}",
                "type": o["type"],
                "status": o["status"],
                "effectiveDate": iso(o["effective_date"]),
                "purchaseOrderNumber": o["purchase_order_number"],
                "contract": _ref("Contract", "CTR", o["contract_id"]),
                "products": [order_product(op) for op in ops_of[o["id"]]],
            }
        }
        for o in orders_shown
    ]

    # documents and their lines
    invoices = await db.fetch(
        "SELECT i.id, i.number, i.document_type, i.status, i.payment_status, i.currency, "
        "i.invoice_date, i.due_date, i.posted_on, i.total, i.open_balance, r.id AS reverses, "
        "r.number AS reverses_number FROM invoices i LEFT JOIN invoices r ON r.id = i.reverses_id "
        "WHERE i.account_id = $1 ORDER BY i.id DESC LIMIT $2",
        account_id,
        size + 1,
    )
    page = invoices[:size]
    invoice_lines: dict[int, list[asyncpg.Record]] = defaultdict(list)
    if page:
        for row in await db.fetch(
            "SELECT il.id, il.invoice_id, il.description, il.period_start, il.period_end, "
            "il.quantity, il.fraction, il.amount, p.sku FROM invoice_lines il "
            "JOIN products p ON p.id = il.product_id "
            "WHERE il.invoice_id = ANY($1::bigint[]) ORDER BY il.id",
            [i["id"] for i in page],
        ):
            invoice_lines[row["invoice_id"]].append(row)
    invoice_edges = []
    for i in page:
        posted = i["status"] == "POSTED"
        open_amount = (
            i["open_balance"] if posted else (i["total"] if i["status"] == "DRAFT" else Decimal(0))
        )
        invoice_edges.append(
            {
                "node": {
                    "id": gid("Invoice", i["id"]),
                    "number": i["number"],
                    "documentType": i["document_type"],
                    "status": i["status"],
                    "paymentStatus": i["payment_status"] if posted else None,
                    "invoiceDate": iso(i["invoice_date"]),
                    "dueDate": iso(i["due_date"]),
                    "postedOn": iso(i["posted_on"]),
                    "total": money(i["total"], i["currency"]),
                    "balance": money(open_amount, i["currency"]),
                    "reverses": None
                    if i["reverses"] is None
                    else {"id": gid("Invoice", i["reverses"]), "number": i["reverses_number"]},
                    "lines": [
                        {
                            "id": gid("InvoiceLine", ln["id"]),
                            "description": ln["description"],
                            "periodStart": iso(ln["period_start"]),
                            "periodEnd": iso(ln["period_end"]),
                            "quantity": ln["quantity"],
                            "fraction": decimal_text(round_fraction(Fraction(ln["fraction"]))),
                            "amount": money(ln["amount"], i["currency"]),
                            "product": {"sku": ln["sku"]},
                        }
                        for ln in invoice_lines[i["id"]]
                    ],
                }
            }
        )

    payments = await db.fetch(
        "SELECT id, received_on, reference, amount, unapplied, currency FROM payments "
        "WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
        account_id,
        size + 1,
    )

    return {
        "id": gid("Account", a["id"]),
        "name": a["name"],
        "currency": currency,
        "timezone": a["timezone"],
        "billingDayOfMonth": a["billing_day_of_month"],
        "paymentTermDays": a["payment_term_days"],
        "requiresPurchaseOrder": a["requires_purchase_order"],
        "owner": owner,
        "balance": money(balance, currency),
        "holds": [
            {
                "id": gid("BillingHold", h["id"]),
                "scope": h["scope"],
                "source": h["source"],
                "reason": h["reason"],
                "releaseOn": iso(h["release_on"]),
                "placedAt": h["placed_at"].isoformat(),
                "contract": _ref("Contract", "CTR", h["contract_found"]),
                "order": _ref("Order", "ORD", h["order_found"]),
            }
            for h in active
        ],
        "contracts": _connection(contract_edges, contracts, shown, size),
        "orders": _connection(order_edges, orders, orders_shown, size),
        "invoices": _connection(invoice_edges, invoices, page, size),
        "payments": {
            "edges": [
                {
                    "node": {
                        "id": gid("Payment", p["id"]),
                        "receivedOn": iso(p["received_on"]),
                        "reference": p["reference"],
                        "amount": money(p["amount"], p["currency"]),
                        "unappliedAmount": money(p["unapplied"], p["currency"]),
                    }
                }
                for p in payments[:size]
            ]
        },
    }


def account_id_of(global_id: str) -> int | None:
    try:
        kind, _, value = base64.b64decode(global_id.encode(), validate=True).decode().partition(":")
        return int(value) if kind == "Account" else None
    except (ValueError, UnicodeError):
        return None


async def graphql(request: Request) -> Response:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return JSONResponse({"errors": [{"message": "authentication required"}]}, 401)
    body = json.loads(await request.body())
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn:
        db = Counted(conn)
        user = await db.fetchrow(
            "SELECT u.id, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.digest = $1",
            hashlib.sha256(token.strip().encode()).hexdigest(),
        )
        if user is None:
            return JSONResponse({"errors": [{"message": "invalid token"}]}, 401)
        variables = body.get("variables") or {}
        account_id = account_id_of(str(variables.get("id", "")))
        size = int(variables.get("first") or 20)
        as_of = date.fromisoformat(variables["asOf"]) if variables.get("asOf") else None
        data = None if account_id is None else await account_page(db, account_id, user, size, as_of)
    return JSONResponse({"data": {"account": data}}, headers={"x-statements": str(db.count)})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # the same pool size as tortoise's default (1 to 5 connections)
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"], min_size=1, max_size=5
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])], lifespan=lifespan)

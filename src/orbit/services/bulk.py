"""Billing a chunk of a run's accounts in one transaction, set-based (PostgreSQL).

The rules are those of ``billing.bill_account``, and so are the guarantees: the
accounts are locked, shares already DONE are skipped, holds are judged as of
each account's today, every eligible line goes on one document per account,
and the shares and counters are written in the same transaction. What changes
is the shape of the work: a handful of statements per chunk instead of per
account, lines written with COPY. If anything in a chunk fails, the chunk is
rolled back and its accounts are billed one by one, so one bad account is
recorded on the run and the others are billed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import (
    Account,
    BillingHold,
    InvoiceRun,
    OrderProduct,
    OrderStatus,
    Product,
)
from orbit.engine.schedule import DueState, effective_due_dates
from orbit.services.billing import ensure_horizon, line_description
from orbit.services.holds import HoldCheck, evaluate_overdue_rule, hold_rules, is_active

log = logging.getLogger("orbit.runs")


@dataclass(frozen=True)
class ChunkBilled:
    accounts: int
    documents: int
    lines: int


@dataclass
class _Op:
    id: int
    account_id: int
    contract_id: int
    order_id: int
    product_id: int
    quantity: int
    override: date | None
    override_line: int | None
    bill_through: date | None


_CANDIDATES = """
SELECT sl.id, sl.order_product_id, sl.account_id, sl.period_start, sl.period_end,
       sl.due_date, sl.amount, sl.fraction, sl.is_credit
FROM schedule_lines sl
WHERE sl.account_id = ANY($1::int[]) AND NOT sl.removed
  AND (sl.period_start <= $2 OR sl.id = ANY($3::bigint[]))
  AND NOT EXISTS (
      SELECT 1 FROM invoice_lines il WHERE il.schedule_line_id = sl.id AND il.bills)
"""

_OPEN_INVOICES = """
SELECT account_id, MIN(due_date) AS oldest
FROM invoices
WHERE account_id = ANY($1::int[]) AND status = 'POSTED' AND document_type = 'INVOICE'
  AND payment_status IN ('UNPAID', 'PARTIALLY_PAID')
GROUP BY account_id
"""

_INSERT_INVOICES = """
INSERT INTO invoices (account_id, invoice_run_id, document_type, status, currency,
                      invoice_date, due_date, total, open_balance, created_at)
SELECT a, $2, t, 'DRAFT', c, $3, d, s, 0, $4
FROM unnest($1::int[], $5::text[], $6::text[], $7::date[], $8::numeric[]) AS u(a, t, c, d, s)
RETURNING id, account_id
"""

_MARK_DONE = """
UPDATE invoice_run_accounts AS w
SET status = 'DONE', invoice_id = u.invoice, lines = u.lines, error = NULL, processed_at = $2
FROM unnest($3::int[], $4::bigint[], $5::int[]) AS u(account, invoice, lines)
WHERE w.run_id = $1 AND w.account_id = u.account
"""

_LINE_COLUMNS = (
    "invoice_id",
    "schedule_line_id",
    "order_product_id",
    "product_id",
    "description",
    "period_start",
    "period_end",
    "quantity",
    "fraction",
    "amount",
    "bills",
)


async def bill_accounts(run: InvoiceRun, account_ids: Sequence[int]) -> ChunkBilled:
    """Bill these accounts of ``run`` in one transaction (PostgreSQL only)."""
    async with in_transaction() as conn:
        # the transaction's own asyncpg connection: raw statements and the ORM calls
        # below run one after another on it, inside the same transaction
        raw = conn._connection
        return await _bill(raw, run, sorted(set(account_ids)))


async def _bill(raw: Any, run: InvoiceRun, ids: list[int]) -> ChunkBilled:
    now = clock.now()
    locked = await raw.fetch(
        "SELECT id, timezone, currency, payment_term_days FROM accounts "
        "WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE",
        ids,
    )
    pending = {
        r["account_id"]
        for r in await raw.fetch(
            "SELECT account_id FROM invoice_run_accounts WHERE run_id = $1 "
            "AND account_id = ANY($2::int[]) AND status = 'PENDING' FOR UPDATE",
            run.id,
            ids,
        )
    }
    accounts = {r["id"]: r for r in locked if r["id"] in pending}
    if not accounts:
        return ChunkBilled(0, 0, 0)
    ids = sorted(accounts)
    today = {a: clock.today(row["timezone"]) for a, row in accounts.items()}

    await _judge_overdue_rule(raw, ids, today, now)
    holds = await _active_holds(ids, today)
    ops = await _order_products(ids)
    await _extend_evergreen(ops, run.target_date, today)

    override_lines = [op.override_line for op in ops.values() if op.override_line is not None]
    rows = await raw.fetch(_CANDIDATES, ids, run.target_date, override_lines)
    due = _eligible(rows, ops, holds, run.target_date)

    products = (
        {
            p.id: p.name
            for p in await Product.filter(
                id__in={ops[r["order_product_id"]].product_id for r in due}
            )
        }
        if due
        else {}
    )
    by_account: dict[int, list[Any]] = defaultdict(list)
    for row in due:
        by_account[row["account_id"]].append(row)

    invoice_of = await _insert_documents(raw, run, accounts, by_account, now)
    records = []
    for account_id, lines in by_account.items():
        for row in lines:
            op = ops[row["order_product_id"]]
            records.append(
                (
                    invoice_of[account_id],
                    row["id"],
                    op.id,
                    op.product_id,
                    _describe(products[op.product_id], op.quantity, row),
                    row["period_start"],
                    row["period_end"],
                    op.quantity,
                    row["fraction"],
                    row["amount"],
                    True,
                )
            )
    if records:
        await raw.copy_records_to_table("invoice_lines", records=records, columns=_LINE_COLUMNS)
    await _clear_overrides(raw, ops, due)
    await raw.execute(
        _MARK_DONE,
        run.id,
        now,
        ids,
        [invoice_of.get(a) for a in ids],
        [len(by_account.get(a, ())) for a in ids],
    )
    await raw.execute(
        "UPDATE invoice_runs SET accounts_processed = accounts_processed + $2, "
        "invoices_created = invoices_created + $3, lines_created = lines_created + $4 "
        "WHERE id = $1",
        run.id,
        len(ids),
        len(invoice_of),
        len(records),
    )
    if run.auto_post and invoice_of:
        await _post(list(invoice_of.values()), accounts)
    return ChunkBilled(len(ids), len(invoice_of), len(records))


async def _judge_overdue_rule(raw: Any, ids: list[int], today: dict[int, date], now: Any) -> None:
    """The overdue rule, judged for many accounts with two queries; the few accounts
    whose hold must change go through ``holds.evaluate_overdue_rule``."""
    rules = await hold_rules()
    active = {
        r["account_id"]
        for r in await raw.fetch(
            "SELECT account_id FROM billing_holds WHERE account_id = ANY($1::int[]) "
            "AND source = 'OVERDUE_RULE' AND released_at IS NULL",
            ids,
        )
    }
    overdue: set[int] = set()
    if rules.overdue_days is not None:
        for row in await raw.fetch(_OPEN_INVOICES, ids):
            cutoff = today[row["account_id"]] - timedelta(days=rules.overdue_days)
            if row["oldest"] <= cutoff:
                overdue.add(row["account_id"])
    changing = sorted(overdue ^ active)
    for account in await Account.filter(id__in=changing).order_by("id"):
        await evaluate_overdue_rule(account, today[account.id])


async def _active_holds(ids: list[int], today: dict[int, date]) -> dict[int, HoldCheck]:
    holds: dict[int, list[BillingHold]] = defaultdict(list)
    for hold in await BillingHold.filter(account_id__in=ids, released_at=None):
        if is_active(hold, today[hold.account_id]):
            holds[hold.account_id].append(hold)
    return {a: HoldCheck(tuple(h)) for a, h in holds.items()}


async def _order_products(ids: list[int]) -> dict[int, _Op]:
    rows = await OrderProduct.filter(
        account_id__in=ids, order__status=OrderStatus.ACTIVATED
    ).values(
        "id",
        "account_id",
        "contract_id",
        "order_id",
        "product_id",
        "quantity",
        "next_billing_date_override",
        "override_line_id",
        "bill_through_override",
    )
    return {
        r["id"]: _Op(
            r["id"],
            r["account_id"],
            r["contract_id"],
            r["order_id"],
            r["product_id"],
            r["quantity"],
            r["next_billing_date_override"],
            r["override_line_id"],
            r["bill_through_override"],
        )
        for r in rows
    }


async def _extend_evergreen(ops: dict[int, _Op], target: date, today: dict[int, date]) -> None:
    short = await OrderProduct.filter(id__in=list(ops), end_date=None, scheduled_through__lt=target)
    for op in short:
        await ensure_horizon([op], target, today[op.account_id])


def _eligible(
    rows: Sequence[Any], ops: dict[int, _Op], holds: dict[int, HoldCheck], target: date
) -> list[Any]:
    """The candidate rows that are due by ``target`` and not held, in document order."""
    per_op: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        if row["order_product_id"] in ops:
            per_op[row["order_product_id"]].append(row)
    due = []
    for op_id, op_rows in per_op.items():
        op = ops[op_id]
        op_rows.sort(key=lambda r: (r["period_start"], r["is_credit"], r["id"]))
        states = [
            DueState(
                r["due_date"],
                is_credit=r["is_credit"],
                override=op.override if r["id"] == op.override_line else None,
            )
            for r in op_rows
        ]
        check = holds.get(op.account_id)
        for row, effective in zip(op_rows, effective_due_dates(states), strict=True):
            if effective > target:
                continue
            if check is not None and check.holds_line(_Held(op), row["amount"] < 0):
                continue
            due.append(row)
    due.sort(
        key=lambda r: (
            ops[r["order_product_id"]].contract_id,
            r["order_product_id"],
            r["period_start"],
            r["is_credit"],
            r["id"],
        )
    )
    return due


class _Held:
    """The attributes of an order product a hold's scope is judged on."""

    def __init__(self, op: _Op) -> None:
        self.id = op.id
        self.contract_id = op.contract_id
        self.order_id = op.order_id


async def _insert_documents(
    raw: Any, run: InvoiceRun, accounts: dict[int, Any], by_account: dict[int, list[Any]], now: Any
) -> dict[int, int]:
    if not by_account:
        return {}
    order = sorted(by_account)
    totals = [sum((r["amount"] for r in by_account[a]), Decimal(0)) for a in order]
    rows = await raw.fetch(
        _INSERT_INVOICES,
        order,
        run.id,
        run.invoice_date,
        now,
        ["CREDIT_NOTE" if t < 0 else "INVOICE" for t in totals],
        [accounts[a]["currency"] for a in order],
        [run.invoice_date + timedelta(days=accounts[a]["payment_term_days"]) for a in order],
        totals,
    )
    return {r["account_id"]: r["id"] for r in rows}


async def _clear_overrides(raw: Any, ops: dict[int, _Op], due: Sequence[Any]) -> None:
    billed = {r["id"] for r in due}
    cleared = [op.id for op in ops.values() if op.override_line in billed]
    if cleared:
        await raw.execute(
            "UPDATE order_products SET override_line_id = NULL, "
            "next_billing_date_override = NULL WHERE id = ANY($1::int[])",
            cleared,
        )
    ends = {(r["order_product_id"], r["period_end"]) for r in due}
    through = [
        op.id
        for op in ops.values()
        if op.bill_through is not None and (op.id, op.bill_through) in ends
    ]
    if through:
        await raw.execute(
            "UPDATE order_products SET bill_through_override = NULL WHERE id = ANY($1::int[])",
            through,
        )


def _describe(name: str, quantity: int, row: Any) -> str:
    return line_description(
        name, quantity, row["period_start"], row["period_end"], row["is_credit"]
    )


async def _post(invoice_ids: list[int], accounts: dict[int, Any]) -> None:
    from orbit.db.models import Invoice
    from orbit.services.invoices import post_document

    for invoice in await Invoice.filter(id__in=invoice_ids).order_by("id"):
        await post_document(invoice, clock.today(accounts[invoice.account_id]["timezone"]))

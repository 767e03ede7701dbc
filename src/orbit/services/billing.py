"""Billing one account up to a target date, and the preview of it.

A line is eligible when it is unbilled, its effective due date is on or before
the target date, its order is activated and no active hold holds it. All
eligible lines of an account go onto one document. Billing takes the
account's row lock (PostgreSQL), and the database refuses a schedule line
billed by two documents at once, so billing twice creates nothing new.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import (
    Account,
    DocumentType,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceRunAccount,
    InvoiceStatus,
    OrderProduct,
    OrderStatus,
    Product,
    RunAccountStatus,
    ScheduleLine,
)
from orbit.engine.schedule import DueState, effective_due_dates, extend_schedule
from orbit.services.holds import HoldCheck, active_holds, evaluate_overdue_rule
from orbit.services.schedules import row_of, schedule_order, stored_lines, terms_of
from orbit.services.state import billed_lines, horizon


@dataclass(frozen=True)
class DueLine:
    row: ScheduleLine
    order_product: OrderProduct
    effective_due: date


async def ensure_horizon(ops: Sequence[OrderProduct], through: date, today: date) -> None:
    """Store evergreen schedules far enough ahead to reach ``through``.

    Storing ahead never changes a value a client sees; each order product is
    extended under its row lock, so concurrent callers never store a line twice.
    """
    for op in ops:
        if op.end_date is not None or op.scheduled_through is None:
            continue
        if op.scheduled_through >= through:
            continue
        async with in_transaction():
            locked = await OrderProduct.filter(id=op.id).select_for_update().first()
            if locked is None or locked.end_date is not None or locked.scheduled_through is None:
                continue
            if locked.scheduled_through >= through:
                op.scheduled_through = locked.scheduled_through
                continue
            target = horizon(through, today)
            rows = await ScheduleLine.filter(order_product_id=op.id, removed=False)
            existing = [s.line for s in stored_lines(rows)]
            ahead = extend_schedule(terms_of(locked), existing, target)
            if ahead:
                await ScheduleLine.bulk_create([row_of(locked, line) for line in ahead])
            locked.scheduled_through = target
            await locked.save(update_fields=["scheduled_through"])
            op.scheduled_through = target


async def activated_order_products(account_id: int) -> list[OrderProduct]:
    return await OrderProduct.filter(
        account_id=account_id, order__status=OrderStatus.ACTIVATED
    ).order_by("id")


async def due_lines(
    account: Account,
    target: date,
    holds: HoldCheck | None = None,
    ops: Sequence[OrderProduct] | None = None,
) -> list[DueLine]:
    """The account's eligible lines for ``target``, in order (held lines left out when
    ``holds`` is given)."""
    if ops is None:
        ops = await activated_order_products(account.id)
    by_id = {op.id: op for op in ops}
    if not by_id:
        return []
    override_lines = [op.override_line_id for op in ops if op.override_line_id is not None]
    # A line due by the target starts by then (every line is due on or after its
    # start), and so do the lines before it, whose effective dates it depends on.
    condition = Q(period_start__lte=target)
    if override_lines:
        condition |= Q(id__in=override_lines)
    rows = await ScheduleLine.filter(account_id=account.id, removed=False).filter(condition)
    rows = [row for row in rows if row.order_product_id in by_id]
    billed = await billed_lines(row.id for row in rows)
    per_op: dict[int, list[ScheduleLine]] = defaultdict(list)
    for row in rows:
        if row.id not in billed:
            per_op[row.order_product_id].append(row)
    result = []
    for op_id, op_rows in per_op.items():
        op = by_id[op_id]
        op_rows.sort(key=schedule_order)
        states = [
            DueState(
                row.due_date,
                is_credit=row.is_credit,
                override=op.next_billing_date_override if row.id == op.override_line_id else None,
            )
            for row in op_rows
        ]
        for row, effective in zip(op_rows, effective_due_dates(states), strict=True):
            if effective > target:
                continue
            if holds is not None and holds.holds_line(op, row.amount < 0):
                continue
            result.append(DueLine(row, op, effective))
    result.sort(
        key=lambda d: (d.order_product.contract_id, d.order_product.id, schedule_order(d.row))
    )
    return result


@dataclass
class Preview:
    account: Account
    target: date
    lines: list[DueLine] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((d.row.amount for d in self.lines), Decimal(0))


async def invoice_preview(account: Account, target: date) -> Preview:
    """The document a run with this target date would create now (nothing is billed)."""
    today = clock.today(account.timezone)
    ops = await activated_order_products(account.id)
    await ensure_horizon(ops, target, today)
    holds = await _holds_after_rules(account, today, write=False)
    return Preview(account, target, await due_lines(account, target, holds, ops))


async def _holds_after_rules(account: Account, today: date, write: bool) -> HoldCheck:
    """Active holds, with the overdue rule judged as of today."""
    from orbit.db.models import BillingHold, HoldScope, HoldSource
    from orbit.services.holds import hold_rules, overdue

    if write:
        await evaluate_overdue_rule(account, today)
        return await active_holds(account, today)
    check = await active_holds(account, today)
    rules = await hold_rules()
    holds = [h for h in check.holds if h.source is not HoldSource.OVERDUE_RULE]
    if rules.overdue_days is not None and await overdue(account, rules.overdue_days, today):
        holds.append(
            BillingHold(
                account_id=account.id,
                scope=HoldScope.ACCOUNT,
                source=HoldSource.OVERDUE_RULE,
                reason="overdue",
            )
        )
    return HoldCheck(tuple(holds))


@dataclass(frozen=True)
class BillResult:
    invoice: Invoice | None
    lines: int
    #: False when this account's share of the run had already been done
    fresh: bool = True


def describe(product: Product, op: OrderProduct, row: ScheduleLine) -> str:
    return line_description(
        product.name, op.quantity, row.period_start, row.period_end, row.is_credit
    )


def line_description(name: str, quantity: int, start: date, end: date, is_credit: bool) -> str:
    """How a document line reads: the product, the quantity and the period."""
    period = start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"
    label = "credit: " if is_credit else ""
    return f"{label}{name} x {quantity}, {period}"[:300]


async def bill_account(
    account_id: int,
    target: date,
    invoice_date: date,
    run: InvoiceRun | None = None,
    auto_post: bool = False,
) -> BillResult:
    """Put every eligible line of the account on one new document.

    Call inside a transaction: it locks the account row, judges holds, writes the
    document and (for a run) the account's share of the run and the run's counters.
    """
    account = await Account.filter(id=account_id).select_for_update().first()
    if account is None:
        raise LookupError(f"account {account_id} does not exist")
    work = None
    if run is not None:
        work = (
            await InvoiceRunAccount.filter(run_id=run.id, account_id=account_id)
            .select_for_update()
            .first()
        )
        if work is not None and work.status is RunAccountStatus.DONE:
            return BillResult(None, 0, fresh=False)
    today = clock.today(account.timezone)
    ops = await activated_order_products(account.id)
    await ensure_horizon(ops, target, today)
    holds = await _holds_after_rules(account, today, write=True)
    lines = await due_lines(account, target, holds, ops)
    invoice = await _create_document(account, lines, invoice_date, run) if lines else None
    if invoice is not None:
        billed_ids = {d.row.id for d in lines}
        for op in {d.order_product.id: d.order_product for d in lines}.values():
            changed = []
            if op.override_line_id in billed_ids:
                op.override_line_id = None
                op.next_billing_date_override = None
                changed += ["override_line_id", "next_billing_date_override"]
            if op.bill_through_override is not None and any(
                d.row.period_end == op.bill_through_override
                for d in lines
                if d.order_product.id == op.id
            ):
                op.bill_through_override = None
                changed.append("bill_through_override")
            if changed:
                await op.save(update_fields=changed)
    if run is not None:
        await _record_share(run, account_id, work, invoice, len(lines))
    if invoice is not None and auto_post:
        from orbit.services.invoices import post_document

        await post_document(invoice, today)
    return BillResult(invoice, len(lines))


async def _create_document(
    account: Account, lines: Sequence[DueLine], invoice_date: date, run: InvoiceRun | None
) -> Invoice:
    total = sum((d.row.amount for d in lines), Decimal(0))
    invoice = await Invoice.create(
        account_id=account.id,
        invoice_run_id=run.id if run else None,
        document_type=DocumentType.CREDIT_NOTE if total < 0 else DocumentType.INVOICE,
        status=InvoiceStatus.DRAFT,
        currency=account.currency,
        invoice_date=invoice_date,
        due_date=invoice_date + timedelta(days=account.payment_term_days),
        total=total,
        open_balance=0,
    )
    products = {
        p.id: p for p in await Product.filter(id__in={d.order_product.product_id for d in lines})
    }
    await InvoiceLine.bulk_create(
        [
            InvoiceLine(
                invoice_id=invoice.id,
                schedule_line_id=d.row.id,
                order_product_id=d.order_product.id,
                product_id=d.order_product.product_id,
                description=describe(products[d.order_product.product_id], d.order_product, d.row),
                period_start=d.row.period_start,
                period_end=d.row.period_end,
                quantity=d.order_product.quantity,
                fraction=d.row.fraction,
                amount=d.row.amount,
                bills=True,
            )
            for d in lines
        ]
    )
    return invoice


async def _record_share(
    run: InvoiceRun,
    account_id: int,
    work: InvoiceRunAccount | None,
    invoice: Invoice | None,
    lines: int,
) -> None:
    now = clock.now()
    if work is None:
        work = await InvoiceRunAccount.create(run_id=run.id, account_id=account_id)
    work.status = RunAccountStatus.DONE
    work.invoice_id = invoice.id if invoice else None
    work.lines = lines
    work.error = None
    work.processed_at = now
    await work.save()
    await InvoiceRun.filter(id=run.id).update(
        accounts_processed=F("accounts_processed") + 1,
        invoices_created=F("invoices_created") + (1 if invoice else 0),
        lines_created=F("lines_created") + lines,
    )

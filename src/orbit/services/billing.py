"""Billing accounts up to a target date, and the preview of it.

What goes on a document is decided by the engine (``orbit.engine.invoicing``);
this module loads its inputs for any number of accounts in a constant number
of statements and stores its output. Billing one account (here) and billing a
run's chunk set-based (``bulk``) load the same inputs the same way and differ
only in how they write.

Billing takes the account's row lock (PostgreSQL), and the database refuses a
schedule line billed by two documents at once, so billing twice creates
nothing new. A preview loads the same inputs and writes nothing: evergreen
lines beyond the stored horizon are computed in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.connection import db, dialect
from orbit.db.models import (
    Account,
    BillingHold,
    DocumentType,
    HoldSource,
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
from orbit.db.models.billing import OPEN
from orbit.engine.enums import HoldScope
from orbit.engine.invoicing import (
    AccountTerms,
    BillableProduct,
    CandidateLine,
    DocumentDraft,
    DraftLine,
    HoldInForce,
    draft_document,
    is_overdue,
)
from orbit.engine.schedule import extend_schedule
from orbit.services.holds import evaluate_overdue_rule, hold_in_force, hold_rules, is_active
from orbit.services.schedules import row_of, stored_lines, terms_of
from orbit.services.state import horizon


async def ensure_horizon(ops: Sequence[OrderProduct], through: date, today: date) -> None:
    """Store evergreen schedules far enough ahead to reach ``through`` (writes; for
    billing and amendments, never for reads).

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


# ---------------------------------------------------------------- the engine's inputs


@dataclass
class BillingInputs:
    """Everything the engine needs to draft documents for some accounts."""

    accounts: dict[int, AccountTerms]
    today: dict[int, date]
    products: dict[int, list[BillableProduct]] = field(default_factory=dict)
    lines: dict[int, list[CandidateLine]] = field(default_factory=dict)
    holds: dict[int, list[HoldInForce]] = field(default_factory=dict)
    #: stored fraction (exact, as text) of each candidate line, by line key
    fractions: dict[int, str] = field(default_factory=dict)
    #: lines computed beyond the stored horizon (previews), by order product
    unstored: dict[int, list[ScheduleLine]] = field(default_factory=dict)

    def draft(self, account_id: int, target: date, invoice_date: date) -> DocumentDraft | None:
        return draft_document(
            self.accounts[account_id],
            self.products.get(account_id, []),
            self.lines.get(account_id, []),
            self.holds.get(account_id, []),
            target,
            invoice_date,
        )


def account_terms(row: Account | Mapping[str, Any]) -> AccountTerms:
    if isinstance(row, Account):
        return AccountTerms(row.id, row.currency, row.payment_term_days)
    return AccountTerms(int(row["id"]), row["currency"], int(row["payment_term_days"]))


async def load_inputs(
    accounts: Mapping[int, AccountTerms],
    today: Mapping[int, date],
    target: date,
    *,
    store_ahead: bool,
) -> BillingInputs:
    """Load the engine's inputs for ``accounts`` billed through ``target``.

    ``store_ahead``: billing stores evergreen schedules ahead first (a write);
    a preview computes the lines beyond the stored horizon in memory instead.
    The rule holds are judged as of each account's today, as billing judges them.
    """
    ids = sorted(accounts)
    inputs = BillingInputs(dict(accounts), dict(today))
    products = await _billable_products(ids)
    for product, account_id in products:
        inputs.products.setdefault(account_id, []).append(product)
    short = await OrderProduct.filter(
        account_id__in=ids,
        order__status=OrderStatus.ACTIVATED,
        end_date=None,
        scheduled_through__lt=target,
    )
    if store_ahead:
        for op in short:
            await ensure_horizon([op], target, today[op.account_id])
    else:
        await _compute_ahead(short, target, inputs)
    override_lines = [p.override_line for p, _ in products if p.override_line is not None]
    for row in await _unbilled_lines(ids, target, override_lines):
        line = CandidateLine(
            key=int(row["id"]),
            order_product=int(row["order_product_id"]),
            start=_day(row["period_start"]),
            end=_day(row["period_end"]),
            due=_day(row["due_date"]),
            amount=_money(row["amount"]),
            is_credit=bool(row["is_credit"]),
        )
        inputs.lines.setdefault(int(row["account_id"]), []).append(line)
        inputs.fractions[line.key] = str(row["fraction"])  # type: ignore[index]
    inputs.holds = await _holds_in_force(ids, inputs.today)
    return inputs


async def _billable_products(ids: list[int]) -> list[tuple[BillableProduct, int]]:
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
    names = dict(
        await Product.filter(id__in={r["product_id"] for r in rows}).values_list("id", "name")
    )
    return [
        (
            BillableProduct(
                key=r["id"],
                contract=r["contract_id"],
                order=r["order_id"],
                product=r["product_id"],
                product_name=names[r["product_id"]],
                quantity=r["quantity"],
                next_billing_override=r["next_billing_date_override"],
                override_line=r["override_line_id"],
                bill_through=r["bill_through_override"],
            ),
            r["account_id"],
        )
        for r in sorted(rows, key=lambda r: r["id"])
    ]


async def _compute_ahead(
    short: Iterable[OrderProduct], target: date, inputs: BillingInputs
) -> None:
    """Evergreen lines after the stored ones up to ``target``, in memory (no key)."""
    short = list(short)
    if not short:
        return
    stored: dict[int, list[ScheduleLine]] = defaultdict(list)
    for row in await ScheduleLine.filter(
        order_product_id__in=[op.id for op in short], removed=False
    ):
        stored[row.order_product_id].append(row)
    for op in short:
        existing = [s.line for s in stored_lines(stored[op.id])]
        ahead = extend_schedule(terms_of(op), existing, target)
        inputs.unstored[op.id] = [row_of(op, line) for line in ahead]
        inputs.lines.setdefault(op.account_id, []).extend(
            CandidateLine(None, op.id, line.start, line.end, line.due, line.amount)
            for line in ahead
        )


# A line due by the target starts by then (every line is due on or after its start),
# and so do the lines before it, whose effective dates it depends on; a line bound
# to a next-billing-date override may come due before it starts.
_UNBILLED = """
SELECT sl.id, sl.order_product_id, sl.account_id, sl.period_start, sl.period_end,
       sl.due_date, sl.amount, sl.fraction, sl.is_credit
FROM schedule_lines sl
WHERE sl.account_id IN ({accounts}) AND NOT sl.removed
  AND (sl.period_start <= {target}{overrides})
  AND NOT EXISTS (SELECT 1 FROM invoice_lines il
                  WHERE il.schedule_line_id = sl.id AND il.bills)
"""


async def _unbilled_lines(
    ids: list[int], target: date, override_lines: list[int]
) -> list[dict[str, Any]]:
    if not ids:
        return []
    postgres = dialect() == "postgres"
    overrides = ""
    if override_lines:
        overrides = f" OR sl.id IN ({_int_list(override_lines)})"
    sql = _UNBILLED.format(
        accounts=_int_list(ids), target="$1" if postgres else "?", overrides=overrides
    )
    return await db().execute_query_dict(sql, [target if postgres else target.isoformat()])


def _int_list(values: Iterable[int]) -> str:
    return ", ".join(str(int(v)) for v in values)


def _money(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def _holds_in_force(
    ids: list[int], today: Mapping[int, date]
) -> dict[int, list[HoldInForce]]:
    """Active holds per account, with the overdue rule judged as of each one's today
    (whether or not a worker has placed or released its hold yet)."""
    holds: dict[int, list[HoldInForce]] = defaultdict(list)
    for hold in await BillingHold.filter(account_id__in=ids, released_at=None):
        if hold.source is HoldSource.OVERDUE_RULE or not is_active(hold, today[hold.account_id]):
            continue
        holds[hold.account_id].append(hold_in_force(hold))
    for account_id in await overdue_accounts(ids, today):
        holds[account_id].append(HoldInForce(HoldScope.ACCOUNT, HoldSource.OVERDUE_RULE))
    return dict(holds)


async def overdue_accounts(ids: Sequence[int], today: Mapping[int, date]) -> set[int]:
    """The accounts the overdue rule holds as of their today."""
    rules = await hold_rules()
    if rules.overdue_days is None or not ids:
        return set()
    oldest: dict[int, date] = {}
    for account_id, due in await Invoice.filter(
        account_id__in=list(ids),
        document_type=DocumentType.INVOICE,
        status=InvoiceStatus.POSTED,
        payment_status__in=OPEN,
    ).values_list("account_id", "due_date"):
        oldest[account_id] = min(due, oldest.get(account_id, due))
    return {a for a, due in oldest.items() if is_overdue(due, today[a], rules.overdue_days)}


async def settle_overdue_rule(ids: Sequence[int], today: Mapping[int, date]) -> None:
    """Place or release the OVERDUE_RULE holds of the accounts whose state changed, as
    billing them judges it (the drafts already hold what the rule holds)."""
    holding = set(
        await BillingHold.filter(
            account_id__in=list(ids), source=HoldSource.OVERDUE_RULE, released_at=None
        ).values_list("account_id", flat=True)
    )
    changing = sorted(await overdue_accounts(ids, today) ^ holding)
    for account in await Account.filter(id__in=changing).order_by("id"):
        await evaluate_overdue_rule(account, today[account.id])


def billable_share(share: InvoiceRunAccount | None) -> bool:
    """An account's share of a run is billed while it is PENDING: a DONE share was
    billed, a FAILED one is final for that run, no share means not in its scope."""
    return share is not None and share.status is RunAccountStatus.PENDING


# ---------------------------------------------------------------- preview


@dataclass(frozen=True)
class DueLine:
    """A line of a preview: its stored row (unsaved when beyond the stored horizon)."""

    row: ScheduleLine
    drafted: DraftLine

    @property
    def effective_due(self) -> date:
        return self.drafted.effective_due


@dataclass
class Preview:
    account: Account
    target: date
    lines: list[DueLine] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((d.row.amount for d in self.lines), Decimal(0))


async def invoice_preview(account: Account, target: date) -> Preview:
    """The document a run with this target date would create now. Writes nothing."""
    today = {account.id: clock.today(account.timezone)}
    inputs = await load_inputs(
        {account.id: account_terms(account)}, today, target, store_ahead=False
    )
    draft = inputs.draft(account.id, target, target)
    if draft is None:
        return Preview(account, target)
    keys = [d.line.key for d in draft.lines if d.line.key is not None]
    rows = {row.id: row for row in await ScheduleLine.filter(id__in=keys)} if keys else {}
    ahead = {
        (row.order_product_id, row.period_start): row
        for unstored in inputs.unstored.values()
        for row in unstored
    }
    lines = [
        DueLine(
            rows[d.line.key]
            if d.line.key is not None
            else ahead[(d.line.order_product, d.line.start)],
            d,
        )
        for d in draft.lines
    ]
    return Preview(account, target, lines)


# ---------------------------------------------------------------- billing one account


@dataclass(frozen=True)
class BillResult:
    invoice: Invoice | None
    lines: int
    #: False when this account's share of the run had already been done
    fresh: bool = True


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
    share = None
    if run is not None:
        share = (
            await InvoiceRunAccount.filter(run_id=run.id, account_id=account_id)
            .select_for_update()
            .first()
        )
        if not billable_share(share):
            return BillResult(None, 0, fresh=False)
    today = {account.id: clock.today(account.timezone)}
    await settle_overdue_rule([account.id], today)
    inputs = await load_inputs(
        {account.id: account_terms(account)}, today, target, store_ahead=True
    )
    draft = inputs.draft(account.id, target, invoice_date)
    invoice = await store_document(draft, inputs, run) if draft is not None else None
    lines = len(draft.lines) if draft is not None else 0
    if share is not None and run is not None:
        await _record_share(run, share, invoice, lines)
    if invoice is not None and auto_post:
        from orbit.services.invoices import post_document

        await post_document(invoice, today[account.id])
    return BillResult(invoice, lines)


#: the columns of a stored invoice line, in the order ``invoice_line_values`` gives them
INVOICE_LINE_COLUMNS = (
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


def invoice_line_values(draft: DocumentDraft, inputs: BillingInputs) -> list[tuple[Any, ...]]:
    """The stored columns of each line of ``draft`` (billing drafts stored lines only)."""
    values = []
    fractions = inputs.fractions
    for d in draft.lines:
        line, product = d.line, d.product
        assert line.key is not None, "billing drafts only stored lines"
        values.append(
            (
                line.key,
                product.key,
                product.product,
                d.description,
                line.start,
                line.end,
                product.quantity,
                fractions[line.key],
                line.amount,
                True,
            )
        )
    return values


async def store_document(
    draft: DocumentDraft, inputs: BillingInputs, run: InvoiceRun | None
) -> Invoice:
    invoice = await Invoice.create(
        account_id=draft.account.key,
        invoice_run_id=run.id if run else None,
        document_type=draft.document_type,
        status=InvoiceStatus.DRAFT,
        currency=draft.account.currency,
        invoice_date=draft.invoice_date,
        due_date=draft.due_date,
        total=draft.total,
        open_balance=0,
    )
    await InvoiceLine.bulk_create(
        [
            InvoiceLine(invoice_id=invoice.id, **dict(zip(INVOICE_LINE_COLUMNS, v, strict=True)))
            for v in invoice_line_values(draft, inputs)
        ]
    )
    await clear_controls([draft])
    return invoice


async def clear_controls(drafts: Iterable[DocumentDraft]) -> None:
    """Clear the billing-date controls that billing these drafts used up."""
    next_billing = [k for d in drafts for k in d.clears_next_billing]
    bill_through = [k for d in drafts for k in d.clears_bill_through]
    if next_billing:
        await OrderProduct.filter(id__in=next_billing).update(
            override_line_id=None, next_billing_date_override=None
        )
    if bill_through:
        await OrderProduct.filter(id__in=bill_through).update(bill_through_override=None)


async def _record_share(
    run: InvoiceRun, share: InvoiceRunAccount, invoice: Invoice | None, lines: int
) -> None:
    from tortoise.expressions import F

    share.status = RunAccountStatus.DONE
    share.invoice_id = invoice.id if invoice else None
    share.lines = lines
    share.error = None
    share.processed_at = clock.now()
    await share.save()
    await InvoiceRun.filter(id=run.id).update(
        accounts_processed=F("accounts_processed") + 1,
        invoices_created=F("invoices_created") + (1 if invoice else 0),
        lines_created=F("lines_created") + lines,
    )

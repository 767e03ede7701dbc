"""Documents after a run: post, cancel a draft, credit a posted invoice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import (
    Account,
    Contract,
    DocumentSequence,
    DocumentType,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceStatus,
    OrderProduct,
    PaymentStatus,
    ScheduleLine,
)
from orbit.engine.amendments import closed_days, reclose
from orbit.engine.schedule import Line
from orbit.engine.terminations import Remainder, left_to_credit
from orbit.services.access import Actor, Permission
from orbit.services.accounts import get_visible, lock_account
from orbit.services.audit import record
from orbit.services.errors import Code, DomainError, NotFound
from orbit.services.holds import evaluate_overdue_rule
from orbit.services.schedules import line_of, parts_text, rational_text

PREFIX = {DocumentType.INVOICE: "INV", DocumentType.CREDIT_NOTE: "CN"}


async def get_invoice(actor: Actor, invoice_id: int, lock: bool = False) -> Invoice:
    query = Invoice.filter(id=invoice_id).select_related("account")
    return await get_visible(actor, query, "invoice", "invoiceId", lock)


async def next_number(document_type: DocumentType) -> str:
    """The next number of the gapless sequence; the row stays locked until commit."""
    updated = await DocumentSequence.filter(document_type=document_type.value).update(
        last_number=F("last_number") + 1
    )
    if not updated:
        await DocumentSequence.create(document_type=document_type.value, last_number=1)
    sequence = await DocumentSequence.get(document_type=document_type.value)
    return f"{PREFIX[document_type]}-{sequence.last_number:06d}"


async def post_document(invoice: Invoice, today: date) -> Invoice:
    """DRAFT -> POSTED: number, postedOn, open balance; then settle the account.
    Call inside a transaction."""
    from orbit.services.receivables import apply_credits

    invoice.status = InvoiceStatus.POSTED
    invoice.number = await next_number(invoice.document_type)
    invoice.posted_on = today
    invoice.open_balance = invoice.total
    invoice.payment_status = payment_status(invoice)
    await invoice.save(
        update_fields=["status", "number", "posted_on", "open_balance", "payment_status"]
    )
    account = await Account.get(id=invoice.account_id)
    await apply_credits(account)
    await evaluate_overdue_rule(account, today)
    await invoice.refresh_from_db(fields=["open_balance", "payment_status"])
    return invoice


def payment_status(document: Invoice) -> PaymentStatus:
    """UNPAID, PARTIALLY_PAID or PAID, from what is still open of the total."""
    if document.open_balance == 0:
        return PaymentStatus.PAID
    if document.open_balance == document.total:
        return PaymentStatus.UNPAID
    return PaymentStatus.PARTIALLY_PAID


async def post_invoice(actor: Actor, invoice_id: int) -> Invoice:
    actor.require(Permission.DOCUMENTS)
    async with in_transaction():
        invoice = await get_invoice(actor, invoice_id, lock=True)
        if invoice.status is not InvoiceStatus.DRAFT:
            raise DomainError(
                Code.INVALID_STATE,
                f"only a DRAFT document can be posted; this one is {invoice.status.value}",
                ("invoiceId",),
            )
        await post_document(invoice, clock.today(invoice.account.timezone))
        await record(actor, "invoice.post", invoice, {"number": invoice.number})
    return invoice


async def post_run(actor: Actor, run_id: int) -> list[Invoice]:
    """Post every DRAFT document of a run."""
    actor.require(Permission.DOCUMENTS)
    async with in_transaction():
        run = await InvoiceRun.filter(id=run_id).select_for_update().first()
        if run is None:
            raise NotFound("invoice run", ("invoiceRunId",))
        owners = await Invoice.filter(
            invoice_run_id=run_id, status=InvoiceStatus.DRAFT
        ).values_list("account_id", flat=True)
        for account_id in sorted({int(a) for a in owners}):
            await lock_account(account_id)
        drafts = (
            await Invoice.filter(invoice_run_id=run_id, status=InvoiceStatus.DRAFT)
            .select_related("account")
            .order_by("id")
            .select_for_update(of=("invoices",))
        )
        for invoice in drafts:
            await post_document(invoice, clock.today(invoice.account.timezone))
        await record(actor, "invoice_run.post", run, {"posted": len(drafts)})
    return list(drafts)


async def cancel_invoice(actor: Actor, invoice_id: int) -> Invoice:
    """Cancel a DRAFT document; its schedule lines become unbilled again."""
    actor.require(Permission.DOCUMENTS)
    async with in_transaction():
        invoice = await get_invoice(actor, invoice_id, lock=True)
        if invoice.status is not InvoiceStatus.DRAFT:
            raise DomainError(
                Code.INVALID_STATE,
                f"only a DRAFT document can be cancelled; this one is {invoice.status.value}",
                ("invoiceId",),
            )
        invoice.status = InvoiceStatus.CANCELLED
        await invoice.save(update_fields=["status"])
        await InvoiceLine.filter(invoice_id=invoice.id).update(bills=False)
        await record(actor, "invoice.cancel", invoice)
    return invoice


async def credit_invoice(
    actor: Actor, invoice_id: int, rebill: bool = True
) -> tuple[Invoice, Invoice]:
    """Reverse a POSTED invoice with a POSTED credit note mirroring its lines.

    The credit note is applied to the invoice first; with ``rebill`` the invoice's
    schedule lines become unbilled and the next run bills them anew.
    """
    from orbit.services.receivables import apply_credit_note_to, apply_credits

    actor.require(Permission.DOCUMENTS)
    async with in_transaction():
        invoice = await get_invoice(actor, invoice_id, lock=True)
        if invoice.document_type is not DocumentType.INVOICE:
            raise DomainError(Code.INVALID, "only an invoice can be credited", ("invoiceId",))
        if invoice.status is not InvoiceStatus.POSTED:
            raise DomainError(
                Code.INVALID_STATE,
                f"only a POSTED invoice can be credited; this one is {invoice.status.value}",
                ("invoiceId",),
            )
        if await Invoice.filter(reverses_id=invoice.id).exists():
            raise DomainError(Code.INVALID_STATE, "the invoice is already credited", ("invoiceId",))
        if invoice.total <= 0:
            raise DomainError(Code.INVALID, "a zero invoice has nothing to credit", ("invoiceId",))
        account = invoice.account
        today = clock.today(account.timezone)
        lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("id")
        given = (
            [_mirror(line) for line in lines]
            if rebill
            else await _left_to_give_back(lines, invoice.currency)
        )
        if not given:
            raise DomainError(
                Code.INVALID_STATE,
                "nothing is left to credit: every day this invoice charged was given back already",
                ("invoiceId",),
            )
        total = sum((line.amount for line in given), Decimal(0))
        note = await Invoice.create(
            account_id=account.id,
            document_type=DocumentType.CREDIT_NOTE,
            status=InvoiceStatus.POSTED,
            number=await next_number(DocumentType.CREDIT_NOTE),
            currency=invoice.currency,
            invoice_date=today,
            due_date=today,
            posted_on=today,
            total=total,
            open_balance=total,
            payment_status=PaymentStatus.UNPAID,
            reverses_id=invoice.id,
            rebill=rebill,
        )
        for line in given:
            line.invoice_id = note.id
        await InvoiceLine.bulk_create(given)
        if not rebill:
            closing = await _close_reductions(note, given)
            if closing:
                note.total += sum((line.amount for line in closing), Decimal(0))
                if note.total >= 0:
                    # what the credit gives back, the reductions had given back already
                    raise DomainError(
                        Code.INVALID_STATE,
                        "nothing is left to credit: the days this invoice charged are at 0 already",
                        ("invoiceId",),
                    )
                for line in closing:
                    line.invoice_id = note.id
                await InvoiceLine.bulk_create(closing)
                note.open_balance = note.total
                await note.save(update_fields=["total", "open_balance"])
        if rebill:
            await InvoiceLine.filter(invoice_id=invoice.id).update(bills=False)
        await apply_credit_note_to(note, invoice)
        await apply_credits(account)
        await evaluate_overdue_rule(account, today)
        await note.refresh_from_db(fields=["open_balance", "payment_status"])
        await invoice.refresh_from_db(fields=["open_balance", "payment_status"])
        await record(
            actor, "invoice.credit", invoice, {"creditNote": note.number, "rebill": rebill}
        )
    return invoice, note


def _giving_back(line: InvoiceLine, billed: Line, left: Remainder) -> InvoiceLine:
    """The credit-note line that gives back what is left of ``line`` (billing
    ``billed``): the whole line mirrored, or its days not given back yet."""
    if (left.start, left.end) == (billed.start, billed.end):
        return _mirror(line)
    fraction = sum((p.fraction for p in billed.portion(left.start, left.end)), Fraction(0))
    name, _, _ = line.description.rpartition(", ")
    period = f"{left.start.isoformat()} to {left.end.isoformat()}"
    if left.start == left.end:
        period = left.start.isoformat()
    return InvoiceLine(
        schedule_line_id=line.schedule_line_id,
        order_product_id=line.order_product_id,
        product_id=line.product_id,
        description=f"{name}, {period}"[:300],
        period_start=left.start,
        period_end=left.end,
        quantity=line.quantity,
        fraction=rational_text(-fraction),
        amount=-left.amount,
        bills=False,
    )


async def _close_reductions(note: Invoice, given: Sequence[InvoiceLine]) -> list[InvoiceLine]:
    """After a credit without rebill: the reductions of the lines it gave back give
    nothing back for the days now closed (every order product of the line in effect
    that day credited without rebill). Their unbilled lines are valued again without
    those days; a billed one whose every day is closed is given back on the credit
    note (a positive line), so that the day is not credited twice. Returns those
    credit-note lines."""
    from orbit.services.amendments import contract_state

    ops = await OrderProduct.filter(id__in={line.order_product_id for line in given})
    contract_ids = sorted({op.contract_id for op in ops if op.contract_id is not None})
    lines: list[InvoiceLine] = []
    for contract_id in contract_ids:
        contract = await Contract.get(id=contract_id).select_related("account")
        state = await contract_state(contract, contract.account)
        for line_state in state.lines:
            reductions = [op for op in line_state.order_products if op.terms.quantity < 0]
            if not reductions:
                continue
            closed = closed_days(line_state)
            if not closed:
                continue
            for op_state in reductions:
                plan = reclose(op_state.terms, op_state.lines, closed)
                for item, line in plan.revalued:
                    await ScheduleLine.filter(id=int(item.key)).update(
                        amount=line.amount,
                        value=rational_text(line.value),
                        fraction=rational_text(line.fraction),
                        parts=parts_text(line),
                    )
                if plan.revalued:
                    await _retotal(int(op_state.key))
                credits = [s.line for s in op_state.lines if s.line.is_credit]
                for item in plan.given_back:
                    billing = await InvoiceLine.get(schedule_line_id=int(item.key), bills=True)
                    left = left_to_credit(item.line, credits, state.currency)
                    if left is not None:
                        lines.append(_giving_back(billing, item.line, left))
    return lines


async def _retotal(op_id: int) -> None:
    amounts = await ScheduleLine.filter(order_product_id=op_id, removed=False).values_list(
        "amount", flat=True
    )
    await OrderProduct.filter(id=op_id).update(
        total_amount=sum((Decimal(a) for a in amounts), Decimal(0))
    )


def _negated(fraction: str) -> str:
    return fraction[1:] if fraction.startswith("-") else f"-{fraction}"


def _mirror(line: InvoiceLine) -> InvoiceLine:
    """The credit-note line that reverses ``line`` whole."""
    return InvoiceLine(
        schedule_line_id=line.schedule_line_id,
        order_product_id=line.order_product_id,
        product_id=line.product_id,
        description=line.description,
        period_start=line.period_start,
        period_end=line.period_end,
        quantity=line.quantity,
        fraction=_negated(line.fraction),
        amount=-line.amount,
        bills=False,
    )


async def _left_to_give_back(lines: Sequence[InvoiceLine], currency: str) -> list[InvoiceLine]:
    """Credit-note lines for a credit without rebill: each line that charged the customer
    is given back for its days not given back yet (by a termination's credit line),
    for what the invoice still charges for them. Lines that were credits already
    (a termination's credit, a reduction) stay as they are."""
    charged = [line for line in lines if line.amount > 0]
    if not charged:
        return []
    rows = {
        row.id: row
        for row in await ScheduleLine.filter(id__in=[line.schedule_line_id for line in charged])
    }
    credits: dict[int, list[Line]] = {}
    for row in await ScheduleLine.filter(
        order_product_id__in={line.order_product_id for line in charged},
        is_credit=True,
        removed=False,
    ).order_by("period_start", "id"):
        credits.setdefault(row.order_product_id, []).append(line_of(row))
    result = []
    for line in charged:
        billed = line_of(rows[line.schedule_line_id])
        left = left_to_credit(billed, credits.get(line.order_product_id, []), currency)
        if left is None:
            continue
        result.append(_giving_back(line, billed, left))
    return result

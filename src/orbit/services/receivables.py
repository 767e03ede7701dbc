"""Payments, credit applications, balances and the receivables aging."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import (
    Account,
    Application,
    DocumentType,
    Invoice,
    InvoiceStatus,
    Payment,
)
from orbit.db.models.billing import OPEN
from orbit.services import validation as check
from orbit.services.access import Actor, Permission
from orbit.services.accounts import get_account
from orbit.services.audit import record
from orbit.services.errors import Code, DomainError
from orbit.services.holds import evaluate_overdue_rule


async def record_payment(
    actor: Actor, account_id: int, amount: Decimal, received_on: date, reference: str
) -> Payment:
    actor.require(Permission.PAYMENTS)
    reference = check.text(reference, "reference", 200)
    async with in_transaction():
        account = await get_account(actor, account_id, lock=True)
        value = check.money(amount, account.currency, "amount")
        if value <= 0:
            raise DomainError(Code.INVALID, "a payment must be positive", ("amount",))
        payment = await Payment.create(
            account_id=account.id,
            amount=value,
            currency=account.currency,
            received_on=received_on,
            reference=reference,
            unapplied=value,
        )
        await apply_credits(account)
        await evaluate_overdue_rule(account)
        await record(actor, "payment.record", payment, {"amount": value, "reference": reference})
    await payment.refresh_from_db()
    return payment


async def apply_credit_note_to(note: Invoice, invoice: Invoice) -> None:
    """Apply a credit note to the invoice it reverses, as far as that invoice is open."""
    amount = min(-note.open_balance, invoice.open_balance)
    if amount <= 0:
        return
    await Application.create(
        account_id=invoice.account_id,
        invoice_id=invoice.id,
        credit_note_id=note.id,
        amount=amount,
        applied_on=max(note.posted_on or note.invoice_date, invoice.posted_on or note.invoice_date),
    )
    invoice.open_balance -= amount
    note.open_balance += amount
    await _save_balance(invoice)
    await _save_balance(note)


async def _save_balance(document: Invoice) -> None:
    from orbit.services.invoices import payment_status

    document.payment_status = payment_status(document)
    await document.save(update_fields=["open_balance", "payment_status"])


async def apply_credits(account: Account) -> int:
    """Apply open credits (payments, posted credit notes), oldest first, to open posted
    invoices by due date, posted date and number. Returns the applications made."""
    invoices = await Invoice.filter(
        account_id=account.id,
        document_type=DocumentType.INVOICE,
        status=InvoiceStatus.POSTED,
        payment_status__in=OPEN,
    )
    invoices = sorted(invoices, key=_invoice_order)
    if not invoices:
        return 0
    payments = await Payment.filter(account_id=account.id, fully_applied=False)
    notes = await Invoice.filter(
        account_id=account.id,
        document_type=DocumentType.CREDIT_NOTE,
        status=InvoiceStatus.POSTED,
        payment_status__in=OPEN,
    )
    credits: list[Payment | Invoice] = [*payments, *notes]
    credits.sort(key=_credit_order)
    made = 0
    position = 0
    for credit in credits:
        while position < len(invoices) and _remaining(credit) > 0:
            invoice = invoices[position]
            amount = min(_remaining(credit), invoice.open_balance)
            applied_on = max(_credit_date(credit), invoice.posted_on or _credit_date(credit))
            await Application.create(
                account_id=account.id,
                invoice_id=invoice.id,
                payment_id=credit.id if isinstance(credit, Payment) else None,
                credit_note_id=credit.id if isinstance(credit, Invoice) else None,
                amount=amount,
                applied_on=applied_on,
            )
            made += 1
            invoice.open_balance -= amount
            await _save_balance(invoice)
            if isinstance(credit, Payment):
                credit.unapplied -= amount
                credit.fully_applied = credit.unapplied == 0
                await credit.save(update_fields=["unapplied", "fully_applied"])
            else:
                credit.open_balance += amount
                await _save_balance(credit)
            if invoice.open_balance == 0:
                position += 1
    return made


def _invoice_order(invoice: Invoice) -> tuple[date, date, int]:
    """Due date, then posted date, then number (INV-000123 -> 123)."""
    assert invoice.posted_on is not None and invoice.number is not None
    return (invoice.due_date, invoice.posted_on, int(invoice.number.rsplit("-", 1)[1]))


def _remaining(credit: Payment | Invoice) -> Decimal:
    return credit.unapplied if isinstance(credit, Payment) else -credit.open_balance


def _credit_date(credit: Payment | Invoice) -> date:
    if isinstance(credit, Payment):
        return credit.received_on
    assert credit.posted_on is not None
    return credit.posted_on


def _credit_order(credit: Payment | Invoice) -> tuple[date, object, int]:
    return (_credit_date(credit), credit.created_at, credit.id)


async def balance(account: Account) -> Decimal:
    """Posted documents less payments: what the customer owes (negative: credit)."""
    totals = await Invoice.filter(account_id=account.id, status=InvoiceStatus.POSTED).values_list(
        "total", flat=True
    )
    paid = await Payment.filter(account_id=account.id).values_list("amount", flat=True)
    return sum(totals, Decimal(0)) - sum(paid, Decimal(0))


BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("CURRENT", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91+", 91, None),
)


@dataclass
class AccountAging:
    account: Account
    buckets: dict[str, Decimal]
    unapplied_credit: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), Decimal(0)) + self.unapplied_credit


def bucket_of(days_past_due: int) -> str:
    for label, low, high in BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return label
    raise AssertionError(days_past_due)


async def aging(
    actor: Actor, as_of: date | None = None, owner_id: int | None = None
) -> tuple[date, list[AccountAging]]:
    """Receivables as they stood on ``as_of``: documents posted and applications dated
    on or before it, by days past due. Without ``as_of`` each account is aged as of its
    own today (its time zone), and the report's date is today in UTC."""
    report_date = as_of or clock.today()
    accounts = Account.all().order_by("id")
    scope = actor.owner_scope
    if scope is not None:
        if owner_id is not None and owner_id != scope:
            return report_date, []
        accounts = accounts.filter(owner_id=scope)
    elif owner_id is not None:
        accounts = accounts.filter(owner_id=owner_id)
    rows = await accounts
    if not rows:
        return report_date, []
    ids = [a.id for a in rows]
    day = {a.id: as_of or clock.today(a.timezone) for a in rows}
    latest = max(day.values())
    documents = await Invoice.filter(
        account_id__in=ids, status=InvoiceStatus.POSTED, posted_on__lte=latest
    )
    applications = await Application.filter(account_id__in=ids, applied_on__lte=latest)
    payments = await Payment.filter(account_id__in=ids, received_on__lte=latest)
    applied_to: dict[int, Decimal] = defaultdict(Decimal)
    applied_from_note: dict[int, Decimal] = defaultdict(Decimal)
    applied_from_payment: dict[int, Decimal] = defaultdict(Decimal)
    for app in applications:
        if app.applied_on > day[app.account_id]:
            continue
        applied_to[app.invoice_id] += app.amount
        if app.credit_note_id is not None:
            applied_from_note[app.credit_note_id] += app.amount
        if app.payment_id is not None:
            applied_from_payment[app.payment_id] += app.amount
    result: dict[int, AccountAging] = {
        a.id: AccountAging(a, {label: Decimal(0) for label, _, _ in BUCKETS}, Decimal(0))
        for a in rows
    }
    for doc in documents:
        on = day[doc.account_id]
        assert doc.posted_on is not None
        if doc.posted_on > on:
            continue
        entry = result[doc.account_id]
        if doc.document_type is DocumentType.INVOICE:
            open_amount = doc.total - applied_to[doc.id]
            if open_amount > 0:
                entry.buckets[bucket_of((on - doc.due_date).days)] += open_amount
        else:
            entry.unapplied_credit += doc.total + applied_from_note[doc.id]
    for payment in payments:
        if payment.received_on > day[payment.account_id]:
            continue
        entry = result[payment.account_id]
        entry.unapplied_credit -= payment.amount - applied_from_payment[payment.id]
    return report_date, list(result.values())

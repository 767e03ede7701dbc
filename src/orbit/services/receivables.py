"""Payments, credit applications, balances and the receivables aging."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.expressions import Subquery
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


BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("CURRENT", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91+", 91, None),
)


@dataclass
class AccountAging:
    """An account's receivables at the end of one day."""

    account: Account
    on: date
    buckets: dict[str, Decimal]
    unapplied_credit: Decimal

    @property
    def total(self) -> Decimal:
        """What the customer owes (negative: credit): the buckets and the unapplied credit."""
        return sum(self.buckets.values(), Decimal(0)) + self.unapplied_credit


@dataclass
class CurrencyAging:
    """The accounts of one currency added up: each figure is the sum of theirs."""

    currency: str
    accounts: int
    buckets: dict[str, Decimal]
    unapplied_credit: Decimal
    total: Decimal


def bucket_of(days_past_due: int) -> str:
    for label, low, high in BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return label
    raise AssertionError(days_past_due)


def _empty_buckets() -> dict[str, Decimal]:
    return {label: Decimal(0) for label, _, _ in BUCKETS}


async def receivables(
    accounts: Sequence[Account],
    as_of: date | None = None,
    *,
    where: Mapping[str, Any] | None = None,
) -> list[AccountAging]:
    """Each account's receivables as they stood at the end of ``as_of`` or, without it,
    of the account's own today (its time zone): what is dated on or before that day
    counts (documents by ``postedOn``, payments by ``receivedOn``, applications by their
    date), what is dated after it does not, yet.

    This is the one computation of balances and aging: ``balances`` is its ``total``
    and the aging report shows it. Three statements for any number of accounts; the
    rows are those of ``accounts``, read by id, or by ``where`` (a filter on
    ``account_id``, ``{}`` for every account) when the caller has the query they came from.
    """
    if not accounts:
        return []
    day = {a.id: as_of or clock.today(a.timezone) for a in accounts}
    latest = max(day.values())
    scope: dict[str, Any] = {"account_id__in": list(day)} if where is None else dict(where)
    documents = await Invoice.filter(
        **scope, status=InvoiceStatus.POSTED, posted_on__lte=latest
    ).values_list("id", "account_id", "document_type", "total", "due_date", "posted_on")
    applications = await Application.filter(**scope, applied_on__lte=latest).values_list(
        "account_id", "invoice_id", "amount", "applied_on"
    )
    payments = await Payment.filter(**scope, received_on__lte=latest).values_list(
        "account_id", "amount", "received_on"
    )
    result = {a.id: AccountAging(a, day[a.id], _empty_buckets(), Decimal(0)) for a in accounts}
    applied_to: dict[int, Decimal] = defaultdict(Decimal)
    for account_id, invoice_id, amount, applied_on in applications:
        entry = result.get(account_id)
        if entry is None or applied_on > entry.on:
            continue
        applied_to[invoice_id] += amount
        # every application has one source, a payment or a credit note (a guard of the
        # database), dated on or before it: what it applied is no longer unapplied credit
        entry.unapplied_credit += amount
    for doc_id, account_id, kind, total, due_date, posted_on in documents:
        entry = result.get(account_id)
        if entry is None or posted_on > entry.on:
            continue
        if DocumentType(kind) is DocumentType.INVOICE:
            open_amount = total - applied_to[doc_id]
            if open_amount:
                entry.buckets[bucket_of((entry.on - due_date).days)] += open_amount
        else:
            entry.unapplied_credit += total
    for account_id, amount, received_on in payments:
        entry = result.get(account_id)
        if entry is None or received_on > entry.on:
            continue
        entry.unapplied_credit -= amount
    return [result[a.id] for a in accounts]


async def balances(accounts: Sequence[Account]) -> dict[int, Decimal]:
    """What each account owes at the end of its today (negative: the customer has
    credit): its receivables' total, so always the total ``receivablesAging`` shows for
    it as of that day. Posted documents and payments dated after today count from
    their date on."""
    return {row.account.id: row.total for row in await receivables(accounts)}


async def balance(account: Account) -> Decimal:
    """``balances`` of one account."""
    return (await balances([account]))[account.id]


def by_currency(rows: Sequence[AccountAging]) -> list[CurrencyAging]:
    """Per-currency sums of the rows, the currency with the most accounts first (then
    by code)."""
    totals: dict[str, CurrencyAging] = {}
    for row in rows:
        currency = row.account.currency
        entry = totals.get(currency)
        if entry is None:
            entry = totals[currency] = CurrencyAging(
                currency, 0, _empty_buckets(), Decimal(0), Decimal(0)
            )
        entry.accounts += 1
        for label, amount in row.buckets.items():
            entry.buckets[label] += amount
        entry.unapplied_credit += row.unapplied_credit
        entry.total += row.total
    return sorted(totals.values(), key=lambda c: (-c.accounts, c.currency))


async def aging(
    actor: Actor, as_of: date | None = None, owner_id: int | None = None
) -> tuple[date, list[AccountAging]]:
    """Receivables as they stood on ``as_of``, by days past due (``receivables``).
    Without ``as_of`` each account is aged as of its own today (its time zone), and
    the report's date is today in UTC."""
    report_date = as_of or clock.today()
    scope = actor.owner_scope
    if scope is not None:
        if owner_id is not None and owner_id != scope:
            return report_date, []
        owner_id = scope
    if owner_id is None:
        rows = await Account.all().order_by("id")
        return report_date, await receivables(rows, as_of, where={})
    owned = Account.filter(owner_id=owner_id)
    rows = await owned.order_by("id")
    among = Subquery(owned.values("id"))
    return report_date, await receivables(rows, as_of, where={"account_id__in": among})

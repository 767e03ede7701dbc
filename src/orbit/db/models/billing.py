"""Invoice runs, documents (invoices and credit notes), payments and applications."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from orbit.db.models._fields import amount as money
from orbit.db.models._fields import rational
from orbit.db.models.accounts import Account
from orbit.engine.enums import DocumentType


class InvoiceStatus(str, Enum):
    DRAFT = "DRAFT"
    POSTED = "POSTED"
    CANCELLED = "CANCELLED"


class PaymentStatus(str, Enum):
    UNPAID = "UNPAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"


OPEN = (PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID)


class InvoiceRunStatus(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"


class RunAccountStatus(str, Enum):
    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"


class InvoiceRun(Model):
    id = fields.IntField(primary_key=True)
    status = fields.CharEnumField(InvoiceRunStatus, max_length=24)
    target_date = fields.DateField()
    invoice_date = fields.DateField()
    auto_post = fields.BooleanField(default=False)
    #: JSON list of account ids, or null for every account
    account_scope = fields.TextField(null=True)
    accounts_total = fields.IntField(default=0)
    accounts_processed = fields.IntField(default=0)
    invoices_created = fields.IntField(default=0)
    lines_created = fields.IntField(default=0)
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    #: restarts by the sweeper in a row without progress (migration 0003)
    restarts = fields.IntField(default=0)
    restarted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "invoice_runs"
        indexes = (Index(fields=("status", "id"), name="invoice_runs_status"),)


class InvoiceRunAccount(Model):
    """One account's share of a run: the unit of work that is done exactly once."""

    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[InvoiceRun] = fields.ForeignKeyField(
        "models.InvoiceRun", related_name="accounts", on_delete=fields.CASCADE
    )
    account_id = fields.IntField()
    chunk = fields.IntField(default=0)
    status = fields.CharEnumField(RunAccountStatus, max_length=16, default=RunAccountStatus.PENDING)
    invoice_id = fields.BigIntField(null=True)
    lines = fields.IntField(default=0)
    error: str | None = fields.TextField(null=True)
    processed_at = fields.DatetimeField(null=True)

    run_id: int

    class Meta:
        table = "invoice_run_accounts"
        unique_together = (("run_id", "account_id"),)
        indexes = (Index(fields=("run_id", "chunk", "status"), name="invoice_run_accounts_chunk"),)


class Invoice(Model):
    """An invoice or a credit note."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="invoices", on_delete=fields.RESTRICT
    )
    invoice_run: fields.ForeignKeyNullableRelation[InvoiceRun] = fields.ForeignKeyField(
        "models.InvoiceRun", related_name="invoices", null=True, on_delete=fields.RESTRICT
    )
    document_type = fields.CharEnumField(DocumentType, max_length=16)
    status = fields.CharEnumField(InvoiceStatus, max_length=16)
    number = fields.CharField(max_length=32, null=True, unique=True)
    currency = fields.CharField(max_length=3)
    invoice_date = fields.DateField()
    due_date = fields.DateField()
    posted_on = fields.DateField(null=True)
    total = money()
    #: what is still open: on an invoice, total less credits applied (>= 0); on a
    #: credit note, the part not yet applied (<= 0)
    open_balance = money(default=0)
    #: null for drafts and cancelled documents; kept with open_balance (SQLite stores
    #: decimals as text, so the database filters on this, never on amounts)
    payment_status = fields.CharEnumField(PaymentStatus, max_length=16, null=True)
    reverses: fields.ForeignKeyNullableRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice",
        related_name="reversals",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    #: on a credit note that reverses an invoice: whether its lines were billed again
    rebill = fields.BooleanField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int
    invoice_run_id: int | None
    reverses_id: int | None

    class Meta:
        table = "invoices"
        unique_together = (("invoice_run_id", "account_id"),)
        indexes = (
            Index(fields=("account_id", "status", "id"), name="invoices_account"),
            Index(fields=("account_id", "payment_status", "due_date"), name="invoices_open"),
            Index(fields=("invoice_run_id", "status"), name="invoices_run"),
        )


class InvoiceLine(Model):
    id = fields.BigIntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="lines", on_delete=fields.RESTRICT, db_index=True
    )
    schedule_line_id = fields.BigIntField()
    order_product_id = fields.IntField()
    product_id = fields.IntField()
    description = fields.CharField(max_length=300)
    period_start = fields.DateField()
    period_end = fields.DateField()
    quantity = fields.IntField()
    fraction = rational()
    amount = money()
    #: true while this line's document bills the schedule line; at most one such
    #: line per schedule line (a partial unique index)
    bills = fields.BooleanField()

    invoice_id: int

    class Meta:
        table = "invoice_lines"
        indexes = (Index(fields=("schedule_line_id",), name="invoice_lines_schedule_line"),)


class DocumentSequence(Model):
    """The last number given to each document type: posting takes the next one."""

    document_type = fields.CharField(max_length=16, primary_key=True)
    last_number = fields.IntField(default=0)

    class Meta:
        table = "document_sequences"


class Payment(Model):
    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="payments", on_delete=fields.RESTRICT, db_index=True
    )
    amount = money()
    currency = fields.CharField(max_length=3)
    received_on = fields.DateField()
    reference = fields.CharField(max_length=200)
    unapplied = money()
    fully_applied = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int

    class Meta:
        table = "payments"


class Application(Model):
    """Part of a payment or a posted credit note applied to an invoice."""

    id = fields.BigIntField(primary_key=True)
    account_id = fields.IntField(db_index=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="applications", on_delete=fields.RESTRICT, db_index=True
    )
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment",
        related_name="applications",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    credit_note: fields.ForeignKeyNullableRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice",
        related_name="credit_applications",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    amount = money()
    applied_on = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    invoice_id: int
    payment_id: int | None
    credit_note_id: int | None

    class Meta:
        table = "applications"

"""The invariants the database itself holds (m0002_guards), on the real database:
every CHECK refuses a row that breaks it, the partial unique indexes refuse a second
row, and the catalog names them all."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from orbit.db.connection import db, dialect
from orbit.db.migrations.m0002_guards import CHECKS, PARTIAL_UNIQUE
from orbit.db.models import (
    BillingHold,
    Contract,
    DocumentType,
    HoldScope,
    HoldSource,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    ScheduleLine,
)
from orbit.engine.enums import ContractStatus
from orbit.services.contracts import renew_contract
from orbit.services.holds import update_hold_rules
from orbit.services.invoices import credit_invoice, post_invoice
from orbit.services.receivables import record_payment
from orbit.services.runs import RunRequest, start_run
from tests.services import factory
from tests.services.factory import SYSTEM


class Rows:
    """One row (at least) in every guarded table, made by the services."""

    async def build(self) -> Rows:
        factory.pin_today(date(2026, 3, 1))
        self.account = await factory.account(billing_day_of_month=1)
        self.product = await factory.product("30.00")
        self.contract, self.order = await factory.contract(
            self.account, self.product, date(2026, 3, 1)
        )
        (self.op,) = await factory.order_products(self.order)
        posted = await factory.bill(self.account, date(2026, 3, 1))
        assert posted is not None
        self.posted = await post_invoice(SYSTEM, posted.id)
        self.payment = await record_payment(
            SYSTEM, self.account.id, Decimal(5), date(2026, 3, 2), "wire"
        )
        self.draft = await factory.bill(self.account, date(2026, 4, 1))
        assert self.draft is not None and self.draft.total == Decimal("30.00")
        self.run = await start_run(SYSTEM, RunRequest(date(2026, 4, 1)))
        await update_hold_rules(SYSTEM, 10)
        return self

    def sql(self, template: str) -> str:
        return template.format(
            account=self.account.id,
            product=self.product.id,
            contract=self.contract.id,
            op=self.op.id,
            posted=self.posted.id,
            draft=self.draft.id,
            payment=self.payment.id,
            run=self.run.id,
        )


@pytest.fixture
async def rows() -> Rows:
    return await Rows().build()


# check -> UPDATEs that break that check (and no other)
VIOLATIONS: dict[str, list[str]] = {
    "accounts_billing_day": [
        "UPDATE accounts SET billing_day_of_month = 0 WHERE id = {account}",
        "UPDATE accounts SET billing_day_of_month = 32 WHERE id = {account}",
    ],
    "accounts_payment_terms": ["UPDATE accounts SET payment_term_days = -1 WHERE id = {account}"],
    "contracts_billing_day": [
        "UPDATE contracts SET billing_day_of_month = 32 WHERE id = {contract}"
    ],
    "contracts_dates": ["UPDATE contracts SET end_date = '2026-02-28' WHERE id = {contract}"],
    "contracts_notice_days": [
        "UPDATE contracts SET renewal_notice_days = -1 WHERE id = {contract}"
    ],
    "contract_lines_price": [
        "UPDATE contract_lines SET unit_price = -1 WHERE contract_id = {contract}"
    ],
    "order_products_billing_day": [
        "UPDATE order_products SET billing_day_of_month = 0 WHERE id = {op}"
    ],
    "order_products_quantity": ["UPDATE order_products SET quantity = 0 WHERE id = {op}"],
    "order_products_price": ["UPDATE order_products SET unit_price = -0.01 WHERE id = {op}"],
    "order_products_term": ["UPDATE order_products SET pricing_term_months = 0 WHERE id = {op}"],
    "products_price": ["UPDATE products SET list_price = -1 WHERE id = {product}"],
    "products_term": ["UPDATE products SET pricing_term_months = 0 WHERE id = {product}"],
    "schedule_lines_period": [
        "UPDATE schedule_lines SET period_end = '2026-02-01' WHERE order_product_id = {op}"
    ],
    # a credit note of zero: its open balance (0) is fine, its sign is not
    "invoices_sign": [
        "UPDATE invoices SET document_type = 'CREDIT_NOTE', total = 0 WHERE id = {draft}"
    ],
    "invoices_open_balance": [
        "UPDATE invoices SET open_balance = 31 WHERE id = {posted}",
        "UPDATE invoices SET open_balance = -1 WHERE id = {posted}",
    ],
    "invoices_posted_numbered": ["UPDATE invoices SET status = 'POSTED' WHERE id = {draft}"],
    "payments_positive": ["UPDATE payments SET amount = 0, unapplied = 0 WHERE id = {payment}"],
    "payments_unapplied": [
        "UPDATE payments SET unapplied = 6 WHERE id = {payment}",
        "UPDATE payments SET unapplied = -1 WHERE id = {payment}",
    ],
    "applications_positive": ["UPDATE applications SET amount = 0 WHERE payment_id = {payment}"],
    "applications_one_source": [
        "UPDATE applications SET credit_note_id = {draft} WHERE payment_id = {payment}",
        "UPDATE applications SET payment_id = NULL WHERE payment_id = {payment}",
    ],
    "document_sequences_positive": ["UPDATE document_sequences SET last_number = -1"],
    "hold_rules_days": ["UPDATE hold_rules SET overdue_days = -1"],
    "invoice_runs_counters": [
        "UPDATE invoice_runs SET accounts_processed = accounts_total + 1 WHERE id = {run}",
        "UPDATE invoice_runs SET lines_created = -1 WHERE id = {run}",
    ],
}


def test_every_check_has_a_violation_case() -> None:
    assert set(VIOLATIONS) == {name for _, name, _ in CHECKS}


VIOLATION_CASES = [
    pytest.param(name, statement, id=f"{name}-{index}")
    for name, statements in VIOLATIONS.items()
    for index, statement in enumerate(statements)
]


async def _execute(statement: str) -> None:
    async with in_transaction() as conn:
        await conn.execute_script(statement)


@pytest.mark.parametrize(("check", "statement"), VIOLATION_CASES)
async def test_a_check_refuses_a_row_that_breaks_it(rows: Rows, check: str, statement: str) -> None:
    before = await factory.snapshot()
    with pytest.raises(IntegrityError) as caught:
        await _execute(rows.sql(statement))
    assert check in str(caught.value)
    assert await factory.snapshot() == before


async def test_a_check_refuses_an_insert_too(rows: Rows) -> None:
    with pytest.raises(IntegrityError, match="payments_positive"):
        await Payment.create(
            account_id=rows.account.id,
            amount=Decimal(0),
            currency="USD",
            received_on=date(2026, 3, 1),
            reference="x",
            unapplied=Decimal(0),
        )
    with pytest.raises(IntegrityError, match="invoices_sign"):
        await Invoice.create(
            account_id=rows.account.id,
            document_type=DocumentType.CREDIT_NOTE,
            status=InvoiceStatus.DRAFT,
            currency="USD",
            invoice_date=date(2026, 3, 1),
            due_date=date(2026, 3, 1),
            total=Decimal(0),
            open_balance=Decimal(0),
        )


async def _bill_again(rows: Rows, bills: bool) -> InvoiceLine:
    line = await InvoiceLine.filter(invoice_id=rows.draft.id).first()
    assert line is not None
    return await InvoiceLine.create(
        invoice_id=rows.posted.id,
        schedule_line_id=line.schedule_line_id,
        order_product_id=line.order_product_id,
        product_id=line.product_id,
        description="again",
        period_start=line.period_start,
        period_end=line.period_end,
        quantity=1,
        fraction="1/1",
        amount=line.amount,
        bills=bills,
    )


async def test_a_schedule_line_is_billed_by_one_document_at_a_time(rows: Rows) -> None:
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await _bill_again(rows, bills=True)
    # a line that bills nothing (a credit note's mirror) may name it
    await _bill_again(rows, bills=False)
    # once the draft is cancelled, another document may bill it
    await InvoiceLine.filter(invoice_id=rows.draft.id).update(bills=False)
    await _bill_again(rows, bills=True)
    line_ids = await ScheduleLine.filter(order_product_id=rows.op.id).values_list("id", flat=True)
    assert await InvoiceLine.filter(schedule_line_id__in=line_ids, bills=True).count() == 2


async def test_a_credit_note_mirrors_lines_without_billing_them(rows: Rows) -> None:
    _, note = await credit_invoice(SYSTEM, rows.posted.id, rebill=False)
    assert await InvoiceLine.filter(invoice_id=note.id, bills=True).count() == 0


async def _hold(rows: Rows, source: HoldSource, released: bool = False) -> BillingHold:
    from orbit import clock

    return await BillingHold.create(
        account_id=rows.account.id,
        scope=HoldScope.ORDER if source is HoldSource.PURCHASE_ORDER_RULE else HoldScope.ACCOUNT,
        source=source,
        reason="rule",
        order_id=rows.order.id,
        released_at=clock.now() if released else None,
    )


@pytest.mark.parametrize("source", [HoldSource.OVERDUE_RULE, HoldSource.PURCHASE_ORDER_RULE])
async def test_one_active_rule_hold_per_account_or_order(rows: Rows, source: HoldSource) -> None:
    await _hold(rows, source, released=True)
    await _hold(rows, source)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await _hold(rows, source)
    await _hold(rows, HoldSource.MANUAL)
    await _hold(rows, HoldSource.MANUAL)
    assert await BillingHold.filter(source=source).count() == 2


async def test_a_contract_is_renewed_once(rows: Rows) -> None:
    renewal, _ = await renew_contract(SYSTEM, rows.contract.id)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await Contract.create(
                account_id=rows.account.id,
                status=ContractStatus.DRAFT,
                start_date=renewal.start_date,
                end_date=renewal.end_date,
                billing_day_of_month=1,
                series_anchor=renewal.series_anchor,
                renewal_of_id=rows.contract.id,
            )
    assert await Contract.filter(renewal_of_id=rows.contract.id).count() == 1


async def test_the_catalog_holds_every_guard_by_name() -> None:
    conn = db()
    if dialect() == "postgres":
        checks = await conn.execute_query_dict(
            "SELECT conname, conrelid::regclass::text AS tbl FROM pg_constraint WHERE contype = 'c'"
        )
        found_checks = {(r["tbl"], r["conname"]) for r in checks}
        indexes = await conn.execute_query_dict(
            "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        )
    else:
        triggers = await conn.execute_query_dict(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
        )
        names = {(r["tbl_name"], r["name"]) for r in triggers}
        found_checks = {
            (table, name)
            for table, name, _ in CHECKS
            if {(table, f"{name}_insert"), (table, f"{name}_update")} <= names
        }
        indexes = await conn.execute_query_dict(
            "SELECT name AS indexname, tbl_name AS tablename, sql AS indexdef "
            "FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    assert {(table, name) for table, name, _ in CHECKS} <= found_checks
    by_name = {r["indexname"]: r for r in indexes}
    for name, table, columns, _ in PARTIAL_UNIQUE:
        assert name in by_name, f"missing index {name}"
        index = by_name[name]
        assert index["tablename"] == table
        definition = index["indexdef"].upper()
        assert "UNIQUE" in definition and " WHERE " in definition and columns.upper() in definition

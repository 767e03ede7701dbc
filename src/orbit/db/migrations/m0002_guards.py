"""Invariants held by the database itself.

PostgreSQL gets CHECK constraints and partial unique indexes. SQLite cannot
add a CHECK to an existing table, so each check becomes a pair of triggers
that abort a violating INSERT or UPDATE; its partial unique indexes are the
same as PostgreSQL's.
"""

from __future__ import annotations

#: (table, name, condition every row must satisfy)
CHECKS: tuple[tuple[str, str, str], ...] = (
    (
        "accounts",
        "accounts_billing_day",
        "billing_day_of_month IS NULL OR billing_day_of_month BETWEEN 1 AND 31",
    ),
    ("accounts", "accounts_payment_terms", "payment_term_days >= 0"),
    ("contracts", "contracts_billing_day", "billing_day_of_month BETWEEN 1 AND 31"),
    (
        "contracts",
        "contracts_dates",
        "end_date IS NULL OR status = 'CANCELLED' OR end_date >= start_date",
    ),
    ("contracts", "contracts_notice_days", "renewal_notice_days >= 0"),
    ("contract_lines", "contract_lines_price", "unit_price >= 0"),
    ("order_products", "order_products_billing_day", "billing_day_of_month BETWEEN 1 AND 31"),
    ("order_products", "order_products_quantity", "quantity <> 0"),
    ("order_products", "order_products_price", "unit_price >= 0"),
    ("order_products", "order_products_term", "pricing_term_months >= 1"),
    ("products", "products_price", "list_price >= 0"),
    ("products", "products_term", "pricing_term_months >= 1"),
    ("schedule_lines", "schedule_lines_period", "period_end >= period_start"),
    (
        "invoices",
        "invoices_sign",
        "(document_type = 'INVOICE' AND total >= 0)"
        " OR (document_type = 'CREDIT_NOTE' AND total < 0)",
    ),
    (
        "invoices",
        "invoices_open_balance",
        "(document_type = 'INVOICE' AND open_balance >= 0 AND open_balance <= total)"
        " OR (document_type = 'CREDIT_NOTE' AND open_balance <= 0 AND open_balance >= total)",
    ),
    (
        "invoices",
        "invoices_posted_numbered",
        "status <> 'POSTED' OR (number IS NOT NULL AND posted_on IS NOT NULL)",
    ),
    ("payments", "payments_positive", "amount > 0"),
    ("payments", "payments_unapplied", "unapplied >= 0 AND unapplied <= amount"),
    ("applications", "applications_positive", "amount > 0"),
    (
        "applications",
        "applications_one_source",
        "(payment_id IS NULL AND credit_note_id IS NOT NULL)"
        " OR (payment_id IS NOT NULL AND credit_note_id IS NULL)",
    ),
    ("document_sequences", "document_sequences_positive", "last_number >= 0"),
    ("hold_rules", "hold_rules_days", "overdue_days IS NULL OR overdue_days >= 0"),
    (
        "invoice_runs",
        "invoice_runs_counters",
        "accounts_processed >= 0 AND accounts_processed <= accounts_total"
        " AND invoices_created >= 0 AND lines_created >= 0",
    ),
)

#: (name, table, columns, condition): unique among the rows matching the condition
PARTIAL_UNIQUE: tuple[tuple[str, str, str, str], ...] = (
    # a schedule line is billed by at most one document at a time
    ("invoice_lines_bill_once", "invoice_lines", "schedule_line_id", "bills"),
    # one active overdue-rule hold per account, one purchase-order hold per order
    (
        "billing_holds_overdue_once",
        "billing_holds",
        "account_id",
        "source = 'OVERDUE_RULE' AND released_at IS NULL",
    ),
    (
        "billing_holds_po_once",
        "billing_holds",
        "order_id",
        "source = 'PURCHASE_ORDER_RULE' AND released_at IS NULL",
    ),
    # a contract is renewed at most once
    ("contracts_renewed_once", "contracts", "renewal_of_id", "renewal_of_id IS NOT NULL"),
)

DECIMAL_COLUMNS = frozenset(
    {"total", "open_balance", "amount", "unapplied", "unit_price", "list_price"}
)

SEED = (
    "INSERT INTO document_sequences (document_type, last_number) VALUES ('INVOICE', 0)",
    "INSERT INTO document_sequences (document_type, last_number) VALUES ('CREDIT_NOTE', 0)",
)


def statements(dialect: str) -> list[str]:
    sql = []
    for table, name, condition in CHECKS:
        if dialect == "postgres":
            sql.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" CHECK ({condition})')
        else:
            for event in ("INSERT", "UPDATE"):
                sql.append(
                    f'CREATE TRIGGER "{name}_{event.lower()}" BEFORE {event} ON "{table}" '
                    f"WHEN NOT ({_new(condition)}) "
                    f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
                )
    for name, table, columns, condition in PARTIAL_UNIQUE:
        where = condition if dialect == "postgres" or condition != "bills" else "bills = 1"
        sql.append(f'CREATE UNIQUE INDEX "{name}" ON "{table}" ({columns}) WHERE {where}')
    sql.extend(SEED)
    return sql


def _new(condition: str) -> str:
    """Qualify the column names of a condition with NEW. for a SQLite trigger."""
    import re

    keywords = {
        "IS",
        "NULL",
        "NOT",
        "AND",
        "OR",
        "BETWEEN",
        "IN",
        "TRUE",
        "FALSE",
    }

    def qualify(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.upper() in keywords:
            return word
        if word in DECIMAL_COLUMNS:
            # SQLite keeps decimals as text: compare them as numbers
            return f"CAST(NEW.{word} AS REAL)"
        return f"NEW.{word}"

    parts = re.split(r"('[^']*')", condition)
    return "".join(
        part if part.startswith("'") else re.sub(r"\b[a-z_][a-z0-9_]*\b", qualify, part)
        for part in parts
    )

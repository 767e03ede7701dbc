"""Billing a chunk of a run's accounts in one transaction, set-based (PostgreSQL).

The engine drafts the documents from the same inputs, loaded the same way, as
``billing.bill_account``; so are the guarantees: the accounts are locked, only
PENDING shares are billed, holds are judged as of each account's today, and the
shares and counters are written in the same transaction. What changes is how
the drafts are written: a handful of statements per chunk instead of per
account, lines written with COPY. If anything in a chunk fails, the chunk is
rolled back and its accounts are billed one by one, so one bad account is
recorded on the run and the others are billed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import InvoiceRun
from orbit.engine.invoicing import DocumentDraft
from orbit.services.billing import (
    INVOICE_LINE_COLUMNS,
    BillingInputs,
    account_terms,
    clear_controls,
    invoice_line_values,
    load_inputs,
    settle_overdue_rule,
)

log = logging.getLogger("orbit.runs")


@dataclass(frozen=True)
class ChunkBilled:
    accounts: int
    documents: int
    lines: int


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

_LINE_COLUMNS = ("invoice_id", *INVOICE_LINE_COLUMNS)


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

    await settle_overdue_rule(ids, today)
    inputs = await load_inputs(
        {a: account_terms(row) for a, row in accounts.items()},
        today,
        run.target_date,
        store_ahead=True,
    )
    drafts = [d for d in (inputs.draft(a, run.target_date, run.invoice_date) for a in ids) if d]
    invoice_of = await _insert_documents(raw, run, drafts, now)
    records = _line_records(drafts, inputs, invoice_of)
    if records:
        await raw.copy_records_to_table("invoice_lines", records=records, columns=_LINE_COLUMNS)
    await clear_controls(drafts)
    await raw.execute(
        _MARK_DONE,
        run.id,
        now,
        ids,
        [invoice_of.get(a) for a in ids],
        [sum(len(d.lines) for d in drafts if d.account.key == a) for a in ids],
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
        await _post(list(invoice_of.values()), today)
    return ChunkBilled(len(ids), len(invoice_of), len(records))


async def _insert_documents(
    raw: Any, run: InvoiceRun, drafts: list[DocumentDraft], now: Any
) -> dict[int, int]:
    if not drafts:
        return {}
    rows = await raw.fetch(
        _INSERT_INVOICES,
        [d.account.key for d in drafts],
        run.id,
        run.invoice_date,
        now,
        [d.document_type.value for d in drafts],
        [d.account.currency for d in drafts],
        [d.due_date for d in drafts],
        [d.total for d in drafts],
    )
    return {r["account_id"]: r["id"] for r in rows}


def _line_records(
    drafts: list[DocumentDraft], inputs: BillingInputs, invoice_of: dict[int, int]
) -> list[tuple[Any, ...]]:
    records = []
    for draft in drafts:
        invoice = invoice_of[draft.account.key]
        for values in invoice_line_values(draft, inputs):
            records.append((invoice, *values))
    return records


async def _post(invoice_ids: list[int], today: dict[int, date]) -> None:
    from orbit.db.models import Invoice
    from orbit.services.invoices import post_document

    for invoice in await Invoice.filter(id__in=invoice_ids).order_by("id"):
        await post_document(invoice, today[invoice.account_id])

"""What every bench shares: databases, the COPY data builder (checked against the
services), timing, the results table, statement counting, profiling and processes.

Benchmarks run on PostgreSQL only. Each one creates its own database named
``bench_<name>`` (dropped at the end unless ``--keep``), migrated with Orbit's own
migrations so every constraint and index is there, then writes its data set with
COPY. The rows are shaped exactly as ``orbit.services.contracts`` stores them:
schedules come from the pure engine (``build_schedule``), and ``verify_builder``
checks on a small sample that the builder and the services write the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from orbit import clock
from orbit.engine.calendar import add_months, first_on_or_after
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    ContractStatus,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.schedule import OrderProductTerms, build_schedule, schedule_total
from orbit.engine.series import BillingSeries
from orbit.engine.terms import contract_term
from orbit.services.schedules import parts_text, rational_text
from orbit.services.state import horizon

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "docs" / "benchmarks.md"

PG_ADMIN_URL = os.environ.get("ORBIT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
#: the benches use this Redis database only, and flush only it
REDIS_URL = os.environ.get("ORBIT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

#: the token the benches' admin user sends (only its digest is stored)
BENCH_TOKEN = "orb_bench_token_0123456789abcdef"


# --------------------------------------------------------------------------- arguments


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny data set, a few seconds, nothing appended to docs/benchmarks.md",
    )
    p.add_argument(
        "--repeat", type=int, default=None, help="timed repetitions (default 3; smoke 1)"
    )
    p.add_argument("--keep", action="store_true", help="keep the bench_* database afterwards")
    p.add_argument(
        "--profile",
        action="store_true",
        help="also profile the measured code (py-spy) and print its top frames",
    )
    p.add_argument(
        "--no-record", action="store_true", help="do not append a row to docs/benchmarks.md"
    )
    p.add_argument(
        "--extra-sql",
        action="append",
        default=[],
        metavar="SQL",
        help="an experiment: run this statement on the bench database after the "
        "data set is built (e.g. CREATE INDEX ...); named in the results row",
    )
    return p


async def apply_extra_sql(url: str, statements: Sequence[str]) -> str:
    """Run the --extra-sql statements; returns a note for the data set's description."""
    if not statements:
        return ""
    conn = await asyncpg.connect(url)
    try:
        for sql in statements:
            await conn.execute(sql)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return " [EXPERIMENT, extra SQL: " + "; ".join(statements) + "]"


class ActivitySampler:
    """Samples pg_stat_activity of one database while work runs: what its backends
    are doing (executing, waiting on a lock, or idle in a transaction waiting for the
    client), by statement."""

    def __init__(self, url: str, interval: float = 0.2) -> None:
        self.url = url
        self.interval = interval
        self.samples: list[tuple[float, str, str]] = []  # (time, state, statement)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.url)
        started = time.monotonic()
        try:
            while True:
                rows = await conn.fetch(
                    "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend' AND state <> 'idle'"
                )
                now = time.monotonic() - started
                for r in rows:
                    wait = (
                        f" waiting {r['wait_event_type']}:{r['wait_event']}"
                        if r["wait_event_type"] and r["wait_event_type"] != "Client"
                        else ""
                    )
                    self.samples.append(
                        (now, f"{r['state']}{wait}", " ".join((r["query"] or "").split())[:90])
                    )
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def summary(self, top: int = 12) -> str:
        if not self.samples:
            return "    (no samples)"
        end = max(t for t, _, _ in self.samples)
        ticks = max(1, round(end / self.interval))
        lines = [
            f"    {ticks} samples every {self.interval}s; average backends per state "
            f"(first half / second half of the run):"
        ]
        halves = [
            Counter(s for t, s, _ in self.samples if t < end / 2),
            Counter(s for t, s, _ in self.samples if t >= end / 2),
        ]
        for state in sorted(
            set(halves[0]) | set(halves[1]), key=lambda k: -(halves[0][k] + halves[1][k])
        ):
            lines.append(
                f"      {halves[0][state] / (ticks / 2):5.2f} / "
                f"{halves[1][state] / (ticks / 2):5.2f}  {state}"
            )
        lines.append("    most seen (state, last statement sent), share of backend-samples:")
        pairs = Counter((s, q) for _, s, q in self.samples)
        total = sum(pairs.values())
        lines += [
            f"      {100 * n / total:4.1f}%  {s}: {q}" for (s, q), n in pairs.most_common(top)
        ]
        return "\n".join(lines)


def log(message: str = "") -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": str(os.cpu_count() or 0), "cpu": cpu, "python": platform.python_version()}


async def postgres_version() -> str:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def code_under_test() -> str:
    """The commit of the Orbit code imported (and whether src/ or workers/ differ from it)."""
    import orbit

    tree = Path(orbit.__file__).resolve().parents[2]
    marker = tree / ".bench-commit"
    if marker.exists():
        return f"{marker.read_text().strip()} (snapshot in {tree})"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=tree,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "workers"],
            cwd=tree,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(tree)
    return commit + (" + uncommitted changes in src/ or workers/" if dirty else "")


# --------------------------------------------------------------------------- databases


def database_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/bench_{name}"


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "bench_{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def fresh_database(name: str) -> str:
    """An empty database ``bench_<name>``, migrated with Orbit's migrations; returns its
    URL. Tortoise is left closed."""
    from orbit.db.connection import close_db, open_db
    from orbit.db.migrations import migrate

    await drop_database(name)
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "bench_{name}"')
    finally:
        await admin.close()
    url = database_url(name)
    await open_db(url)
    try:
        await migrate()
    finally:
        await close_db()
    return url


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


async def analyze(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# --------------------------------------------------------------------------- data builder

COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "email", "name", "role", "created_at"),
    "api_tokens": ("id", "digest", "created_at", "user_id"),
    "products": (
        "id",
        "sku",
        "name",
        "charge_type",
        "billing_frequency",
        "billing_type",
        "list_price",
        "pricing_term_months",
        "created_at",
    ),
    "accounts": (
        "id",
        "name",
        "currency",
        "billing_day_of_month",
        "payment_term_days",
        "timezone",
        "proration_policy",
        "partial_period_treatment",
        "requires_purchase_order",
        "created_at",
        "owner_id",
    ),
    "contracts": (
        "id",
        "status",
        "start_date",
        "end_date",
        "term_months",
        "anniversary_day",
        "billing_day_of_month",
        "series_anchor",
        "auto_renew",
        "renewal_term_months",
        "renewal_uplift_percent",
        "renewal_notice_days",
        "notice_deadline",
        "owner_id",
        "created_at",
        "account_id",
        "renewal_of_id",
    ),
    "orders": (
        "id",
        "type",
        "status",
        "effective_date",
        "purchase_order_number",
        "align_billing",
        "activated_at",
        "created_at",
        "account_id",
        "contract_id",
    ),
    "contract_lines": (
        "id",
        "charge_type",
        "unit_price",
        "pricing_term_months",
        "billing_frequency",
        "billing_type",
        "start_date",
        "end_date",
        "cancelled",
        "contract_id",
        "product_id",
    ),
    "order_products": (
        "id",
        "account_id",
        "contract_id",
        "product_id",
        "currency",
        "charge_type",
        "quantity",
        "unit_price",
        "pricing_term_months",
        "billing_frequency",
        "billing_type",
        "start_date",
        "end_date",
        "billing_day_of_month",
        "series_anchor",
        "proration_policy",
        "partial_period_treatment",
        "align_billing",
        "next_billing_date_override",
        "override_line_id",
        "bill_through_override",
        "scheduled_through",
        "total_amount",
        "contract_line_id",
        "order_id",
    ),
    "schedule_lines": (
        "id",
        "account_id",
        "period_start",
        "period_end",
        "due_date",
        "amount",
        "value",
        "fraction",
        "parts",
        "is_credit",
        "removed",
        "created_at",
        "order_product_id",
    ),
    "invoices": (
        "id",
        "document_type",
        "status",
        "number",
        "currency",
        "invoice_date",
        "due_date",
        "posted_on",
        "total",
        "open_balance",
        "payment_status",
        "rebill",
        "created_at",
        "account_id",
        "invoice_run_id",
        "reverses_id",
    ),
    "invoice_lines": (
        "id",
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
        "invoice_id",
    ),
}
#: parents before children, so the foreign keys hold row by row
ORDER = (
    "users",
    "api_tokens",
    "products",
    "accounts",
    "contracts",
    "orders",
    "contract_lines",
    "order_products",
    "schedule_lines",
    "invoices",
    "invoice_lines",
)


@dataclass
class ProductRow:
    id: int
    sku: str
    name: str
    charge_type: ChargeType
    billing_frequency: BillingFrequency
    billing_type: BillingType
    list_price: Decimal
    pricing_term_months: int


@dataclass
class AccountRow:
    id: int
    name: str
    currency: str
    billing_day_of_month: int | None
    payment_term_days: int
    timezone: str
    proration_policy: ProrationPolicy
    partial_period_treatment: PartialPeriodTreatment
    requires_purchase_order: bool
    owner_id: int | None


@dataclass(frozen=True)
class Line:
    """One line of a contract to build (as ``services.contracts.LineInput``)."""

    product_id: int
    quantity: int
    unit_price: Decimal | None = None
    billing_frequency: BillingFrequency | None = None
    billing_type: BillingType | None = None


@dataclass(frozen=True)
class BuiltScheduleLine:
    id: int
    period_start: date
    period_end: date
    due_date: date
    amount: Decimal
    fraction: str
    is_credit: bool


@dataclass
class BuiltOrderProduct:
    id: int
    contract_id: int
    product_id: int
    quantity: int
    lines: list[BuiltScheduleLine] = field(default_factory=list)


@dataclass
class BuiltContract:
    id: int
    order_id: int
    account_id: int
    start_date: date
    end_date: date | None
    order_products: list[BuiltOrderProduct]


#: (start, end, due, amount, value, fraction, parts, is_credit) of one schedule line
_CachedLine = tuple[date, date, date, Decimal, str, str, str | None, bool]


class Builder:
    """Rows for the tables, written with COPY. Mirrors ``create_account``,
    ``create_product``, ``create_user``, ``create_contract`` (with ``_activate``),
    ``bill_account`` and ``post_document``; ids are assigned here in creation order."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or clock.now()
        self.last_id: Counter[str] = Counter()
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in ORDER}
        self.written: Counter[str] = Counter()
        self.accounts: dict[int, AccountRow] = {}
        self.products: dict[int, ProductRow] = {}
        self._account_rows: dict[int, int] = {}  # account id -> index in rows["accounts"]
        self._late_updates: list[tuple[int, int]] = []  # (account id, billing day)
        self._schedules: dict[tuple[OrderProductTerms, date | None], list[_CachedLine]] = {}
        self.last_invoice_number = 0

    def _next(self, table: str) -> int:
        self.last_id[table] += 1
        return self.last_id[table]

    # -- catalog and people

    def user(self, email: str, name: str, role: str, token: str | None = None) -> int:
        uid = self._next("users")
        self.rows["users"].append((uid, email, name, role, self.now))
        if token is not None:
            digest = hashlib.sha256(token.encode()).hexdigest()
            self.rows["api_tokens"].append((self._next("api_tokens"), digest, self.now, uid))
        return uid

    def product(
        self,
        sku: str,
        name: str,
        list_price: Decimal,
        charge_type: ChargeType = ChargeType.RECURRING,
        billing_frequency: BillingFrequency = BillingFrequency.MONTHLY,
        billing_type: BillingType = BillingType.ADVANCE,
        pricing_term_months: int = 1,
    ) -> int:
        pid = self._next("products")
        self.products[pid] = ProductRow(
            pid,
            sku,
            name,
            charge_type,
            billing_frequency,
            billing_type,
            list_price,
            pricing_term_months,
        )
        self.rows["products"].append(
            (
                pid,
                sku,
                name,
                charge_type.value,
                billing_frequency.value,
                billing_type.value,
                list_price,
                pricing_term_months,
                self.now,
            )
        )
        return pid

    def account(
        self,
        name: str,
        currency: str = "USD",
        billing_day_of_month: int | None = None,
        payment_term_days: int = 30,
        timezone: str = "UTC",
        proration_policy: ProrationPolicy = ProrationPolicy.ACTUAL_DAYS,
        partial_period_treatment: PartialPeriodTreatment = PartialPeriodTreatment.SEPARATE,
        requires_purchase_order: bool = False,
        owner_id: int | None = None,
    ) -> int:
        aid = self._next("accounts")
        self.accounts[aid] = AccountRow(
            aid,
            name,
            currency,
            billing_day_of_month,
            payment_term_days,
            timezone,
            proration_policy,
            partial_period_treatment,
            requires_purchase_order,
            owner_id,
        )
        self._account_rows[aid] = len(self.rows["accounts"])
        self.rows["accounts"].append(self._account_tuple(self.accounts[aid]))
        return aid

    def _account_tuple(self, a: AccountRow) -> tuple[Any, ...]:
        return (
            a.id,
            a.name,
            a.currency,
            a.billing_day_of_month,
            a.payment_term_days,
            a.timezone,
            a.proration_policy.value,
            a.partial_period_treatment.value,
            a.requires_purchase_order,
            self.now,
            a.owner_id,
        )

    # -- contracts (create_contract + _activate)

    def contract(
        self,
        account_id: int,
        start_date: date,
        lines: Sequence[Line],
        term_months: int | None = None,
        end_date: date | None = None,
        billing_day_of_month: int | None = None,
        auto_renew: bool = False,
        renewal_term_months: int | None = None,
        renewal_uplift_percent: Decimal = Decimal(0),
        renewal_notice_days: int = 60,
        status: ContractStatus = ContractStatus.ACTIVE,
        keep_lines: bool = False,
    ) -> BuiltContract:
        account = self.accounts[account_id]
        term = contract_term(start_date, term_months, end_date)
        day = billing_day_of_month or account.billing_day_of_month or start_date.day
        if account.billing_day_of_month is None:
            account.billing_day_of_month = start_date.day
            index = self._account_rows.get(account_id)
            if index is not None:
                self.rows["accounts"][index] = self._account_tuple(account)
            else:
                self._late_updates.append((account_id, start_date.day))
        anchor = first_on_or_after(term.start, day)
        notice = None if term.end is None else term.end - timedelta(days=renewal_notice_days)
        cid = self._next("contracts")
        self.rows["contracts"].append(
            (
                cid,
                status.value,
                term.start,
                term.end,
                term.term_months,
                term.anniversary,
                day,
                anchor,
                auto_renew,
                renewal_term_months,
                renewal_uplift_percent,
                renewal_notice_days,
                notice,
                account.owner_id,
                self.now,
                account_id,
                None,
            )
        )
        oid = self._next("orders")
        self.rows["orders"].append(
            (oid, "NEW", "ACTIVATED", term.start, None, True, self.now, self.now, account_id, cid)
        )
        today = clock.today(account.timezone)
        built = BuiltContract(cid, oid, account_id, term.start, term.end, [])
        for line in lines:
            product = self.products[line.product_id]
            price = product.list_price if line.unit_price is None else line.unit_price
            recurring = product.charge_type is ChargeType.RECURRING
            frequency = (line.billing_frequency if recurring else None) or product.billing_frequency
            billing_type = (line.billing_type if recurring else None) or product.billing_type
            line_end = term.end if recurring else term.start
            clid = self._next("contract_lines")
            self.rows["contract_lines"].append(
                (
                    clid,
                    product.charge_type.value,
                    price,
                    product.pricing_term_months,
                    frequency.value,
                    billing_type.value,
                    term.start,
                    line_end,
                    False,
                    cid,
                    product.id,
                )
            )
            terms = OrderProductTerms(
                currency=account.currency,
                charge_type=product.charge_type,
                start=term.start,
                end=line_end,
                quantity=line.quantity,
                unit_price=price,
                pricing_term_months=product.pricing_term_months,
                frequency=frequency,
                billing_type=billing_type,
                series=BillingSeries(day, anchor, frequency.months) if recurring else None,
                policy=account.proration_policy,
                treatment=account.partial_period_treatment,
            )
            through = horizon(term.start, today) if terms.is_evergreen else None
            schedule = self._schedule(terms, through)
            total = (
                None
                if line_end is None and recurring
                else sum((s[3] for s in schedule), Decimal(0))
            )
            opid = self._next("order_products")
            self.rows["order_products"].append(
                (
                    opid,
                    account_id,
                    cid,
                    product.id,
                    account.currency,
                    product.charge_type.value,
                    line.quantity,
                    price,
                    product.pricing_term_months,
                    frequency.value,
                    billing_type.value,
                    term.start,
                    line_end,
                    day,
                    anchor,
                    account.proration_policy.value,
                    account.partial_period_treatment.value,
                    True,
                    None,
                    None,
                    None,
                    through,
                    total,
                    clid,
                    oid,
                )
            )
            op = BuiltOrderProduct(opid, cid, product.id, line.quantity)
            for start, end, due, amount, value, fraction, parts, credit in schedule:
                slid = self._next("schedule_lines")
                self.rows["schedule_lines"].append(
                    (
                        slid,
                        account_id,
                        start,
                        end,
                        due,
                        amount,
                        value,
                        fraction,
                        parts,
                        credit,
                        False,
                        self.now,
                        opid,
                    )
                )
                if keep_lines:
                    op.lines.append(
                        BuiltScheduleLine(slid, start, end, due, amount, fraction, credit)
                    )
            built.order_products.append(op)
        return built

    def _schedule(self, terms: OrderProductTerms, through: date | None) -> list[_CachedLine]:
        key = (terms, through)
        cached = self._schedules.get(key)
        if cached is None:
            lines = build_schedule(terms, through)
            assert schedule_total(lines) == sum((ln.amount for ln in lines), Decimal(0))
            cached = [
                (
                    ln.start,
                    ln.end,
                    ln.due,
                    ln.amount,
                    rational_text(ln.value),
                    rational_text(ln.fraction),
                    parts_text(ln),
                    ln.is_credit,
                )
                for ln in lines
            ]
            self._schedules[key] = cached
        return cached

    # -- documents (bill_account's _create_document, then post_document)

    def invoice(
        self,
        account_id: int,
        lines: Sequence[tuple[BuiltOrderProduct, BuiltScheduleLine]],
        invoice_date: date,
        run_id: int | None = None,
        posted_on: date | None = None,
    ) -> int:
        """A document billing ``lines`` (in the order given: bill_account sorts them by
        contract, order product and schedule order). Posted when ``posted_on`` is given."""
        account = self.accounts[account_id]
        total = sum((sl.amount for _, sl in lines), Decimal(0))
        kind = "CREDIT_NOTE" if total < 0 else "INVOICE"
        number = payment_status = None
        status, open_balance = "DRAFT", Decimal(0)
        if posted_on is not None:
            assert kind == "INVOICE"
            self.last_invoice_number += 1
            number = f"INV-{self.last_invoice_number:06d}"
            status, open_balance = "POSTED", total
            payment_status = "PAID" if total == 0 else "UNPAID"
        iid = self._next("invoices")
        self.rows["invoices"].append(
            (
                iid,
                kind,
                status,
                number,
                account.currency,
                invoice_date,
                invoice_date + timedelta(days=account.payment_term_days),
                posted_on,
                total,
                open_balance,
                payment_status,
                None,
                self.now,
                account_id,
                run_id,
                None,
            )
        )
        for op, sl in lines:
            self.rows["invoice_lines"].append(
                (
                    self._next("invoice_lines"),
                    sl.id,
                    op.id,
                    op.product_id,
                    describe(self.products[op.product_id].name, op.quantity, sl),
                    sl.period_start,
                    sl.period_end,
                    op.quantity,
                    sl.fraction,
                    sl.amount,
                    True,
                    iid,
                )
            )
        return iid

    # -- writing

    def pending(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    async def flush(self, conn: asyncpg.Connection) -> None:
        """COPY everything built so far (parents first) and move the id sequences on."""
        for table in ORDER:
            rows = self.rows[table]
            if rows:
                await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
                self.written[table] += len(rows)
                self.rows[table] = []
        self._account_rows.clear()
        for account_id, day in self._late_updates:
            await conn.execute(
                "UPDATE accounts SET billing_day_of_month = $2 WHERE id = $1", account_id, day
            )
        self._late_updates.clear()
        for table in ORDER:
            if self.last_id[table]:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), $1)",
                    self.last_id[table],
                )
        if self.last_invoice_number:
            await conn.execute(
                "UPDATE document_sequences SET last_number = $1 WHERE document_type = 'INVOICE'",
                self.last_invoice_number,
            )


def describe(product_name: str, quantity: int, line: BuiltScheduleLine) -> str:
    """As ``services.billing.describe``."""
    period = (
        line.period_start.isoformat()
        if line.period_start == line.period_end
        else f"{line.period_start.isoformat()} to {line.period_end.isoformat()}"
    )
    label = "credit: " if line.is_credit else ""
    return f"{label}{product_name} x {quantity}, {period}"[:300]


def first_of_next_month(today: date | None = None) -> date:
    today = today or clock.today()
    return add_months(today.replace(day=1), 1)


# --------------------------------------------------------------------------- verification

#: compared without these (the services set them with now())
_VOLATILE = {"created_at", "activated_at"}
_COMPARED = (
    "users",
    "products",
    "accounts",
    "contracts",
    "orders",
    "contract_lines",
    "order_products",
    "schedule_lines",
    "invoices",
    "invoice_lines",
    "document_sequences",
)


@dataclass
class _Sample:
    """What both paths create: the same calls, in the same order."""

    today: date

    @property
    def start(self) -> date:
        return first_of_next_month(self.today)

    def products(self) -> list[dict[str, Any]]:
        return [
            dict(sku="V-SEATS", name="Seats", list_price=Decimal("12.50")),
            dict(
                sku="V-SUPPORT",
                name="Support",
                list_price=Decimal("299.97"),
                billing_frequency=BillingFrequency.QUARTERLY,
                billing_type=BillingType.ARREARS,
                pricing_term_months=3,
            ),
            dict(
                sku="V-PLATFORM",
                name="Platform",
                list_price=Decimal("12000"),
                billing_frequency=BillingFrequency.ANNUAL,
                pricing_term_months=12,
            ),
            dict(
                sku="V-SETUP",
                name="Setup",
                list_price=Decimal("750"),
                charge_type=ChargeType.ONE_TIME,
            ),
            dict(sku="V-STORAGE", name="Storage", list_price=Decimal("0.333333")),
        ]

    def accounts(self, owner: int) -> list[dict[str, Any]]:
        return [
            dict(name="Verify One", currency="USD", owner_id=owner),
            dict(
                name="Verify Two",
                currency="EUR",
                billing_day_of_month=31,
                timezone="America/New_York",
                payment_term_days=45,
                proration_policy=ProrationPolicy.MONTHLY_PLUS_DAILY,
                partial_period_treatment=PartialPeriodTreatment.COMBINE,
            ),
            dict(
                name="Verify Three",
                currency="JPY",
                proration_policy=ProrationPolicy.CALENDAR_MONTHLY_PLUS_DAILY,
            ),
        ]

    def contracts(self, accounts: list[int], products: list[int]) -> list[dict[str, Any]]:
        seats, support, platform, setup, storage = products
        one, two, three = accounts
        mid = self.start + timedelta(days=14)
        return [
            dict(
                account_id=one,
                start_date=mid,
                term_months=12,
                lines=[
                    Line(seats, 10),
                    Line(support, 1),
                    Line(platform, 2),
                    Line(setup, 1),
                    Line(storage, 7, unit_price=Decimal("0.41")),
                ],
            ),
            dict(
                account_id=one,
                start_date=self.start,
                term_months=12,
                lines=[Line(seats, q) for q in range(1, 11)],
            ),
            dict(
                account_id=two,
                start_date=self.start + timedelta(days=19),
                term_months=24,
                auto_renew=True,
                renewal_uplift_percent=Decimal("5"),
                renewal_notice_days=30,
                lines=[
                    Line(seats, 3, billing_frequency=BillingFrequency.QUARTERLY),
                    Line(support, 2, billing_type=BillingType.ADVANCE),
                    Line(setup, 1),
                ],
            ),
            dict(
                account_id=three,
                start_date=self.start - timedelta(days=40),
                lines=[Line(seats, 5), Line(platform, 1)],
            ),
            dict(
                account_id=three,
                start_date=self.start,
                end_date=self.start + timedelta(days=200),
                billing_day_of_month=15,
                lines=[Line(storage, 1000)],
            ),
        ]

    @property
    def target(self) -> date:
        return add_months(self.start, 2)


async def verify_builder(report: Callable[[str], None] = log) -> None:
    """Create a small sample through the services and through the builder, in two fresh
    databases, and check that they hold the same rows (ids included; timestamps left
    out). Bills one account in each and compares the documents too."""
    from tortoise.transactions import in_transaction

    from orbit.db.connection import close_db, open_db
    from orbit.db.models import Account, InvoiceStatus
    from orbit.db.models import Role as DbRole
    from orbit.services.access import Actor, create_user
    from orbit.services.accounts import AccountInput, ProductInput, create_account, create_product
    from orbit.services.billing import bill_account
    from orbit.services.contracts import ContractInput, LineInput, create_contract
    from orbit.services.invoices import post_document

    sample = _Sample(clock.today())
    svc_url = await fresh_database("verify_services")
    copy_url = await fresh_database("verify_builder")
    try:
        system = Actor.system()
        await open_db(svc_url)
        try:
            owner, _ = await create_user(
                system, "owner@bench.local", "Owner", DbRole.ACCOUNT_MANAGER
            )
            products = [
                (await create_product(system, ProductInput(**p))).id for p in sample.products()
            ]
            accounts = [
                (await create_account(system, AccountInput(**a))).id
                for a in sample.accounts(owner.id)
            ]
            for c in sample.contracts(accounts, products):
                lines = [
                    LineInput(
                        ln.product_id,
                        ln.quantity,
                        ln.unit_price,
                        ln.billing_frequency,
                        ln.billing_type,
                    )
                    for ln in c["lines"]
                ]
                await create_contract(system, ContractInput(**{**c, "lines": lines}))
            async with in_transaction():
                result = await bill_account(accounts[0], sample.target, sample.target)
                assert result.invoice is not None
                await post_document(result.invoice, clock.today())
            assert result.invoice.status is InvoiceStatus.POSTED
            assert await Account.filter(id=accounts[0]).exists()
        finally:
            await close_db()

        b = Builder()
        uid = b.user("owner@bench.local", "Owner", "ACCOUNT_MANAGER")
        products = [b.product(**p) for p in sample.products()]
        accounts = [b.account(**a) for a in sample.accounts(uid)]
        built = [b.contract(**c, keep_lines=True) for c in sample.contracts(accounts, products)]
        due = [
            (op, sl)
            for c in built
            if c.account_id == accounts[0]
            for op in c.order_products
            for sl in op.lines
            if sl.due_date <= sample.target
        ]
        due.sort(
            key=lambda d: (d[0].contract_id, d[0].id, d[1].period_start, d[1].is_credit, d[1].id)
        )
        b.invoice(accounts[0], due, sample.target, posted_on=clock.today())
        conn = await connect(copy_url)
        try:
            await b.flush(conn)
        finally:
            await conn.close()

        differences = []
        counts = {}
        a, c = await connect(svc_url), await connect(copy_url)
        try:
            for table in _COMPARED:
                order = "document_type" if table == "document_sequences" else "id"
                query = f'SELECT * FROM "{table}" ORDER BY {order}'
                rows_a = [_plain(r) for r in await a.fetch(query)]
                rows_c = [_plain(r) for r in await c.fetch(query)]
                counts[table] = len(rows_a)
                if rows_a != rows_c:
                    differences.append(_first_difference(table, rows_a, rows_c))
        finally:
            await a.close()
            await c.close()
        if differences:
            raise AssertionError(
                "the builder does not write what the services write:\n" + "\n".join(differences)
            )
        report(
            "builder verified against the services: identical rows in "
            + ", ".join(f"{t} ({n})" for t, n in counts.items())
        )
    finally:
        await drop_database("verify_services")
        await drop_database("verify_builder")


def _plain(record: asyncpg.Record) -> dict[str, Any]:
    return {k: v for k, v in dict(record).items() if k not in _VOLATILE}


def _first_difference(table: str, a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    if len(a) != len(b):
        return f"  {table}: {len(a)} rows from the services, {len(b)} from the builder"
    for ra, rb in zip(a, b, strict=True):
        if ra != rb:
            diff = {k: (ra[k], rb.get(k)) for k in ra if ra[k] != rb.get(k)}
            return f"  {table} id {ra.get('id')}: (services, builder) {diff}"
    return f"  {table}: differs"


# --------------------------------------------------------------------------- timing


@dataclass
class Figures:
    """Repeated measurements of one thing (seconds, or any unit)."""

    name: str
    values: list[float] = field(default_factory=list)
    unit: str = "s"

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def text(self, digits: int = 3) -> str:
        if not self.values:
            return f"{self.name}: -"
        f = f"{{:.{digits}f}}"
        return (
            f"{self.name}: {f.format(self.min)} / {f.format(self.median)} / "
            f"{f.format(self.max)} {self.unit} (min / median / max of {len(self.values)})"
        )


def ratio(measured: Figures, baseline: Figures) -> float:
    return measured.median / baseline.median


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)


# --------------------------------------------------------------------------- results

_HEADER = """# Benchmarks

How to run them: [bench/README.md](../bench/README.md). The machine is small and
noisy (2 shared cores), so every figure is paired with a baseline measured in the
same run, and the ratio is what to compare between rows and machines; seconds
alone are not. Figures are min / median / max over the repetitions; ratios are
of medians. Rows are appended by the benches themselves (smoke runs append
nothing).

| date | bench | code | machine | data set | figures (min / median / max) | ratio | target | met |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
"""


async def record_result(
    bench: str, data_set: str, figures: str, ratio_text: str, target: str, met: bool | None
) -> None:
    info = machine()
    version = await postgres_version()
    row = (
        f"| {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC | {bench} | "
        f"{code_under_test()} | {info['nproc']} x {info['cpu']}, PostgreSQL {version}, "
        f"Python {info['python']} | "
        f"{data_set} | {figures} | {ratio_text} | {target} | "
        f"{'yes' if met else 'no' if met is not None else '-'} |\n"
    )
    if not RESULTS.exists():
        RESULTS.write_text(_HEADER)
    with RESULTS.open("a") as out:
        out.write(row)
    log(f"appended a row to {RESULTS.relative_to(ROOT)}")


# --------------------------------------------------------------------------- statements


class StatementLog(logging.Handler):
    """Every statement tortoise sends (it logs each at DEBUG on tortoise.db_client).
    BEGIN/COMMIT are not logged by tortoise, so they are not counted; an executemany
    counts once."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []
        self.values: list[list[Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "%s: %s" and isinstance(record.args, tuple) and record.args:
            self.statements.append(str(record.args[0]))
            values = record.args[1] if len(record.args) > 1 else None
            self.values.append(list(values) if isinstance(values, list | tuple) else [])
        elif isinstance(record.msg, str) and not record.msg.startswith(("Created", "Closed")):
            self.statements.append(record.msg)
            self.values.append([])

    def summary(self, top: int = 12) -> str:
        kinds = Counter(_statement_kind(s) for s in self.statements)
        return "\n".join(f"    {n:4d} x {kind}" for kind, n in kinds.most_common(top))


def _statement_kind(sql: str) -> str:
    """A statement with its literals and IN lists folded, to group repeats."""
    import re

    text = " ".join(sql.split())
    text = re.sub(r"\$\d+", "?", text)
    text = re.sub(r"\((\?,?\s*)+\)", "(?...)", text)
    return text[:150]


@contextlib.contextmanager
def statements() -> Iterator[StatementLog]:
    logger = logging.getLogger("tortoise.db_client")
    handler = StatementLog()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class WireLog:
    """Every statement sent to PostgreSQL through asyncpg in this process, whoever sends
    it (tortoise, or code using the raw connection), BEGIN and COMMIT included; an
    executemany or a COPY counts once."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def summary(self, top: int = 12) -> str:
        kinds = Counter(_statement_kind(s) for s in self.statements)
        return "\n".join(f"    {n:4d} x {kind}" for kind, n in kinds.most_common(top))


@contextlib.contextmanager
def wire_statements() -> Iterator[WireLog]:
    from asyncpg.connection import Connection

    wire = WireLog()
    originals = {
        name: getattr(Connection, name)
        for name in ("_execute", "execute", "executemany", "copy_records_to_table")
    }

    async def _execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        wire.statements.append(query)
        return await originals["_execute"](self, query, *args, **kwargs)

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with arguments it goes through _execute
            wire.statements.append(query)
        return await originals["execute"](self, query, *args, **kwargs)

    async def executemany(self: Any, command: str, args: Any, **kwargs: Any) -> Any:
        wire.statements.append(command)
        return await originals["executemany"](self, command, args, **kwargs)

    async def copy_records_to_table(self: Any, table_name: str, **kwargs: Any) -> Any:
        wire.statements.append(f"COPY {table_name}")
        return await originals["copy_records_to_table"](self, table_name, **kwargs)

    patched = {
        "_execute": _execute,
        "execute": execute,
        "executemany": executemany,
        "copy_records_to_table": copy_records_to_table,
    }
    for name, function in patched.items():
        setattr(Connection, name, function)
    try:
        yield wire
    finally:
        for name, function in originals.items():
            setattr(Connection, name, function)


# --------------------------------------------------------------------------- processes


def orbit_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORBIT_")}
    env.update(
        {
            "ORBIT_DATABASE_URL": database_url,
            "ORBIT_REDIS_URL": REDIS_URL,
            "ORBIT_ENV": "production",
            "ORBIT_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def start_process(
    args: Sequence[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(list(args), env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def stop_processes(processes: Iterable[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    processes = list(processes)
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def memory_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0]) / 1024
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_for_port(
    port: int, timeout: float = 30, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


async def flush_redis() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


# --------------------------------------------------------------------------- profiling


def pyspy_available() -> bool:
    return (Path(sys.executable).parent / "py-spy").exists()


def start_profiler(
    pid: int, seconds: float, out: Path, rate: int = 100, gil: bool = False
) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds`` into a collapsed-stack file. By default
    it samples the thread whenever it is not idle (in a system call too, so time
    spent sending to PostgreSQL, or waiting for a core there, shows); with ``gil``
    only while it holds the GIL (Python's own CPU time)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
            *(["--gil"] if gil else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _frame_name(frame: str) -> str:
    """'function (path/to/file.py:123)' -> 'function (file.py)' with a short path."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def _package(frame: str) -> str:
    """The package a frame's file belongs to ('orbit', 'tortoise', 'asyncio', ...)."""
    where = frame.rsplit(" (", 1)[-1].rstrip(")")
    head = where.split("/", 1)[0]
    if head.endswith(".py"):
        head = head[:-3]
    return head or where


def top_frames(
    files: Sequence[Path], top: int = 25, rate: int = 100, seconds: float | None = None
) -> str:
    """The frames with the most samples on the stack (inclusive) and at its top (self),
    Orbit's own frames, and self time by package."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [
                _frame_name(f)
                for f in stack.split(";")
                if f and not f.startswith("process ") and not f.startswith("thread ")
            ]
            if not frames:
                continue
            total += count
            for name in set(frames):
                inclusive[name] += count
            own[frames[-1]] += count
            packages[_package(frames[-1])] += count
    if not total:
        return "    (no samples)"
    lines = [
        f"    {total} busy samples"
        + (
            f" over {len(files)} process(es) x {seconds:.0f}s at {rate}/s "
            f"(busy {100 * total / (rate * seconds * len(files)):.0f}%)"
            if seconds
            else ""
        )
    ]
    lines.append("    inclusive (on the stack):")
    lines += [f"      {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines.append("    Orbit's own frames, inclusive:")
    mine = [
        (name, n)
        for name, n in inclusive.most_common()
        if name.rsplit(" (", 1)[-1].startswith(("orbit/", "workers/"))
        and not name.rsplit(" (", 1)[-1].startswith("orbit/cli.py")
    ]
    lines += [f"      {100 * n / total:5.1f}%  {name}" for name, n in mine[:top]]
    lines.append("    self (top of the stack):")
    lines += [f"      {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top // 2)]
    lines.append(
        "    self, by package: "
        + ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in packages.most_common(12))
    )
    return "\n".join(lines)


def run(main: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> None:
    """Run a bench's async main with asyncio."""
    asyncio.run(main(args))

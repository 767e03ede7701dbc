"""Real worker processes against the test database and a Redis: start, kill, watch."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from orbit.db.models import (
    Account,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceRunStatus,
)
from orbit.engine.enums import BillingFrequency
from orbit.services.accounts import AccountInput, ProductInput, create_account, create_product
from orbit.services.billing import invoice_preview
from orbit.services.contracts import ContractInput, LineInput, create_contract
from orbit.services.runs import FINISHED
from tests.services.factory import SYSTEM

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """``orbit worker`` processes, with fast sweeping so lost work is found quickly."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.env = {
            **os.environ,
            "ORBIT_DATABASE_URL": database_url,
            "ORBIT_REDIS_URL": redis_url,
            "ORBIT_ENV": "test",
            "ORBIT_LOG_LEVEL": "WARNING",
            "ORBIT_SWEEP_INTERVAL_SECONDS": "2",
            "ORBIT_SWEEP_STALL_SECONDS": "3",
            "ORBIT_WORKER_CONCURRENCY": "4",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs = Path(tempfile.mkdtemp(prefix="orbit-workers-"))

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.logs / f"worker-{len(self.processes)}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "orbit.cli", "worker"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.logs.glob("*")))

    def cleanup(self) -> None:
        shutil.rmtree(self.logs, ignore_errors=True)


class PrivateRedis:
    """A Redis server of the test's own, on a free port, that keeps nothing on disk."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="orbit-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Book:
    """The data set: accounts, each with several monthly order products."""

    accounts: list[int]
    target: date


async def build_book(
    accounts: int = 200,
    products_per_account: int = 3,
    start: date = date(2026, 1, 1),
    target: date = date(2026, 3, 1),
) -> Book:
    catalog = [
        await create_product(
            SYSTEM,
            ProductInput(
                sku=f"FAULT-{i}",
                name=f"Product {i}",
                list_price=price,
                billing_frequency=BillingFrequency.MONTHLY,
            ),
        )
        for i, price in enumerate(Decimal(p) for p in ("10.00", "25.50", "99.99", "7.25", "120.00"))
    ]
    ids = []
    for n in range(accounts):
        account = await create_account(
            SYSTEM, AccountInput(name=f"Fault {n:04d}", currency="USD", billing_day_of_month=1)
        )
        lines = [
            LineInput(product_id=catalog[(n + k) % len(catalog)].id, quantity=1 + (n + k) % 4)
            for k in range(products_per_account)
        ]
        await create_contract(
            SYSTEM,
            ContractInput(account_id=account.id, start_date=start, lines=lines, term_months=12),
        )
        ids.append(account.id)
    return Book(ids, target)


async def expected_lines(book: Book) -> set[int]:
    """The schedule lines the previews say a run for the book's target date bills."""
    expected: set[int] = set()
    for account in await Account.filter(id__in=book.accounts):
        preview = await invoice_preview(account, book.target)
        expected.update(d.row.id for d in preview.lines)
    return expected


async def wait_for(run_id: int, timeout: float = 120) -> InvoiceRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = await InvoiceRun.get(id=run_id)
        if run.status in FINISHED:
            return run
        await asyncio.sleep(0.2)
    raise TimeoutError(f"invoice run {run_id} did not finish in {timeout}s")


async def wait_until_processed(run_id: int, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = await InvoiceRun.get(id=run_id)
        if run.accounts_processed >= at_least or run.status in FINISHED:
            return run.accounts_processed
        await asyncio.sleep(0.02)
    raise TimeoutError(f"run {run_id} did not reach {at_least} accounts")


@dataclass
class Outcome:
    billed: set[int]
    doubled: int
    documents: int
    lines: int


async def outcome(run_ids: list[int]) -> Outcome:
    """What the runs billed: schedule lines, how many were billed more than once, counts."""
    invoices = await Invoice.filter(invoice_run_id__in=run_ids).values_list("id", flat=True)
    rows = await InvoiceLine.filter(invoice_id__in=list(invoices)).values_list(
        "schedule_line_id", flat=True
    )
    counts = Counter(rows)
    return Outcome(set(counts), sum(1 for c in counts.values() if c > 1), len(invoices), len(rows))


def assert_counters_true(run: InvoiceRun, result: Outcome, accounts: int) -> None:
    assert run.accounts_total == accounts
    assert run.accounts_processed == accounts
    assert run.invoices_created == result.documents
    assert run.lines_created == result.lines


COMPLETED = InvoiceRunStatus.COMPLETED


async def poison_with_overflow(account_id: int, target: date) -> None:
    """Make the account's next invoice overflow NUMERIC(20,3) (a real database error):
    each of its lines due by ``target`` still fits its column, their sum does not."""
    from orbit.db.models import ScheduleLine

    await ScheduleLine.filter(account_id=account_id, period_start__lte=target).update(
        amount=Decimal("60000000000000000.000")
    )

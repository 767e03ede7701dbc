"""Bench 1 (and 5): an invoice run at scale, with real workers on Redis.

Data set: ``--accounts`` accounts (10,000), each with one 12-month contract of
``--lines`` monthly order products (10) starting on the first of next month; the
run targets that day, so exactly one schedule line of every order product is due
(100,000 lines) out of 12 stored per order product (1.2 million).

Measured: wall time from ``runs.start_run`` + enqueue (what the startInvoiceRun
mutation does) to the run's ``finished_at`` (COMPLETED), with ``--workers``
``orbit worker`` processes (2) on Redis database 13. Baseline, in the same run: raw
asyncpg reading the same due lines (with their order products, products and
accounts) and COPY-inserting the same number of document and line rows into
scratch tables made ``LIKE invoices/invoice_lines INCLUDING ALL``. Target: run <=
5 x baseline. Memory: the workers' peak RSS (VmHWM) over the whole bench; target
<= 300 MB.

    python -m bench.invoice_run [--smoke] [--accounts N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg

from bench import common
from bench.common import Builder, Figures, Line, add_months, log

TARGET_RATIO = 5.0
TARGET_MB = 300.0
PRICES = ("10.00", "25.50", "99.99", "7.25", "120.00", "3.33", "45.00", "18.75", "250.00", "1.99")


HISTORY_RUN = 1


async def build(url: str, accounts: int, lines: int, start: date) -> dict[str, int]:
    """The contracts started a month before ``start``; that first month is already
    billed by an earlier run (HISTORY_RUN: its draft documents), as it is in a
    database that bills every month, so the run finds its invoice tables in use."""
    b = Builder()
    products = [
        b.product(f"RUN-{i}", f"Product {i}", Decimal(price)) for i, price in enumerate(PRICES)
    ]
    began = add_months(start, -1)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO invoice_runs (id, status, target_date, invoice_date, auto_post, "
            "accounts_total, accounts_processed, invoices_created, lines_created, created_at, "
            "started_at, finished_at) VALUES ($1, 'COMPLETED', $2, $2, false, $3, $3, $3, $4, "
            "now(), now(), now())",
            HISTORY_RUN,
            began,
            accounts,
            accounts * lines,
        )
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('invoice_runs', 'id'), $1)", HISTORY_RUN
        )
        for n in range(accounts):
            account = b.account(f"Account {n:05d}", "USD", billing_day_of_month=1)
            contract = b.contract(
                account,
                began,
                [Line(products[(n + k) % len(products)], 1 + (n + k) % 5) for k in range(lines)],
                term_months=12,
                keep_lines=True,
            )
            b.invoice(
                account,
                [(op, op.lines[0]) for op in contract.order_products],
                began,
                run_id=HISTORY_RUN,
            )
            if b.pending() > 200_000:
                await b.flush(conn)
        await b.flush(conn)
        await conn.execute(
            "INSERT INTO invoice_run_accounts (run_id, account_id, chunk, status, invoice_id, "
            "lines, processed_at) SELECT $1, account_id, "
            "(row_number() OVER (ORDER BY account_id) - 1) / 50, 'DONE', id, $2, now() "
            "FROM invoices WHERE invoice_run_id = $1",
            HISTORY_RUN,
            lines,
        )
        await conn.execute("CREATE TABLE scratch_invoices (LIKE invoices INCLUDING ALL)")
        await conn.execute("CREATE TABLE scratch_invoice_lines (LIKE invoice_lines INCLUDING ALL)")
    finally:
        await conn.close()
    return dict(b.written)


BASELINE_READ = """
SELECT a.id AS account_id, a.currency, a.payment_term_days,
       op.id AS op_id, op.contract_id, op.product_id, op.quantity, p.name AS product_name,
       sl.id AS line_id, sl.period_start, sl.period_end, sl.fraction, sl.amount, sl.is_credit
FROM accounts a
JOIN schedule_lines sl ON sl.account_id = a.id AND sl.due_date <= $1 AND NOT sl.removed
JOIN order_products op ON op.id = sl.order_product_id
JOIN orders o ON o.id = op.order_id AND o.status = 'ACTIVATED'
JOIN products p ON p.id = op.product_id
WHERE ($2::int[] IS NULL OR a.id = ANY($2::int[]))
  AND NOT EXISTS (SELECT 1 FROM invoice_lines il WHERE il.schedule_line_id = sl.id AND il.bills)
ORDER BY a.id, op.contract_id, op.id, sl.period_start, sl.is_credit, sl.id
"""


async def baseline(
    url: str, target: date, account_ids: list[int] | None = None
) -> tuple[float, int, int]:
    """Raw asyncpg: read the due lines, COPY one document per account and its lines.
    Returns (seconds, documents, lines)."""
    from datetime import timedelta

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE scratch_invoice_lines, scratch_invoices")
        started = time.perf_counter()
        async with conn.transaction():
            rows = await conn.fetch(BASELINE_READ, target, account_ids)
            invoices: list[tuple[object, ...]] = []
            lines: list[tuple[object, ...]] = []
            now = datetime.now(UTC)
            current = None
            total = Decimal(0)
            for r in rows:
                if r["account_id"] != current:
                    if current is not None:
                        invoices[-1] = (*invoices[-1][:8], total, *invoices[-1][9:])
                    current, total = r["account_id"], Decimal(0)
                    invoices.append(
                        (
                            len(invoices) + 1,
                            "INVOICE",
                            "DRAFT",
                            None,
                            r["currency"],
                            target,
                            target + timedelta(days=r["payment_term_days"]),
                            None,
                            Decimal(0),
                            Decimal(0),
                            None,
                            None,
                            now,
                            current,
                            None,
                            None,
                        )
                    )
                total += r["amount"]
                period = (
                    r["period_start"].isoformat()
                    if r["period_start"] == r["period_end"]
                    else f"{r['period_start'].isoformat()} to {r['period_end'].isoformat()}"
                )
                label = "credit: " if r["is_credit"] else ""
                lines.append(
                    (
                        len(lines) + 1,
                        r["line_id"],
                        r["op_id"],
                        r["product_id"],
                        f"{label}{r['product_name']} x {r['quantity']}, {period}"[:300],
                        r["period_start"],
                        r["period_end"],
                        r["quantity"],
                        r["fraction"],
                        r["amount"],
                        True,
                        len(invoices),
                    )
                )
            if invoices:
                invoices[-1] = (*invoices[-1][:8], total, *invoices[-1][9:])
            await conn.copy_records_to_table(
                "scratch_invoices", records=invoices, columns=common.COLUMNS["invoices"]
            )
            await conn.copy_records_to_table(
                "scratch_invoice_lines", records=lines, columns=common.COLUMNS["invoice_lines"]
            )
        return time.perf_counter() - started, len(invoices), len(lines)
    finally:
        await conn.close()


async def reset(url: str, keep: int | None = None) -> None:
    """Forget the runs and their documents, but run ``keep`` (the history); sequences
    move on, so arq job ids never repeat."""
    conn = await asyncpg.connect(url)
    try:
        if keep is None:
            await conn.execute(
                "TRUNCATE applications, invoice_lines, invoices, invoice_run_accounts, invoice_runs"
            )
        else:
            # children are deleted before their parents; skipping the foreign-key checks
            # (this session only) keeps them from scanning invoice_lines and invoices for
            # every deleted invoice: neither invoice_lines.invoice_id nor
            # invoices.reverses_id has an index
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(
                "DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM "
                "invoices WHERE invoice_run_id IS DISTINCT FROM $1)",
                keep,
            )
            await conn.execute(
                "DELETE FROM invoices WHERE invoice_run_id IS DISTINCT FROM $1", keep
            )
            await conn.execute("DELETE FROM invoice_run_accounts WHERE run_id <> $1", keep)
            await conn.execute("DELETE FROM invoice_runs WHERE id <> $1", keep)
            await conn.execute("SET session_replication_role = DEFAULT")
        await conn.execute("DELETE FROM audit_events WHERE action = 'invoice_run.start'")
        await conn.execute(
            "VACUUM ANALYZE invoice_lines, invoices, invoice_run_accounts, invoice_runs"
        )
    finally:
        await conn.close()


async def one_run(
    queue: object, target: date, account_ids: list[int] | None = None, timeout: float = 3600
) -> tuple[float, object]:
    """start_run + enqueue, then wait for the run to finish; (seconds, run)."""
    from orbit.db.models import InvoiceRun
    from orbit.services import runs
    from orbit.services.access import Actor

    started = datetime.now(UTC)
    run = await runs.start_run(Actor.system(), runs.RunRequest(target, account_ids=account_ids))
    await queue.enqueue_run(run.id)  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while True:
        row = await InvoiceRun.get(id=run.id)
        if row.status in runs.FINISHED:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"run {run.id} not finished after {timeout}s: {row.status.value}, "
                f"{row.accounts_processed}/{row.accounts_total}"
            )
        await asyncio.sleep(0.1)
    assert row.finished_at is not None
    return (row.finished_at - started).total_seconds(), row


async def main(args: argparse.Namespace) -> None:
    from orbit.config import Settings
    from orbit.db.connection import close_db, open_db
    from orbit.queue import open_queue

    smoke = args.smoke
    accounts = args.accounts or (20 if smoke else 10_000)
    per = args.lines
    repeat = args.repeat or (1 if smoke else 3)
    start = common.first_of_next_month()
    expected_lines = accounts * per

    await common.verify_builder()
    t = time.perf_counter()
    url = await common.fresh_database("invoice_run")
    written = await build(url, accounts, per, start)
    await common.analyze(url)
    experiment = await common.apply_extra_sql(url, args.extra_sql)
    data_set = (
        f"{accounts:,} accounts x {per} order products (monthly, 12-month term): "
        f"{written['order_products']:,} order products, "
        f"{written['schedule_lines']:,} schedule lines, {expected_lines:,} due on "
        f"{start}; the month before already billed ({written['invoices']:,} "
        f"documents, {written['invoice_lines']:,} lines)"
    ) + experiment
    log(f"data set built in {time.perf_counter() - t:.1f}s: {data_set}")

    await common.flush_redis()
    logs = common.OUT / "invoice_run"
    env = common.orbit_env(url)
    workers = [
        common.start_process(
            [sys.executable, "-m", "orbit.cli", "worker"], env, logs / f"worker-{i}.log"
        )
        for i in range(args.workers)
    ]
    await open_db(url)
    queue = await open_queue(Settings(database_url=url, redis_url=common.REDIS_URL))
    run_figures, base_figures = Figures("invoice run"), Figures("raw baseline")
    profile_text = ""
    try:
        await asyncio.sleep(2)
        for w in workers:
            if w.poll() is not None:
                raise RuntimeError(f"a worker exited: see {logs}")
        # warm-up: the workers' imports and pools, the database's caches
        warm = list(range(1, min(accounts, 200) + 1))
        await baseline(url, start, warm)
        seconds, run = await one_run(queue, start, warm)
        log(f"warm-up run ({len(warm)} accounts): {seconds:.2f}s {run.status.value}")
        await reset(url, HISTORY_RUN)

        for rep in range(repeat):
            seconds_b, documents, lines = await baseline(url, start)
            assert (documents, lines) == (accounts, expected_lines), (documents, lines)
            base_figures.add(seconds_b)
            seconds, run = await one_run(queue, start)
            ok = (
                run.status.value == "COMPLETED"
                and run.invoices_created == accounts
                and run.lines_created == expected_lines
            )
            if not ok:
                raise AssertionError(
                    f"run {run.id}: {run.status.value}, "
                    f"{run.invoices_created} documents, {run.lines_created} lines"
                )
            run_figures.add(seconds)
            log(
                f"  repetition {rep + 1}: run {seconds:.2f}s "
                f"({accounts / seconds:.0f} accounts/s, {expected_lines / seconds:.0f} lines/s); "
                f"baseline {seconds_b:.3f}s; ratio {seconds / seconds_b:.1f}; machine load "
                f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )
            await reset(url, HISTORY_RUN)

        # what billing costs in statements: one chunk, in this process, as a worker bills it
        from orbit.services import runs
        from orbit.services.access import Actor

        first = list(range(1, min(accounts, 200) + 1))
        sample = await runs.start_run(Actor.system(), runs.RunRequest(start, account_ids=first))
        chunks = await runs.begin(sample.id)
        with common.wire_statements() as sql:
            chunk = await runs.bill_chunk(sample.id, chunks[0])
        await reset(url, HISTORY_RUN)
        per_account = len(sql.statements) / max(chunk.accounts, 1)

        memory = {w.pid: common.memory_mb(w.pid) for w in workers}
        peak = max(m["VmHWM"] for m in memory.values())
        r = common.ratio(run_figures, base_figures)
        log("")
        log(f"data set: {data_set}")
        log(run_figures.text(2))
        log(base_figures.text(3))
        log(
            f"ratio (medians): {r:.1f} x baseline (target <= {TARGET_RATIO:.0f} x): "
            f"{'met' if r <= TARGET_RATIO else 'MISSED'}"
        )
        log(
            f"throughput (median): {accounts / run_figures.median:.0f} accounts/s, "
            f"{expected_lines / run_figures.median:.0f} lines/s"
        )
        log(
            f"statements sent to PostgreSQL to bill one chunk ({chunk.accounts} accounts, "
            f"{chunk.lines} lines; asyncpg calls, BEGIN/COMMIT included): "
            f"{len(sql.statements)} = {per_account:.1f} per account"
        )
        log(sql.summary(20))
        for pid, m in memory.items():
            log(f"worker {pid}: peak RSS (VmHWM) {m['VmHWM']:.0f} MB, now {m['VmRSS']:.0f} MB")
        log(
            f"worker peak RSS: {peak:.0f} MB (target <= {TARGET_MB:.0f} MB): "
            f"{'met' if peak <= TARGET_MB else 'MISSED'}"
        )

        if args.profile or (not smoke and r > TARGET_RATIO):
            profile_text = await profile(url, queue, workers, start, run_figures.median, logs)
            log(profile_text)

        if not smoke and not args.no_record:
            figures = (
                f"run {run_figures.min:.1f} / {run_figures.median:.1f} / "
                f"{run_figures.max:.1f} s; baseline {base_figures.min:.2f} / "
                f"{base_figures.median:.2f} / {base_figures.max:.2f} s; "
                f"{expected_lines / run_figures.median:,.0f} lines/s; worker peak RSS "
                f"{peak:.0f} MB; {per_account:.1f} statements per account"
            )
            await common.record_result(
                f"invoice_run ({args.workers} workers)",
                data_set,
                figures,
                f"{r:.1f} x",
                f"<= {TARGET_RATIO:.0f} x; RSS <= {TARGET_MB:.0f} MB",
                r <= TARGET_RATIO and peak <= TARGET_MB,
            )
        print(
            json.dumps(
                {
                    "bench": "invoice_run",
                    "accounts": accounts,
                    "lines": expected_lines,
                    "run_s": run_figures.values,
                    "baseline_s": base_figures.values,
                    "ratio": r,
                    "worker_peak_mb": peak,
                }
            )
        )
    finally:
        await queue.close()
        await close_db()
        common.stop_processes(workers)
        await common.flush_redis()
        if not args.keep:
            await common.drop_database("invoice_run")


async def profile(
    url: str,
    queue: object,
    workers: list[subprocess.Popen[bytes]],
    start: date,
    expected: float,
    logs: Path,
) -> str:
    """One more run with py-spy sampling both workers; their top frames."""
    if not common.pyspy_available():
        return "py-spy is not installed (pip install -e '.[bench]'): no profile"
    files = [logs / f"profile-worker-{i}.txt" for i in range(len(workers))]
    gil_files = [logs / f"profile-worker-{i}-gil.txt" for i in range(len(workers))]
    spies = [
        common.start_profiler(w.pid, expected * 3 + 60, f)
        for w, f in zip(workers, files, strict=True)
    ]
    spies += [
        common.start_profiler(w.pid, expected * 3 + 60, f, gil=True)
        for w, f in zip(workers, gil_files, strict=True)
    ]
    await asyncio.sleep(1)
    sampler = common.ActivitySampler(url)
    sampler.start()
    try:
        seconds, run = await one_run(queue, start)
    finally:
        await sampler.stop()
    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
    await reset(url, HISTORY_RUN)
    return (
        f"\nprofile of both workers during one more run ({seconds:.1f}s, "
        f"{run.status.value}; py-spy, collapsed stacks in {logs}):\n"
        + common.top_frames(files, top=30, seconds=seconds)
        + "\n  the same, counting only samples holding the GIL (Python's own CPU):\n"
        + common.top_frames(gil_files, top=30, seconds=seconds)
        + "\n  what the database's backends were doing meanwhile (pg_stat_activity; "
        "'idle in transaction' = waiting for the worker's next statement):\n" + sampler.summary(16)
    )


def cli() -> None:
    p = common.parser(__doc__.split("\n", 1)[0])
    p.add_argument("--accounts", type=int, default=None, help="accounts (default 10,000; smoke 20)")
    p.add_argument("--lines", type=int, default=10, help="order products per account (10)")
    p.add_argument("--workers", type=int, default=2, help="orbit worker processes (2)")
    common.run(main, p.parse_args())


if __name__ == "__main__":
    cli()

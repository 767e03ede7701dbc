"""Bench 2: one big account, 30,000 order products, billed in one go.

Data set: one account with ``--contracts`` contracts (300) of ``--lines`` monthly
order products each (100, the most a contract takes): 30,000 order products, 12
schedule lines each, one due on the target date (the first of next month); plus
``--background`` ordinary accounts (1,000 x 10 order products) so the tables are
not the big account's alone.

Measured, in this process: ``runs.bill_chunk`` for a run over the big account alone
(what a worker does with a chunk of a run: lock the account, judge holds, find the
due lines, write one document with 30,000 lines, the account's share of the run and
the run's counters), from the call to the commit. Baseline, same run: raw asyncpg
reading the same due lines and COPY-inserting one document and its 30,000 lines into
scratch tables made ``LIKE invoices/invoice_lines INCLUDING ALL``. Targets: < 1 s, and the ratio.

    python -m bench.big_account [--smoke] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import time
from datetime import date
from decimal import Decimal

import asyncpg

from bench import common
from bench.common import Builder, Figures, Line, log
from bench.invoice_run import PRICES, baseline, reset

TARGET_SECONDS = 1.0


async def build(
    url: str, contracts: int, lines: int, background: int, start: date
) -> tuple[int, dict[str, int]]:
    b = Builder()
    products = [
        b.product(f"BIG-{i}", f"Product {i}", Decimal(price)) for i, price in enumerate(PRICES)
    ]
    conn = await asyncpg.connect(url)
    try:
        big = b.account("Big Account", "USD", billing_day_of_month=1)
        for n in range(contracts):
            b.contract(
                big,
                start,
                [Line(products[(n + k) % len(products)], 1 + (n + k) % 7) for k in range(lines)],
                term_months=12,
            )
            if b.pending() > 200_000:
                await b.flush(conn)
        for n in range(background):
            account = b.account(f"Account {n:05d}", "USD", billing_day_of_month=1)
            b.contract(
                account,
                start,
                [Line(products[(n + k) % len(products)], 1 + (n + k) % 5) for k in range(10)],
                term_months=12,
            )
            if b.pending() > 200_000:
                await b.flush(conn)
        await b.flush(conn)
        await conn.execute("CREATE TABLE scratch_invoices (LIKE invoices INCLUDING ALL)")
        await conn.execute("CREATE TABLE scratch_invoice_lines (LIKE invoice_lines INCLUDING ALL)")
    finally:
        await conn.close()
    return big, dict(b.written)


async def bill_big(
    account_id: int, target: date, count: list[common.WireLog] | None = None
) -> tuple[float, int]:
    """A run over the one account, then its chunk billed as a worker bills it
    (``runs.bill_chunk``); only that is timed (and its statements appended to ``count``
    when given)."""
    from orbit.services import runs
    from orbit.services.access import Actor

    run = await runs.start_run(Actor.system(), runs.RunRequest(target, account_ids=[account_id]))
    (chunk,) = await runs.begin(run.id)
    started = time.perf_counter()
    if count is None:
        result = await runs.bill_chunk(run.id, chunk)
    else:
        with common.wire_statements() as sql:
            result = await runs.bill_chunk(run.id, chunk)
        count.append(sql)
    elapsed = time.perf_counter() - started
    assert result.accounts == 1 and result.documents == 1, result
    return elapsed, result.lines


async def main(args: argparse.Namespace) -> None:
    from orbit.db.connection import close_db, open_db

    smoke = args.smoke
    contracts = args.contracts or (3 if smoke else 300)
    lines = args.lines
    background = args.background if args.background is not None else (5 if smoke else 1000)
    repeat = args.repeat or (1 if smoke else 5)
    start = common.first_of_next_month()
    due = contracts * lines

    await common.verify_builder()
    t = time.perf_counter()
    url = await common.fresh_database("big_account")
    big, written = await build(url, contracts, lines, background, start)
    await common.analyze(url)
    experiment = await common.apply_extra_sql(url, args.extra_sql)
    data_set = (
        f"1 account x {contracts} contracts x {lines} monthly order products = "
        f"{due:,} order products, {due * 12:,} schedule lines, {due:,} due; plus "
        f"{background:,} accounts x 10 order products "
        f"({written['schedule_lines']:,} schedule lines in all)"
    ) + experiment
    log(f"data set built in {time.perf_counter() - t:.1f}s: {data_set}")

    await open_db(url)
    bill, base = Figures("bill_chunk (big account)"), Figures("raw baseline")
    try:
        # warm-up: one of each, then one timed pair per repetition
        await baseline(url, start, [big])
        await bill_big(big, start)
        await reset(url)
        for rep in range(repeat):
            seconds_b, documents, n_lines = await baseline(url, start, [big])
            assert (documents, n_lines) == (1, due), (documents, n_lines)
            base.add(seconds_b)
            seconds, billed = await bill_big(big, start)
            assert billed == due, billed
            bill.add(seconds)
            log(
                f"  repetition {rep + 1}: bill_chunk {seconds:.3f}s, baseline {seconds_b:.3f}s, "
                f"ratio {seconds / seconds_b:.1f}; load average {os.getloadavg()[0]:.1f}"
            )
            await reset(url)

        counted: list[common.WireLog] = []
        await bill_big(big, start, counted)
        sql = counted[0]
        await reset(url)

        r = common.ratio(bill, base)
        log("")
        log(f"data set: {data_set}")
        log(bill.text(3))
        log(base.text(3))
        log(
            f"ratio (medians): {r:.1f} x baseline; bill_chunk median {bill.median:.2f}s "
            f"(target < {TARGET_SECONDS:.0f} s): "
            f"{'met' if bill.median < TARGET_SECONDS else 'MISSED'}"
        )
        log(
            f"statements sent to PostgreSQL for the account (asyncpg calls, BEGIN/COMMIT "
            f"included; an executemany or a COPY counts once): {len(sql.statements)}"
        )
        log(sql.summary())

        if args.profile or (not smoke and bill.median >= TARGET_SECONDS):
            log(await profile(big, start, bill.median))
            await reset(url)

        if not smoke and not args.no_record:
            await common.record_result(
                "big_account (bill_chunk, in-process)",
                data_set,
                f"bill_chunk {bill.min:.2f} / {bill.median:.2f} / {bill.max:.2f} s; baseline "
                f"{base.min:.3f} / {base.median:.3f} / {base.max:.3f} s; "
                f"{len(sql.statements)} statements",
                f"{r:.1f} x",
                f"< {TARGET_SECONDS:.0f} s",
                bill.median < TARGET_SECONDS,
            )
        print(
            json.dumps(
                {
                    "bench": "big_account",
                    "order_products": due,
                    "bill_s": bill.values,
                    "baseline_s": base.values,
                    "ratio": r,
                    "statements": len(sql.statements),
                }
            )
        )
    finally:
        await close_db()
        if not args.keep:
            await common.drop_database("big_account")


async def profile(account_id: int, target: date, expected: float) -> str:
    """py-spy on this very process while it bills the account once more."""
    if not common.pyspy_available():
        return "py-spy is not installed (pip install -e '.[bench]'): no profile"
    path = common.OUT / "big_account" / "profile.txt"
    spy = common.start_profiler(os.getpid(), expected * 5 + 30, path, rate=250)
    await asyncio.sleep(1)
    seconds, _ = await bill_big(account_id, target)
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
    return (
        f"\nprofile of bill_chunk on this process ({seconds:.2f}s; py-spy, collapsed stacks "
        f"in {path}):\n" + common.top_frames([path], top=30, rate=250, seconds=seconds + 1)
    )


def cli() -> None:
    p = common.parser(__doc__.split("\n", 1)[0])
    p.add_argument("--contracts", type=int, default=None, help="contracts (300; smoke 3)")
    p.add_argument("--lines", type=int, default=100, help="order products per contract (100)")
    p.add_argument(
        "--background",
        type=int,
        default=None,
        help="other accounts of 10 order products (1,000; smoke 5)",
    )
    common.run(main, p.parse_args())


if __name__ == "__main__":
    cli()

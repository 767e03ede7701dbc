"""Bench 4: upcomingRenewals over 100,000 contracts, first 50, by owner.

Data set: ``--contracts`` contracts (100,000) on accounts of 4 contracts each, owned
round-robin by ``--owners`` account managers (20). Each contract has 2 lines (an
annual platform fee and quarterly support) and a 12, 24 or 36-month term whose end
falls between 180 days ago and 3 years ahead; contracts already ended are EXPIRED,
the others ACTIVE; every other one renews automatically.

Measured, in this process: ``services.renewals.upcoming_renewals`` for one owner
(withinDays 90, first 50: the resolver asks for 51), and the whole GraphQL query
``upcomingRenewals(ownerId, first: 50)`` executed by Orbit's schema; against raw SQL
(asyncpg, one statement) returning the same contracts with what their annual values
need, computed with the same engine function. Target: <= 2 x. The plans of every
statement the service sends are printed (EXPLAIN ANALYZE); the page's must be an
index scan.

    python -m bench.renewals [--smoke] [--calls 50]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from bench import common
from bench.common import BENCH_TOKEN, Builder, Figures, Line, add_months, log

TARGET_RATIO = 2.0
WITHIN_DAYS = 90
PAGE = 50

RAW = """
WITH page AS (
    SELECT c.id, c.account_id, c.end_date, c.renewal_notice_days, c.auto_renew,
           c.renewal_uplift_percent
    FROM contracts c
    WHERE c.status = 'ACTIVE' AND c.owner_id = $1 AND c.end_date >= $2 AND c.end_date <= $3
    ORDER BY c.end_date, c.id
    LIMIT $4
)
SELECT page.*, a.currency, a.name AS account_name,
       op.contract_line_id, op.quantity, op.start_date AS op_start, op.end_date AS op_end,
       cl.unit_price, cl.pricing_term_months
FROM page
JOIN accounts a ON a.id = page.account_id
LEFT JOIN (order_products op
           JOIN orders o ON o.id = op.order_id AND o.status = 'ACTIVATED'
           JOIN contract_lines cl ON cl.id = op.contract_line_id)
       ON op.contract_id = page.id AND op.charge_type = 'RECURRING'
ORDER BY page.end_date, page.id
"""

GRAPHQL = """query Renewals($owner: ID!) {
  upcomingRenewals(withinDays: 90, ownerId: $owner, first: 50) {
    edges { cursor node {
      endDate daysUntilEnd noticeDeadline daysUntilNoticeDeadline autoRenew
      currentAnnualValue { amount currency } forecastAnnualValue { amount currency }
      contract { id number } account { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def build(url: str, contracts: int, owners: int) -> tuple[list[int], int, dict[str, int]]:
    from orbit import clock
    from orbit.engine.enums import BillingFrequency, ContractStatus
    from orbit.engine.terms import contract_term

    today = clock.today()
    b = Builder()
    admin = b.user("admin@orbit.local", "Administrator", "ADMIN", token=BENCH_TOKEN)
    owner_ids = [
        b.user(f"manager{i}@bench.local", f"Manager {i}", "ACCOUNT_MANAGER") for i in range(owners)
    ]
    platform = b.product(
        "REN-PLATFORM",
        "Platform",
        Decimal("12000"),
        billing_frequency=BillingFrequency.ANNUAL,
        pricing_term_months=12,
    )
    support = b.product(
        "REN-SUPPORT",
        "Support",
        Decimal("299.97"),
        billing_frequency=BillingFrequency.QUARTERLY,
        pricing_term_months=3,
    )
    span = 180 + 3 * 365
    conn = await asyncpg.connect(url)
    try:
        account = 0
        for n in range(contracts):
            if n % 4 == 0:
                account = b.account(
                    f"Account {n // 4:05d}", "USD", owner_id=owner_ids[(n // 4) % owners]
                )
            term = (12, 24, 36)[n % 3]
            end = today - timedelta(days=180) + timedelta(days=(n * 7919) % span)
            start = add_months(end + timedelta(days=1), -term)
            end = contract_term(start, term).end  # the contract's own (clamped) end
            assert end is not None
            b.contract(
                account,
                start,
                [
                    Line(platform, 1 + n % 3),
                    Line(support, 1 + n % 5, unit_price=Decimal("250") if n % 7 == 0 else None),
                ],
                term_months=term,
                auto_renew=n % 2 == 0,
                renewal_uplift_percent=Decimal("3.5") if n % 2 == 0 else Decimal(0),
                renewal_notice_days=(60, 90)[n % 2],
                status=ContractStatus.ACTIVE if end >= today else ContractStatus.EXPIRED,
            )
            if b.pending() > 200_000:
                await b.flush(conn)
        await b.flush(conn)
    finally:
        await conn.close()
    return owner_ids, admin, dict(b.written)


async def raw(conn: asyncpg.Connection, owner: int, as_of: date) -> list[tuple[Any, ...]]:
    """The page by hand: (contract id, end date, notice deadline, current, forecast)."""
    from orbit.engine.terms import RecurringRate, annual_value, uplifted_price

    rows = await conn.fetch(RAW, owner, as_of, as_of + timedelta(days=WITHIN_DAYS), PAGE + 1)
    contracts: dict[int, asyncpg.Record] = {}
    quantities: dict[int, dict[int, list[Any]]] = defaultdict(dict)
    for r in rows:
        contracts.setdefault(r["id"], r)
        line = r["contract_line_id"]
        if line is None:
            continue
        when = r["end_date"]
        if r["op_start"] <= when and (r["op_end"] is None or when <= r["op_end"]):
            entry = quantities[r["id"]].setdefault(
                line, [0, r["unit_price"], r["pricing_term_months"]]
            )
            entry[0] += r["quantity"]
    result = []
    for cid, c in contracts.items():
        currency = c["currency"]
        current, forecast = [], []
        for quantity, unit_price, months in quantities[cid].values():
            if quantity < 1:
                continue
            current.append(RecurringRate(quantity, unit_price, months))
            forecast.append(
                RecurringRate(
                    quantity,
                    uplifted_price(unit_price, c["renewal_uplift_percent"], currency),
                    months,
                )
            )
        result.append(
            (
                cid,
                c["end_date"],
                c["end_date"] - timedelta(days=c["renewal_notice_days"]),
                annual_value(current, currency),
                annual_value(forecast, currency),
            )
        )
    return result


async def main(args: argparse.Namespace) -> None:
    from orbit import clock
    from orbit.api.context import Context
    from orbit.api.schema import build_schema
    from orbit.db.connection import close_db, open_db
    from orbit.db.models import Role
    from orbit.services.access import Actor
    from orbit.services.ids import encode
    from orbit.services.renewals import RenewalWindow, upcoming_renewals

    smoke = args.smoke
    contracts = args.contracts or (2_000 if smoke else 100_000)
    calls = args.calls or (5 if smoke else 50)
    repeat = args.repeat or (1 if smoke else 3)

    await common.verify_builder()
    t = time.perf_counter()
    url = await common.fresh_database("renewals")
    owners, admin, written = await build(url, contracts, args.owners)
    await common.analyze(url)
    experiment = await common.apply_extra_sql(url, args.extra_sql)
    data_set = (
        f"{written['contracts']:,} contracts x 2 lines on {written['accounts']:,} "
        f"accounts of {args.owners} owners ({written['schedule_lines']:,} schedule "
        f"lines)"
    ) + experiment
    log(f"data set built in {time.perf_counter() - t:.1f}s: {data_set}")

    owner = owners[0]
    today = clock.today()
    actor = Actor(admin, Role.ADMIN, "Administrator")
    schema = build_schema(production=True)
    variables = {"owner": encode("User", owner)}

    async def service() -> list[tuple[Any, ...]]:
        items = await upcoming_renewals(
            actor, WITHIN_DAYS, today, RenewalWindow.END_DATE, owner, None, PAGE + 1
        )
        return [
            (
                i.contract.id,
                i.end_date,
                i.notice_deadline,
                i.current_annual_value,
                i.forecast_annual_value,
            )
            for i in items
        ]

    async def graphql() -> dict[str, Any]:
        result = await schema.execute(
            GRAPHQL, variable_values=variables, context_value=Context(None, None, actor)
        )
        if result.errors:
            raise AssertionError(result.errors)
        assert result.data is not None
        return result.data

    await open_db(url)
    conn = await asyncpg.connect(url)
    try:
        mine, theirs = await service(), await raw(conn, owner, today)
        if mine != theirs:
            raise AssertionError(f"raw SQL and the service differ:\n{mine[:3]}\n{theirs[:3]}")
        page = (await graphql())["upcomingRenewals"]
        assert len(page["edges"]) == min(PAGE, len(mine)), len(page["edges"])
        log(
            f"same page from the service and the raw SQL: {len(mine)} rows "
            f"({len(page['edges'])} shown, more: {page['pageInfo']['hasNextPage']})"
        )

        figures = {name: Figures(name, unit="ms") for name in ("service", "graphql", "raw")}
        kinds = {"service": service, "graphql": graphql, "raw": lambda: raw(conn, owner, today)}
        for work in kinds.values():  # warm-up
            for _ in range(max(3, calls // 5)):
                await work()
        for rep in range(repeat):
            for name, work in kinds.items():
                started = time.perf_counter()
                for _ in range(calls):
                    await work()
                figures[name].add((time.perf_counter() - started) / calls * 1000)
            log(
                f"  repetition {rep + 1}: "
                + ", ".join(f"{n} {f.values[-1]:.2f} ms" for n, f in figures.items())
                + f"; load average {os.getloadavg()[0]:.1f}"
            )

        with common.statements() as sql:
            await service()
        plans = await explain(conn, sql.statements, sql.values)
        raw_plan = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) " + RAW,
            owner,
            today,
            today + timedelta(days=WITHIN_DAYS),
            PAGE + 1,
        )

        r_service = common.ratio(figures["service"], figures["raw"])
        r_graphql = common.ratio(figures["graphql"], figures["raw"])
        log("")
        log(f"data set: {data_set}")
        log(
            f"one owner's window: withinDays {WITHIN_DAYS}, first {PAGE}; "
            f"per call, {calls} calls per repetition:"
        )
        for f in figures.values():
            log("  " + f.text(2))
        log(
            f"ratio (medians): service {r_service:.1f} x raw, GraphQL {r_graphql:.1f} x raw "
            f"(target <= {TARGET_RATIO:.0f} x): service "
            f"{'met' if r_service <= TARGET_RATIO else 'MISSED'}, GraphQL "
            f"{'met' if r_graphql <= TARGET_RATIO else 'MISSED'}"
        )
        log(f"\nthe service's {len(sql.statements)} statements and their plans:")
        log(plans)
        log("\nthe raw SQL's plan:")
        log("\n".join("    " + r[0] for r in raw_plan))
        index_scan = "Index" in plans.split("\n\n", 1)[0] and "Seq Scan on contracts" not in plans
        log(
            f"\nthe page's statement uses an index scan on contracts: "
            f"{'yes' if index_scan else 'NO'}"
        )

        if args.profile or (not smoke and max(r_service, r_graphql) > TARGET_RATIO):
            log(await profile(graphql, service))

        if not smoke and not args.no_record:
            await common.record_result(
                "renewals (in-process)",
                data_set,
                f"service {figures['service'].median:.1f} ms, GraphQL "
                f"{figures['graphql'].median:.1f} ms, raw {figures['raw'].median:.1f} ms "
                f"(medians; min/max: service {figures['service'].min:.1f}/"
                f"{figures['service'].max:.1f}, GraphQL {figures['graphql'].min:.1f}/"
                f"{figures['graphql'].max:.1f}, raw {figures['raw'].min:.1f}/"
                f"{figures['raw'].max:.1f}); {len(sql.statements)} statements; index scan: "
                f"{'yes' if index_scan else 'no'}",
                f"service {r_service:.1f} x, GraphQL {r_graphql:.1f} x",
                f"<= {TARGET_RATIO:.0f} x",
                max(r_service, r_graphql) <= TARGET_RATIO,
            )
        print(
            json.dumps(
                {
                    "bench": "renewals",
                    "contracts": written["contracts"],
                    **{f"{n}_ms": f.values for n, f in figures.items()},
                    "ratio_service": r_service,
                    "ratio_graphql": r_graphql,
                    "index_scan": index_scan,
                }
            )
        )
    finally:
        await conn.close()
        await close_db()
        if not args.keep:
            await common.drop_database("renewals")


async def profile(graphql: Any, service: Any, seconds: float = 8.0) -> str:
    """py-spy on this process while it answers the GraphQL query, then the service alone,
    over and over."""
    import asyncio
    import os
    import signal

    if not common.pyspy_available():
        return "py-spy is not installed (pip install -e '.[bench]'): no profile"
    out = []
    for name, work in (("the GraphQL query", graphql), ("the service", service)):
        kind = "graphql" if work is graphql else "service"
        path = common.OUT / "renewals" / f"profile-{kind}.txt"
        spy = common.start_profiler(os.getpid(), seconds + 30, path, rate=250)
        await asyncio.sleep(1)
        started = time.perf_counter()
        calls = 0
        while time.perf_counter() - started < seconds:
            await work()
            calls += 1
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
        out.append(
            f"\nprofile of {name}, {calls} calls in {seconds:.0f}s on this process (py-spy, "
            f"collapsed stacks in {path}):\n"
            + common.top_frames([path], top=25, rate=250, seconds=seconds + 1)
        )
    return "\n".join(out)


async def explain(conn: asyncpg.Connection, statements: list[str], values: list[list[Any]]) -> str:
    out = []
    for sql, params in zip(statements, values, strict=True):
        plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *params)
        out.append(
            "  " + " ".join(sql.split())[:400] + "\n" + "\n".join("    " + r[0] for r in plan)
        )
    return "\n\n".join(out)


def cli() -> None:
    p = common.parser(__doc__.split("\n", 1)[0])
    p.add_argument("--contracts", type=int, default=None, help="contracts (100,000; smoke 2,000)")
    p.add_argument("--owners", type=int, default=20, help="account managers owning them (20)")
    p.add_argument("--calls", type=int, default=None, help="calls per repetition (50; smoke 5)")
    common.run(main, p.parse_args())


if __name__ == "__main__":
    cli()

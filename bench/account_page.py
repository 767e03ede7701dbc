"""Bench 3: the account page over HTTP.

Data set: one account (owned by an account manager) with ``--contracts`` contracts
(20) of ``--lines`` monthly order products (5), started 24 months ago for 36 months,
and ``--invoices`` posted invoices (24) of ``--invoice-lines`` lines (10) each; plus
``--background`` other accounts (2,000) with one such contract of 5 lines and 6
invoices of 5 lines, so the tables are not the page's alone.

The query is the project's AccountPage operation, schema/operations/account-page.graphql,
with first: 24: the account, its owner, balance and holds; its contracts with their annual
recurring value and lines; its orders with their order products (next billing date,
billed through, on hold, billed amount: read from their schedules); its 24 latest
documents with their lines; its payments.

Measured: ``orbit serve`` in a subprocess (PostgreSQL, ORBIT_REDIS_URL set so no
embedded worker runs, ORBIT_ENV=production) against bench/raw_app.py (Starlette +
asyncpg, the same JSON, checked equal first), both under uvicorn, loaded from a
separate process by wrk (a Lua script posting the query) at concurrency 1 and 16:
p50 / p95 latency and requests/s. Target: <= 2 x. SQL statements per request are
counted once in-process (tortoise logs each one on "tortoise.db_client").

    python -m bench.account_page [--smoke] [--seconds 10] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx

from bench import common
from bench.common import BENCH_TOKEN, Builder, Figures, Line, add_months, log
from bench.invoice_run import PRICES

TARGET_RATIO = 2.0
#: the project's AccountPage operation (bench/raw_app.py answers exactly this operation)
OPERATION = common.ROOT / "schema" / "operations" / "account-page.graphql"
QUERY = OPERATION.read_text()


async def build(
    url: str, contracts: int, lines: int, invoices: int, invoice_lines: int, background: int
) -> tuple[int, dict[str, int]]:
    from orbit import clock

    b = Builder()
    b.user("admin@orbit.local", "Administrator", "ADMIN", token=BENCH_TOKEN)
    owner = b.user("olivia@bench.local", "Olivia Owner", "ACCOUNT_MANAGER")
    products = [
        b.product(f"PAGE-{i}", f"Product {i}", Decimal(price)) for i, price in enumerate(PRICES)
    ]
    start = add_months(clock.today().replace(day=1), -invoices)

    def month(k: int) -> date:
        return add_months(start, k)

    page = b.account("Page Account", "USD", billing_day_of_month=1, owner_id=owner)
    built = [
        b.contract(
            page,
            start,
            [Line(products[(n + k) % len(products)], 1 + (n + k) % 4) for k in range(lines)],
            term_months=36,
            keep_lines=True,
        )
        for n in range(contracts)
    ]
    ops = [op for c in built for op in c.order_products]
    for k in range(invoices):
        picked = {
            op.id: op
            for op in (ops[(k * invoice_lines + j) % len(ops)] for j in range(invoice_lines))
        }
        chosen = sorted(picked.values(), key=lambda o: (o.contract_id, o.id))
        b.invoice(page, [(op, op.lines[k]) for op in chosen], month(k), posted_on=month(k))
    conn = await asyncpg.connect(url)
    try:
        for n in range(background):
            account = b.account(
                f"Account {n:05d}",
                "USD",
                billing_day_of_month=1,
                owner_id=owner if n % 10 == 0 else None,
            )
            c = b.contract(
                account,
                start,
                [Line(products[(n + k) % len(products)], 1 + (n + k) % 5) for k in range(5)],
                term_months=36,
                keep_lines=True,
            )
            for k in range(min(6, invoices)):
                b.invoice(
                    account,
                    [(op, op.lines[k]) for op in c.order_products],
                    month(k),
                    posted_on=month(k),
                )
            if b.pending() > 200_000:
                await b.flush(conn)
        await b.flush(conn)
    finally:
        await conn.close()
    return page, dict(b.written)


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def parse_load(output: str) -> Load:
    for line in output.splitlines():
        if line.startswith("BENCH "):
            f = dict(part.split("=", 1) for part in line.split()[1:])
            return Load(
                int(f["requests"]),
                int(f["duration_us"]) / 1e6,
                int(f["p50_us"]) / 1e3,
                int(f["p95_us"]) / 1e3,
                int(f["p99_us"]) / 1e3,
                int(f["errors"]),
            )
    raise RuntimeError(f"no result from the load generator:\n{output[-2000:]}")


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def wrk_path() -> str | None:
    """wrk, unless missing or ORBIT_BENCH_NO_WRK is set (then bench.load is used)."""
    return None if os.environ.get("ORBIT_BENCH_NO_WRK") else shutil.which("wrk")


def load(port: int, body: str, connections: int, seconds: float, work: Path) -> Load:
    """Load from a separate process: wrk if installed, else bench.load."""
    url = f"http://127.0.0.1:{port}/graphql"
    wrk = wrk_path()
    if wrk:
        script = work / "account_page.lua"
        script.write_text(WRK_SCRIPT.format(body=body, token=BENCH_TOKEN))
        args = [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
    else:
        body_file = work / "account_page.json"
        body_file.write_text(body)
        args = [
            sys.executable,
            "-m",
            "bench.load",
            "--url",
            url,
            "--body-file",
            str(body_file),
            "--header",
            f"Authorization: Bearer {BENCH_TOKEN}",
            "--connections",
            str(connections),
            "--seconds",
            str(seconds),
        ]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=seconds + 60, cwd=common.ROOT
    )
    return parse_load(done.stdout + done.stderr)


async def count_statements(url: str, body: str) -> tuple[int, str, dict[str, object]]:
    """One request through Orbit's ASGI app in this process, counting tortoise's
    statements."""
    from orbit.api.app import create_app
    from orbit.config import Settings
    from orbit.db.connection import close_db, open_db

    await open_db(url)
    try:
        settings = Settings(database_url=url, redis_url=common.REDIS_URL, env="production")
        app = create_app(settings, manage_database=False, run_queue=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orbit") as client:
            headers = {"Authorization": f"Bearer {BENCH_TOKEN}", "Content-Type": "application/json"}
            await client.post("/graphql", content=body, headers=headers)  # warm
            with common.statements() as sql:
                response = await client.post("/graphql", content=body, headers=headers)
        return len(sql.statements), sql.summary(20), response.json()
    finally:
        await close_db()


def first_difference(a: object, b: object, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{path}.{key}: only in {'orbit' if key in a else 'raw'}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items from orbit, {len(b)} from raw"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: orbit {a!r}, raw {b!r}"


async def main(args: argparse.Namespace) -> None:
    smoke = args.smoke
    background = args.background if args.background is not None else (10 if smoke else 2000)
    seconds = args.seconds or (2.0 if smoke else 10.0)
    repeat = args.repeat or (1 if smoke else 3)
    work = common.OUT / "account_page"
    work.mkdir(parents=True, exist_ok=True)

    await common.verify_builder()
    t = time.perf_counter()
    url = await common.fresh_database("account_page")
    page, written = await build(
        url, args.contracts, args.lines, args.invoices, args.invoice_lines, background
    )
    await common.analyze(url)
    experiment = await common.apply_extra_sql(url, args.extra_sql)
    data_set = (
        f"1 account: {args.contracts} contracts x {args.lines} lines (36 monthly "
        f"schedule lines each), {args.invoices} posted invoices x {args.invoice_lines} "
        f"lines; plus {background:,} accounts x "
        f"(1 contract x 5 lines, 6 invoices x 5 lines); {written['schedule_lines']:,} "
        f"schedule lines, {written['invoice_lines']:,} invoice lines in all"
    ) + experiment
    log(f"data set built in {time.perf_counter() - t:.1f}s: {data_set}")
    page_size = max(args.contracts, args.invoices)
    data_set += f"; query {OPERATION.relative_to(common.ROOT)} with first: {page_size}"

    from orbit.services.ids import encode

    # first: 24 shows the whole page: 20 contracts and orders, 24 documents
    body = json.dumps(
        {
            "query": QUERY,
            "operationName": "AccountPage",
            "variables": {"id": encode("Account", page), "first": page_size},
        }
    )
    n_statements, summary, in_process = await count_statements(url, body)

    orbit_port, raw_port = common.free_port(), common.free_port()
    orbit = common.start_process(
        [
            sys.executable,
            "-m",
            "orbit.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(orbit_port),
        ],
        common.orbit_env(url),
        work / "orbit-serve.log",
    )
    raw = common.start_process(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.raw_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(raw_port),
        ],
        {**common.orbit_env(url), "BENCH_DATABASE_URL": url},
        work / "raw-app.log",
    )
    servers = {"orbit": (orbit, orbit_port), "raw": (raw, raw_port)}
    results: dict[tuple[str, int], list[Load]] = {}
    try:
        for process, port in servers.values():
            await common.wait_for_port(port, process=process)
        headers = {"Authorization": f"Bearer {BENCH_TOKEN}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(timeout=30) as client:
            answers = {}
            raw_statements = "?"
            for name, (_, port) in servers.items():
                response = await client.post(
                    f"http://127.0.0.1:{port}/graphql", content=body, headers=headers
                )
                response.raise_for_status()
                answers[name] = response.json()
                if name == "raw":
                    raw_statements = response.headers.get("x-statements", "?")
        if "errors" in answers["orbit"] or answers["orbit"].get("data", {}).get("account") is None:
            raise AssertionError(f"orbit answered {json.dumps(answers['orbit'])[:1000]}")
        difference = first_difference(answers["orbit"], answers["raw"])
        if difference:
            raise AssertionError(f"the raw endpoint does not return Orbit's JSON: {difference}")
        if first_difference(in_process, answers["orbit"]):
            raise AssertionError("the in-process answer differs from the server's")
        data = answers["orbit"]["data"]["account"]
        size = len(json.dumps(answers["orbit"]))
        log(f"query: {OPERATION.relative_to(common.ROOT)}, first: {page_size}")
        log(
            f"same JSON from both ({size:,} bytes; {len(data['contracts']['edges'])} contracts, "
            f"{sum(len(e['node']['lines']) for e in data['contracts']['edges'])} contract lines, "
            f"{len(data['orders']['edges'])} orders, "
            f"{sum(len(e['node']['products']) for e in data['orders']['edges'])} order products, "
            f"{len(data['invoices']['edges'])} invoices, "
            f"{sum(len(e['node']['lines']) for e in data['invoices']['edges'])} invoice lines)"
        )
        log(f"load generator: {'wrk' if wrk_path() else 'bench.load (no wrk)'}")

        for connections in (1, 16):
            for _, port in servers.values():  # warm-up
                load(port, body, connections, min(2.0, seconds), work)
            for rep in range(repeat):
                for name, (_, port) in servers.items():
                    result = load(port, body, connections, seconds, work)
                    if result.errors:
                        raise AssertionError(f"{name}: {result.errors} errors under load")
                    results.setdefault((name, connections), []).append(result)
                    log(
                        f"  c={connections:2d} {name:5s} rep {rep + 1}: {result.rps:7.1f} req/s, "
                        f"p50 {result.p50_ms:6.1f} ms, p95 {result.p95_ms:6.1f} ms; load average "
                        f"{os.getloadavg()[0]:.1f}"
                    )

        lines_out = [
            "",
            f"data set: {data_set}",
            f"SQL statements per request: Orbit {n_statements} (tortoise's log), raw "
            f"{raw_statements}",
            summary,
        ]
        ratios: dict[str, float] = {}
        figures_text = []
        for connections in (1, 16):
            per: dict[str, dict[str, Figures]] = {}
            for name in servers:
                runs = results[(name, connections)]
                per[name] = {
                    "rps": Figures(f"{name} req/s", [r.rps for r in runs], "req/s"),
                    "p50": Figures(f"{name} p50", [r.p50_ms for r in runs], "ms"),
                    "p95": Figures(f"{name} p95", [r.p95_ms for r in runs], "ms"),
                }
            o, r = per["orbit"], per["raw"]

            def divide(a: float, b: float) -> float:
                return a / b if b > 0 else float("inf")  # a smoke run may finish nothing

            ratios[f"c{connections} p50"] = divide(o["p50"].median, r["p50"].median)
            ratios[f"c{connections} p95"] = divide(o["p95"].median, r["p95"].median)
            ratios[f"c{connections} req/s"] = divide(r["rps"].median, o["rps"].median)
            lines_out.append(f"concurrency {connections}:")
            for name in servers:
                for key in ("rps", "p50", "p95"):
                    lines_out.append("  " + per[name][key].text(1))
            lines_out.append(
                f"  ratios (medians): p50 {ratios[f'c{connections} p50']:.1f} x, p95 "
                f"{ratios[f'c{connections} p95']:.1f} x, throughput "
                f"{ratios[f'c{connections} req/s']:.1f} x lower"
            )
            figures_text.append(
                f"c={connections}: orbit {o['rps'].median:.0f} req/s, p50 {o['p50'].median:.1f} "
                f"ms, p95 {o['p95'].median:.1f} ms; raw {r['rps'].median:.0f} req/s, p50 "
                f"{r['p50'].median:.1f} ms, p95 {r['p95'].median:.1f} ms"
            )
        worst = max(ratios.values())
        lines_out.append(
            f"worst ratio {worst:.1f} x (target <= {TARGET_RATIO:.0f} x): "
            f"{'met' if worst <= TARGET_RATIO else 'MISSED'}"
        )
        log("\n".join(lines_out))

        if args.profile or (not smoke and worst > TARGET_RATIO):
            log(profile(orbit, orbit_port, body, seconds, work))

        if not smoke and not args.no_record:
            await common.record_result(
                "account_page (HTTP, uvicorn)",
                data_set,
                "; ".join(figures_text) + f"; {n_statements} statements per request "
                f"(raw {raw_statements})",
                ", ".join(f"{k} {v:.1f} x" for k, v in ratios.items()),
                f"<= {TARGET_RATIO:.0f} x",
                worst <= TARGET_RATIO,
            )
        print(
            json.dumps(
                {
                    "bench": "account_page",
                    "statements": n_statements,
                    "ratios": ratios,
                    "results": {
                        f"{n}/c{c}": [r.__dict__ for r in v] for (n, c), v in results.items()
                    },
                }
            )
        )
    finally:
        common.stop_processes([orbit, raw])
        if not args.keep:
            await common.drop_database("account_page")


def profile(
    orbit: subprocess.Popen[bytes], port: int, body: str, seconds: float, work: Path
) -> str:
    """py-spy on the orbit serve process under load at concurrency 16."""
    if not common.pyspy_available():
        return "py-spy is not installed (pip install -e '.[bench]'): no profile"
    path, gil_path = work / "profile-serve.txt", work / "profile-serve-gil.txt"
    spies = [
        common.start_profiler(orbit.pid, seconds + 30, path),
        common.start_profiler(orbit.pid, seconds + 30, gil_path, gil=True),
    ]
    time.sleep(1)
    result = load(port, body, 16, seconds, work)
    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
    return (
        f"\nprofile of orbit serve under load (c=16, {result.rps:.0f} req/s; py-spy, "
        f"collapsed stacks in {work}):\n"
        + common.top_frames([path], top=30, seconds=result.seconds)
        + "\n  the same, counting only samples holding the GIL (Python's own CPU):\n"
        + common.top_frames([gil_path], top=30, seconds=result.seconds)
    )


def cli() -> None:
    p = common.parser(__doc__.split("\n", 1)[0])
    p.add_argument("--contracts", type=int, default=20)
    p.add_argument("--lines", type=int, default=5, help="lines per contract (5)")
    p.add_argument("--invoices", type=int, default=24)
    p.add_argument("--invoice-lines", type=int, default=10, help="lines per invoice (10)")
    p.add_argument("--background", type=int, default=None, help="other accounts (2,000; smoke 10)")
    p.add_argument("--seconds", type=float, default=None, help="per load (10; smoke 2)")
    common.run(main, p.parse_args())


if __name__ == "__main__":
    cli()

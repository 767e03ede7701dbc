"""The ``orbit`` command: serve, worker, migrate, invoice-run, users, demo,
export-schema and check."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from orbit import config


def _settings() -> config.Settings:
    try:
        return config.load()
    except config.ConfigError as error:
        print(f"orbit: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


async def _with_db(
    settings: config.Settings, work: Callable[[], Awaitable[Any]], migrate_sqlite: bool = True
) -> Any:
    from orbit.db.connection import close_db, open_db
    from orbit.db.migrations import migrate, pending

    await open_db(settings.database_url)
    try:
        if settings.database_kind == "sqlite" and migrate_sqlite:
            await migrate()
        elif await pending():
            print(
                "orbit: the database is behind its migrations: run `orbit migrate` first",
                file=sys.stderr,
            )
            raise SystemExit(1)
        return await work()
    finally:
        await close_db()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orbit.api.app import create_app
    from orbit.logs import configure
    from orbit.setup import first_run

    settings = _settings()
    configure(settings, "api")
    asyncio.run(first_run(settings, demo=args.demo, host=args.host, port=args.port))
    uvicorn.run(
        create_app(settings), host=args.host, port=args.port, log_config=None, proxy_headers=True
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from arq.worker import create_worker

    from workers.settings import WorkerSettings

    settings = _settings()
    if settings.redis_url is None:
        print(
            "orbit worker needs ORBIT_REDIS_URL; without it, `orbit serve` runs the jobs itself",
            file=sys.stderr,
        )
        return 2
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port)
    return supervise(lambda: create_worker(WorkerSettings).run())  # type: ignore[arg-type]


def supervise(run: Callable[[], Any], attempts: int = 0) -> int:
    """Run the worker; if Redis or the database goes away for longer than the
    client retries last, start it again (stop with SIGTERM or Ctrl-C)."""
    import logging
    import time

    log = logging.getLogger("orbit.workers")
    failures = 0
    while True:
        try:
            run()
            return 0
        except KeyboardInterrupt:
            return 0
        except (OSError, ConnectionError) as error:
            failures += 1
            if attempts and failures >= attempts:
                raise
            delay = min(30.0, 2.0 ** min(failures, 5))
            log.warning(
                "worker stopped (%s: %s); starting again in %.0fs",
                type(error).__name__,
                error,
                delay,
            )
            time.sleep(delay)
        except Exception as error:
            if type(error).__module__.startswith(("redis", "asyncpg", "tortoise")):
                failures += 1
                if attempts and failures >= attempts:
                    raise
                log.warning("worker stopped (%s); starting again", type(error).__name__)
                time.sleep(min(30.0, 2.0 ** min(failures, 5)))
                continue
            raise


def _migrate(args: argparse.Namespace) -> int:
    from orbit.db.connection import close_db, open_db
    from orbit.db.migrations import migrate

    settings = _settings()

    async def run() -> list[str]:
        await open_db(settings.database_url)
        try:
            return await migrate()
        finally:
            await close_db()

    applied = asyncio.run(run())
    print(f"applied: {', '.join(applied)}" if applied else "the database is up to date")
    return 0


def _invoice_run(args: argparse.Namespace) -> int:
    from orbit.runner import start_and_follow

    settings = _settings()
    return int(
        asyncio.run(
            _with_db(
                settings,
                lambda: start_and_follow(
                    settings,
                    args.target_date,
                    args.invoice_date,
                    args.account or None,
                    args.auto_post,
                    args.wait,
                ),
            )
        )
    )


def _users_create(args: argparse.Namespace) -> int:
    from orbit.db.models import Role
    from orbit.services.access import Actor, create_user
    from orbit.services.errors import DomainError

    settings = _settings()

    async def work() -> int:
        try:
            user, token = await create_user(Actor.system(), args.email, args.name, Role(args.role))
        except DomainError as error:
            print(f"orbit: {error}", file=sys.stderr)
            return 1
        print(f"created {user.role.value} {user.email}")
        print(f"token (shown once): {token}")
        return 0

    return int(asyncio.run(_with_db(settings, work)))


def _demo(args: argparse.Namespace) -> int:
    from orbit.demo import load_demo

    settings = _settings()

    async def work() -> int:
        summary = await load_demo(force=args.force)
        print(summary)
        return 0

    return int(asyncio.run(_with_db(settings, work)))


def _export_schema(args: argparse.Namespace) -> int:
    from orbit.api.schema import sdl

    text = sdl()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from orbit.setup import check

    return int(asyncio.run(check()))


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orbit", description="Orbit: billing for contract-based B2B subscriptions."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the API (embedded mode: SQLite and in-process jobs by default)",
        description="Run the GraphQL API. Without ORBIT_REDIS_URL the jobs run in this process; "
        "with the default SQLite database it migrates itself and loads demo data on first start.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="load the demo data set now")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker",
        help="run a background worker (needs ORBIT_REDIS_URL)",
        description="Run an arq worker: invoice runs, holds, renewals, the sweeper. Start as "
        "many as you like.",
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve this worker's Prometheus metrics on this port",
    )
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply every pending migration, in order.",
    )
    migrate.set_defaults(handler=_migrate)

    run = commands.add_parser(
        "invoice-run",
        help="start an invoice run (and follow it with --wait)",
        description="Start an invoice run. With ORBIT_REDIS_URL workers carry it out; without "
        "it, this command does.",
    )
    run.add_argument("--target-date", type=_date, required=True, help="bill lines due by then")
    run.add_argument("--invoice-date", type=_date, help="documents' date (default: target)")
    run.add_argument(
        "--account",
        action="append",
        type=int,
        metavar="ID",
        help="limit to this account id (repeatable)",
    )
    run.add_argument("--auto-post", action="store_true", help="post the documents")
    run.add_argument("--wait", action="store_true", help="follow the run with a progress bar")
    run.set_defaults(handler=_invoice_run)

    users = commands.add_parser("users", help="manage users", description="Manage users.")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = user_commands.add_parser(
        "create",
        help="create a user and print their API token once",
        description="Create a user; the API token is printed once and stored only hashed.",
    )
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--role", required=True, choices=["ADMIN", "FINANCE", "ACCOUNT_MANAGER", "VIEWER"]
    )
    create.set_defaults(handler=_users_create)

    demo = commands.add_parser(
        "demo",
        help="load the demo data set",
        description="Load realistic demo data (about 20 accounts).",
    )
    demo.add_argument("--force", action="store_true", help="load even if data exists")
    demo.set_defaults(handler=_demo)

    export = commands.add_parser(
        "export-schema",
        help="print the GraphQL SDL",
        description="Write the served GraphQL schema (SDL).",
    )
    export.add_argument("--output", default="-", help="file to write (default: stdout)")
    export.set_defaults(handler=_export_schema)

    check = commands.add_parser(
        "check",
        help="check configuration and connectivity",
        description="Validate the configuration and reach the database and Redis.",
    )
    check.set_defaults(handler=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from orbit.db.migrations import MigrationError

    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return int(handler(args))
    except MigrationError as error:  # a changed step: for a person to fix, no traceback
        print(f"orbit: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

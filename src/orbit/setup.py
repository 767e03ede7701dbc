"""First start of the embedded mode, and ``orbit check``."""

from __future__ import annotations

import sys
from pathlib import Path

from orbit.config import ConfigError, Settings, load

TOKEN_FILE = Path("data/admin-token")


async def first_run(settings: Settings, demo: bool, host: str, port: int) -> None:
    """On the embedded database: migrate, make sure an admin token exists, load the demo
    data on first start (or with --demo), and say where to go."""
    from orbit.db.connection import close_db, open_db
    from orbit.db.migrations import migrate
    from orbit.db.models import Account
    from orbit.services.access import ensure_admin, new_token

    if settings.database_kind != "sqlite":
        return
    await open_db(settings.database_url)
    try:
        await migrate()
        token = settings.admin_token
        if token is None:
            if TOKEN_FILE.exists():
                token = TOKEN_FILE.read_text().strip()
            else:
                token = new_token()
                TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
                TOKEN_FILE.write_text(token + "\n")
                TOKEN_FILE.chmod(0o600)
        await ensure_admin(token)
        loaded = ""
        if demo or not await Account.exists():
            from orbit.demo import load_demo

            loaded = await load_demo(force=demo)
    finally:
        await close_db()
    print(f"\nOrbit is starting on http://{host}:{port}", file=sys.stderr)
    if not settings.production:
        print(f"  GraphiQL:    http://{host}:{port}/graphql", file=sys.stderr)
    print(f"  admin token: {token}   (send it as 'Authorization: Bearer <token>')", file=sys.stderr)
    if loaded:
        print(f"  demo data:   {loaded}", file=sys.stderr)
    print(file=sys.stderr)


async def check() -> int:
    """Validate the configuration and reach the database and Redis; 0 when all is well."""
    try:
        settings = load()
    except ConfigError as error:
        print(f"configuration: FAILED: {error}")
        return 2
    print(f"configuration: ok (ORBIT_ENV={settings.env})")
    ok = True
    from orbit.db.connection import close_db, open_db
    from orbit.db.migrations import MigrationError, pending

    try:
        await open_db(settings.database_url)
        try:
            behind = await pending()
        finally:
            await close_db()
        if behind:
            print(
                f"database: reachable, but {len(behind)} migration(s) pending: run `orbit migrate`"
            )
            ok = settings.database_kind == "sqlite"
        else:
            print(f"database: ok ({settings.database_kind})")
    except MigrationError as error:
        print(f"database: FAILED: {error}")
        ok = False
    except Exception as error:  # reported to the operator, not raised
        print(
            f"database: FAILED: cannot reach {settings.database_url}: "
            f"{type(error).__name__}: {error}"
        )
        ok = False
    if settings.redis_url is None:
        print("redis: not configured (jobs run inside `orbit serve`)")
    else:
        from redis.asyncio import Redis

        client = Redis.from_url(settings.redis_url, socket_connect_timeout=3)
        try:
            await client.ping()
            print("redis: ok")
        except Exception as error:  # reported to the operator, not raised
            print(f"redis: FAILED: cannot reach {settings.redis_url}: {type(error).__name__}")
            ok = False
        finally:
            await client.aclose()
    return 0 if ok else 1

"""Opening and closing the database (PostgreSQL or SQLite) through tortoise."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient

MODELS = ["orbit.db.models"]


def tortoise_config(url: str) -> dict[str, Any]:
    return {
        "connections": {"default": normalise_url(url)},
        "apps": {"models": {"models": MODELS, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def normalise_url(url: str) -> str:
    """Accept postgresql:// as well as postgres:// and make SQLite folders exist."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and ":memory:" not in url:
        path = url[len("sqlite://") :].split("?", 1)[0]
        if path:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def dialect_of(url: str) -> str:
    scheme = urlparse(normalise_url(url)).scheme
    if scheme.startswith("postgres") or scheme == "asyncpg":
        return "postgres"
    if scheme == "sqlite":
        return "sqlite"
    raise ValueError(f"unsupported database URL scheme {scheme!r}")


async def open_db(url: str) -> None:
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


def db() -> BaseDBAsyncClient:
    client: BaseDBAsyncClient = connections.get("default")
    return client


def dialect() -> str:
    name = db().capabilities.dialect
    return "postgres" if name.startswith("postgres") else name

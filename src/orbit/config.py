"""Configuration from the environment, checked once at start."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite://data/orbit.sqlite3"
ENVIRONMENTS = ("development", "production", "test")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    admin_token: str | None = None
    env: str = "development"
    log_level: str = "INFO"
    worker_concurrency: int = 10
    scheduled_run_time: time | None = None
    scheduled_run_timezone: str = "UTC"
    graphiql_assets: str | None = None
    sweep_stall_seconds: int = 60
    sweep_max_restarts: int = 5

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def embedded_queue(self) -> bool:
        """No Redis configured: jobs run in the API process."""
        return self.redis_url is None

    @property
    def database_kind(self) -> str:
        from orbit.db.connection import dialect_of

        return dialect_of(self.database_url)


#: name, meaning, default (for the README table)
VARIABLES: tuple[tuple[str, str, str], ...] = (
    (
        "ORBIT_DATABASE_URL",
        "PostgreSQL (`postgres://user@host:5432/db`) or SQLite (`sqlite://path/to/file.sqlite3`)",
        DEFAULT_DATABASE_URL,
    ),
    (
        "ORBIT_REDIS_URL",
        "Redis for the job queue (`redis://host:6379/0`); unset: jobs run inside `orbit serve`",
        "unset",
    ),
    ("ORBIT_ADMIN_TOKEN", "a bearer token that is made an ADMIN's on start", "unset"),
    (
        "ORBIT_ENV",
        "`development`, `production` (JSON logs; no GraphiQL, no introspection) or `test`",
        "development",
    ),
    ("ORBIT_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR", "INFO"),
    ("ORBIT_WORKER_CONCURRENCY", "jobs one worker process runs at once", "10"),
    (
        "ORBIT_SCHEDULED_RUN_TIME",
        "daily invoice run at HH:MM (target date: that day); unset: none",
        "unset",
    ),
    ("ORBIT_SCHEDULED_RUN_TIMEZONE", "IANA time zone of the scheduled run", "UTC"),
    (
        "ORBIT_GRAPHIQL_ASSETS",
        "a folder with GraphiQL's scripts (`scripts/fetch-graphiql-assets`), "
        "served by Orbit instead of unpkg.com, for machines without internet access",
        "unset",
    ),
    (
        "ORBIT_SWEEP_STALL_SECONDS",
        "how long an invoice run may make no progress before the sweeper restarts it",
        "60",
    ),
    (
        "ORBIT_SWEEP_MAX_RESTARTS",
        "restarts the sweeper gives a run in a row without progress; then the run is FAILED",
        "5",
    ),
)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value is not None and value.strip() else None

    url = get("ORBIT_DATABASE_URL") or DEFAULT_DATABASE_URL
    if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
        raise ConfigError(
            f"ORBIT_DATABASE_URL={url!r}: use postgres://user@host:5432/db or sqlite://path"
        )
    redis_url = get("ORBIT_REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"ORBIT_REDIS_URL={redis_url!r}: use redis://host:6379/0")
    environment = (get("ORBIT_ENV") or "development").lower()
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"ORBIT_ENV={environment!r}: use one of {', '.join(ENVIRONMENTS)}")
    level = (get("ORBIT_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"ORBIT_LOG_LEVEL={level!r}: use one of {', '.join(LOG_LEVELS)}")
    concurrency_text = get("ORBIT_WORKER_CONCURRENCY") or "10"
    if not concurrency_text.isdigit() or not 1 <= int(concurrency_text) <= 1000:
        raise ConfigError(f"ORBIT_WORKER_CONCURRENCY={concurrency_text!r}: a number from 1 to 1000")
    run_time = None
    run_time_text = get("ORBIT_SCHEDULED_RUN_TIME")
    if run_time_text is not None:
        try:
            run_time = time.fromisoformat(run_time_text)
        except ValueError:
            raise ConfigError(
                f"ORBIT_SCHEDULED_RUN_TIME={run_time_text!r}: use HH:MM, e.g. 02:00"
            ) from None
    zone = get("ORBIT_SCHEDULED_RUN_TIMEZONE") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"ORBIT_SCHEDULED_RUN_TIMEZONE={zone!r}: not an IANA time zone") from None
    assets = get("ORBIT_GRAPHIQL_ASSETS")
    if assets is not None and not os.path.isdir(assets):
        raise ConfigError(
            f"ORBIT_GRAPHIQL_ASSETS={assets!r} is not a folder: run scripts/fetch-graphiql-assets"
        )
    stall = _whole(get, "ORBIT_SWEEP_STALL_SECONDS", 60, 1, 86_400)
    restarts = _whole(get, "ORBIT_SWEEP_MAX_RESTARTS", 5, 0, 1000)
    token = get("ORBIT_ADMIN_TOKEN")
    if token is not None and len(token) < 16:
        raise ConfigError("ORBIT_ADMIN_TOKEN is too short: use at least 16 characters")
    return Settings(
        database_url=url,
        redis_url=redis_url,
        admin_token=token,
        env=environment,
        log_level=level,
        worker_concurrency=int(concurrency_text),
        scheduled_run_time=run_time,
        scheduled_run_timezone=zone,
        graphiql_assets=assets,
        sweep_stall_seconds=stall,
        sweep_max_restarts=restarts,
    )


def _whole(get: Callable[[str], str | None], name: str, default: int, low: int, high: int) -> int:
    text = get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{name}={text!r}: a whole number from {low} to {high}")
    return int(text)

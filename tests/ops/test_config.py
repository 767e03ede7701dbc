"""Configuration is checked once, with messages that name the variable and the fix."""

from __future__ import annotations

from datetime import time

import pytest

from orbit.config import DEFAULT_DATABASE_URL, ConfigError, load


def test_defaults_are_the_embedded_mode() -> None:
    settings = load({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_kind == "sqlite"
    assert settings.embedded_queue
    assert (settings.env, settings.log_level, settings.worker_concurrency) == (
        "development",
        "INFO",
        10,
    )
    assert settings.scheduled_run_time is None


def test_production_settings_are_read() -> None:
    settings = load(
        {
            "ORBIT_DATABASE_URL": "postgresql://orbit@db:5432/orbit",
            "ORBIT_REDIS_URL": "redis://redis:6379/0",
            "ORBIT_ENV": "production",
            "ORBIT_LOG_LEVEL": "warning",
            "ORBIT_WORKER_CONCURRENCY": "4",
            "ORBIT_SCHEDULED_RUN_TIME": "02:30",
            "ORBIT_SCHEDULED_RUN_TIMEZONE": "Europe/Paris",
            "ORBIT_ADMIN_TOKEN": "x" * 32,
        }
    )
    assert settings.production and not settings.embedded_queue
    assert settings.database_kind == "postgres"
    assert settings.log_level == "WARNING"
    assert settings.worker_concurrency == 4
    assert settings.scheduled_run_time == time(2, 30)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ORBIT_DATABASE_URL", "mysql://x", "ORBIT_DATABASE_URL"),
        ("ORBIT_REDIS_URL", "http://redis", "ORBIT_REDIS_URL"),
        ("ORBIT_ENV", "staging", "ORBIT_ENV"),
        ("ORBIT_LOG_LEVEL", "LOUD", "ORBIT_LOG_LEVEL"),
        ("ORBIT_WORKER_CONCURRENCY", "0", "ORBIT_WORKER_CONCURRENCY"),
        ("ORBIT_WORKER_CONCURRENCY", "many", "ORBIT_WORKER_CONCURRENCY"),
        ("ORBIT_SCHEDULED_RUN_TIME", "25:99", "ORBIT_SCHEDULED_RUN_TIME"),
        ("ORBIT_SCHEDULED_RUN_TIMEZONE", "Mars/Base", "ORBIT_SCHEDULED_RUN_TIMEZONE"),
        ("ORBIT_ADMIN_TOKEN", "short", "ORBIT_ADMIN_TOKEN"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(
    variable: str, value: str, named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        load({variable: value})

"""Every `orbit` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import backend

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["serve", "worker", "migrate", "invoice-run", "users", "demo", "export-schema", "check"]


def orbit(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orbit.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ORBIT_LOG_LEVEL": "WARNING", **(env or {})},
        cwd=cwd or ROOT,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh embedded database of its own."""
    yield {"ORBIT_DATABASE_URL": f"sqlite://{tmp_path / 'orbit.sqlite3'}", "ORBIT_REDIS_URL": ""}


def test_every_command_has_help() -> None:
    top = orbit("--help")
    assert top.returncode == 0
    for command in COMMANDS:
        assert command in top.stdout
        assert orbit(command, "--help").returncode == 0
    assert "create" in orbit("users", "--help").stdout


def test_migrate_applies_each_step_once(home: dict[str, str]) -> None:
    first = orbit("migrate", env=home)
    again = orbit("migrate", env=home)
    assert first.returncode == again.returncode == 0
    from orbit.db.migrations import steps

    assert first.stdout.strip() == "applied: " + ", ".join(step.name for step in steps())
    assert again.stdout.strip() == "the database is up to date"


def test_a_changed_step_is_named_by_migrate_and_check(home: dict[str, str]) -> None:
    """A step applied in one form and found in another (simulated by altering its
    recorded checksum): `orbit migrate` and `orbit check` name it, without a traceback."""
    import sqlite3

    assert orbit("migrate", env=home).returncode == 0
    path = home["ORBIT_DATABASE_URL"].removeprefix("sqlite://")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE orbit_migrations SET checksum = 'x' WHERE name = '0002_guards'")
    migrate = orbit("migrate", env=home)
    assert migrate.returncode == 1
    assert "0002_guards" in migrate.stderr and "Traceback" not in migrate.stderr
    assert "0001_initial" not in migrate.stderr
    check = orbit("check", env=home)
    assert check.returncode == 1
    assert "database: FAILED: migration step(s) changed" in check.stdout
    assert "0002_guards" in check.stdout


def test_users_create_prints_the_token_once(home: dict[str, str]) -> None:
    made = orbit(
        "users",
        "create",
        "--email",
        "fin@example.com",
        "--name",
        "Fin",
        "--role",
        "FINANCE",
        env=home,
    )
    again = orbit(
        "users",
        "create",
        "--email",
        "fin@example.com",
        "--name",
        "Fin",
        "--role",
        "FINANCE",
        env=home,
    )
    assert made.returncode == 0
    assert "created FINANCE fin@example.com" in made.stdout
    assert made.stdout.count("orb_") == 1
    assert again.returncode == 1 and "exists" in again.stderr


def test_export_schema_writes_the_committed_schema(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    result = orbit("export-schema", "--output", str(target))
    assert result.returncode == 0
    assert target.read_text() == (ROOT / "schema" / "schema.graphql").read_text()


def test_demo_then_an_invoice_run_followed_to_the_end(home: dict[str, str]) -> None:
    demo = orbit("demo", env=home)
    assert demo.returncode == 0, demo.stderr
    again = orbit("demo", env=home)
    assert "skipped" in again.stdout
    run = orbit("invoice-run", "--target-date", "2030-01-01", "--wait", env=home)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "COMPLETED" in run.stdout
    assert "accounts" in run.stderr  # the progress bar


def test_check_reports_each_part(home: dict[str, str]) -> None:
    good = orbit("check", env=home)
    assert good.returncode == 0
    assert "configuration: ok" in good.stdout and "database:" in good.stdout
    bad_config = orbit("check", env={**home, "ORBIT_ENV": "staging"})
    assert bad_config.returncode == 2 and "ORBIT_ENV" in bad_config.stdout
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    unreachable = orbit(
        "check",
        env={
            **home,
            "ORBIT_DATABASE_URL": f"postgres://nobody@127.0.0.1:{closed}/none",
            "ORBIT_REDIS_URL": f"redis://127.0.0.1:{closed}/0",
        },
    )
    assert unreachable.returncode == 1
    assert "database: FAILED" in unreachable.stdout
    assert "redis: FAILED" in unreachable.stdout


def test_worker_without_redis_explains_itself(home: dict[str, str]) -> None:
    result = orbit("worker", env=home)
    assert result.returncode == 2
    assert "ORBIT_REDIS_URL" in result.stderr


def test_serve_starts_migrates_and_prints_a_working_admin_token(
    home: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "orbit.cli", "serve", "--port", str(port)],
        env={**os.environ, **home, "ORBIT_LOG_LEVEL": "WARNING"},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        token = (tmp_path / "data" / "admin-token").read_text().strip()
        me = httpx.post(
            f"{base}/graphql",
            json={"query": "{ me { role } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert me.json() == {"data": {"me": {"role": "ADMIN"}}}
        assert (
            httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=10).status_code
            == 200
        )
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert token in err
    assert f"GraphiQL:    {base}/graphql" in err


@pytest.mark.skipif(backend() != "postgres", reason="needs Redis and PostgreSQL")
def test_worker_runs_until_stopped(home: dict[str, str]) -> None:
    env = {
        **os.environ,
        **home,
        "ORBIT_REDIS_URL": "redis://127.0.0.1:6379/15",
        "ORBIT_LOG_LEVEL": "WARNING",
    }
    assert orbit("migrate", env=home).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "orbit.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(4)
    assert process.poll() is None, process.communicate()[0]
    process.terminate()
    assert process.wait(timeout=30) == 0

"""Health, readiness, metrics, request ids, logs, and the refusal to start on a
database that is behind its migrations."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from orbit import config
from orbit.api.app import create_app, prepare_database
from orbit.logs import JsonFormatter, configure
from orbit.services import runs
from tests.services import factory
from tests.services.factory import SYSTEM
from tests.support import TestDatabase

pytestmark = pytest.mark.usefixtures("clean")


@pytest.fixture
async def client(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(config.Settings(database_url=database.url, env="test"), manage_database=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orbit.test") as c:
            yield c


async def test_health_answers_while_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_checks_the_database_and_the_queue(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "queue": "ok"}


async def test_ready_says_unavailable_when_the_queue_is_down(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down() -> None:
        raise ConnectionError("no redis")

    app = client._transport.app  # type: ignore[attr-defined]
    monkeypatch.setattr(app.state.queue.pool, "ping", down)
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["queue"] == "error: ConnectionError"
    assert response.json()["database"] == "ok"


async def test_metrics_count_runs_lines_holds_and_requests(client: httpx.AsyncClient) -> None:
    from workers.jobs import bill_run_chunk, start_invoice_run

    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    await factory.contract(acme, seats, date(2026, 1, 1), quantity=2)
    before = await _metric(client, "orbit_lines_billed_total")
    run = await runs.start_run(SYSTEM, runs.RunRequest(date(2026, 3, 1)))

    class Inline:
        async def enqueue_job(self, name: str, *args: object, **_: object) -> None:
            await bill_run_chunk({"job_try": 1}, *args)  # type: ignore[arg-type]

    await start_invoice_run({"redis": Inline(), "job_try": 1}, run.id)
    await client.post("/graphql", json={"query": "query Probe { __typename }"})
    text = (await client.get("/metrics")).text
    assert await _metric(client, "orbit_lines_billed_total") - before == 3
    assert 'orbit_graphql_request_seconds_count{kind="query",operation="Probe"}' in text
    assert "orbit_invoice_run_seconds_count" in text
    assert "orbit_active_holds 0.0" in text


async def _metric(client: httpx.AsyncClient, name: str) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    fresh = await client.get("/health")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(fresh.headers["x-request-id"]) == 32


def test_production_logs_are_json_lines_with_the_request_id() -> None:
    from orbit import logs

    configure(config.Settings(env="production"), "api")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.stream = stream  # type: ignore[attr-defined]
    assert isinstance(handler.formatter, JsonFormatter)
    token = logs.request_id.set("req-7")
    try:
        logging.getLogger("orbit.test").warning("hello %s", "there")
    finally:
        logs.request_id.reset(token)
        configure(config.Settings(env="test"), "api")
    entry = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert entry["message"] == "hello there"
    assert (entry["level"], entry["request_id"], entry["component"]) == ("WARNING", "req-7", "api")


async def test_the_api_refuses_a_postgres_database_behind_its_migrations(
    database: TestDatabase,
) -> None:
    if database.kind != "postgres":
        pytest.skip("the embedded SQLite database migrates itself")
    from orbit.db.connection import db

    await db().execute_script("DELETE FROM orbit_migrations WHERE name = '0002_guards'")
    try:
        with pytest.raises(RuntimeError, match="run `orbit migrate`"):
            await prepare_database(config.Settings(database_url=database.url))
    finally:
        await db().execute_script("INSERT INTO orbit_migrations (name) VALUES ('0002_guards')")

"""Prometheus metrics, served at /metrics (and by workers on their own port)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

REQUEST_SECONDS = Histogram(
    "orbit_graphql_request_seconds", "GraphQL operation latency", ["operation", "kind"]
)
RUN_SECONDS = Histogram(
    "orbit_invoice_run_seconds",
    "Invoice run duration, from start to finish",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
LINES_BILLED = Counter("orbit_lines_billed_total", "Schedule lines put on documents by runs")
DOCUMENTS_CREATED = Counter("orbit_documents_created_total", "Documents created by runs")
JOBS = Counter("orbit_jobs_total", "Background jobs by outcome", ["function", "outcome"])

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_OPERATIONS = 200
_seen: set[str] = set()


def operation_label(name: str | None) -> str:
    """Client-chosen operation names, bounded so they cannot flood the registry."""
    if not name or not _NAME.match(name):
        return "anonymous"
    if name not in _seen:
        if len(_seen) >= _MAX_OPERATIONS:
            return "other"
        _seen.add(name)
    return name


class RequestTimer(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value if context.operation_type else "unknown"
        except RuntimeError:  # no document: it did not parse (the client gets the syntax error)
            kind = "unknown"
        REQUEST_SECONDS.labels(operation_label(context.operation_name), kind).observe(
            time.perf_counter() - started
        )


class ActiveHolds(Collector):
    """The number of active holds, read from the database at scrape time."""

    def __init__(self) -> None:
        self.value: float = 0.0

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily("orbit_active_holds", "Billing holds not released")
        family.add_metric([], self.value)
        yield family


ACTIVE_HOLDS = ActiveHolds()
REGISTRY.register(ACTIVE_HOLDS)


async def refresh_gauges() -> None:
    from orbit.db.models import BillingHold

    ACTIVE_HOLDS.value = float(await BillingHold.filter(released_at=None).count())


async def metrics_endpoint(request: Request) -> Response:
    with contextlib.suppress(Exception):  # a scrape never fails because the database is away
        await refresh_gauges()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

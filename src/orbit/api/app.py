"""The HTTP application: POST /graphql (GraphiQL on GET outside production),
GET /health (liveness), GET /ready (database and queue), GET /metrics."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from orbit import config
from orbit.api.context import Context, build_context
from orbit.api.schema import build_schema

log = logging.getLogger("orbit.api")

MAX_BODY = 1024 * 1024


ASSETS_PATH = "/graphiql-assets/"


class OrbitGraphQL(GraphQL[Context, None]):
    #: serve GraphiQL's scripts from Orbit itself instead of unpkg.com, when set
    local_assets: bool = False

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        return await build_context(request, response)

    async def render_graphql_ide(self, request: Request) -> Response:
        page = self.graphql_ide_html
        if self.local_assets:
            page = page.replace("https://unpkg.com/", ASSETS_PATH)
        return HTMLResponse(page)


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` (with or without Content-Length)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PlainTextResponse("request body too large (limit 1 MiB)", status_code=413)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            message: dict[str, Any] = dict(await receive())
            return message

        body = b"".join(chunks)
        if scope["path"] == "/graphql" and scope["method"] == "POST":
            problem = graphql_body_problem(dict(scope["headers"]).get(b"content-type"), body)
            if problem is not None:
                status, why = problem
                await PlainTextResponse(why, status_code=status)(scope, receive, send)
                return
        await self.app(scope, replay, send)


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def graphql_body_problem(content_type: bytes | None, body: bytes) -> tuple[int, str] | None:
    """Why a POST to /graphql cannot be a GraphQL request (status, message), or None:
    the body must be UTF-8 JSON, an object with a string ``query``, an object or null
    ``variables`` and a string or null ``operationName``."""
    kind = (content_type or b"").split(b";")[0].strip().lower()
    if kind != b"application/json":
        return 415, "Content-Type must be application/json"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return 400, f"the body is not UTF-8 (byte {error.start})"
    try:
        request = json.loads(text)
    except (ValueError, RecursionError):
        return 400, "the body is not JSON"
    if not isinstance(request, dict):
        return 400, "the body must be a JSON object with a query"
    if not isinstance(request.get("query"), str):
        return 400, "the body's query must be a string"
    if not isinstance(request.get("variables") or {}, dict):
        return 400, "the body's variables must be an object"
    if not isinstance(request.get("operationName") or "", str):
        return 400, "the body's operationName must be a string"
    if _has_lone_surrogate(request):
        return 400, "the body holds a lone surrogate escape (not UTF-8 text)"
    return None


class RequestId:
    """Give every request an id (from X-Request-ID, or a new one) for the logs, and
    return it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import uuid

        from orbit import logs

        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        value = given if 0 < len(given) <= 100 and given.isprintable() else uuid.uuid4().hex
        token = logs.request_id.set(value)

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", value.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)  # type: ignore[arg-type]
        finally:
            logs.request_id.reset(token)


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    from orbit.db.connection import db

    checks: dict[str, str] = {}
    try:
        await db().execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # readiness reports, never raises
        checks["database"] = f"error: {type(error).__name__}"
    queue = getattr(request.app.state, "queue", None)
    try:
        if queue is not None:
            await queue.pool.ping()
        checks["queue"] = "ok"
    except Exception as error:  # readiness reports, never raises
        checks["queue"] = f"error: {type(error).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", **checks},
        status_code=200 if healthy else 503,
    )


async def prepare_database(settings: config.Settings) -> None:
    """Open the database; the embedded SQLite migrates itself, PostgreSQL must be
    migrated with ``orbit migrate`` first."""
    from orbit.db.connection import open_db
    from orbit.db.migrations import migrate, pending
    from orbit.services.access import ensure_admin

    await open_db(settings.database_url)
    if settings.database_kind == "sqlite":
        applied = await migrate()
        if applied:
            log.info("database migrated: %s", ", ".join(applied))
    else:
        behind = await pending()
        if behind:
            raise RuntimeError(
                f"the database is behind by {len(behind)} migration(s) ({', '.join(behind)}): "
                "run `orbit migrate` first"
            )
    if settings.admin_token:
        await ensure_admin(settings.admin_token)


def create_app(
    settings: config.Settings | None = None, *, manage_database: bool = True, run_queue: bool = True
) -> Starlette:
    settings = settings or config.load()
    graphql = OrbitGraphQL(
        build_schema(production=settings.production),
        graphql_ide=None if settings.production else "graphiql",
        allow_queries_via_get=False,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from orbit.queue import open_queue

        if manage_database:
            await prepare_database(settings)
        app.state.queue = await open_queue(settings) if run_queue else None
        try:
            yield
        finally:
            if app.state.queue is not None:
                await app.state.queue.close()
            if manage_database:
                from orbit.db.connection import close_db

                await close_db()

    from orbit.metrics import metrics_endpoint

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/health", health),
        Route("/ready", ready),
        Route("/metrics", metrics_endpoint),
    ]
    if settings.graphiql_assets is not None and not settings.production:
        graphql.local_assets = True
        routes.append(
            Mount(ASSETS_PATH.rstrip("/"), StaticFiles(directory=settings.graphiql_assets))
        )
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestId), Middleware(BodySizeLimit, max_bytes=MAX_BODY)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.queue = None
    return app

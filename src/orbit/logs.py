"""Logging: readable lines in development, JSON lines in production, each carrying
the request id or invoice run id of the work it belongs to."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from orbit.config import Settings

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
run_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("run_id", default=None)


class ContextFilter(logging.Filter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        record.component = self.component
        record.request_id = request_id.get()
        record.run_id = run_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "component": getattr(record, "component", None),
        }
        for key in ("request_id", "run_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [
            f"{k}={getattr(record, k)}"
            for k in ("request_id", "run_id")
            if getattr(record, k, None) is not None
        ]
        return f"{line} [{' '.join(tags)}]" if tags else line


def configure(settings: Settings, component: str = "api") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter(component))
    if settings.production:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # tortoise logs every statement at DEBUG; keep it quiet unless asked
    logging.getLogger("tortoise").setLevel(max(logging.INFO, root.level))
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)

"""The time Orbit believes it is. Tests and demos may pin it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_fixed: datetime | None = None


def now() -> datetime:
    return _fixed if _fixed is not None else datetime.now(UTC)


def today(timezone: str = "UTC") -> date:
    """The calendar date in ``timezone`` (an IANA name)."""
    return now().astimezone(ZoneInfo(timezone)).date()


def pin(moment: datetime | None) -> None:
    """Freeze the clock at ``moment`` (aware), or release it with None."""
    global _fixed
    if moment is not None and moment.tzinfo is None:
        raise ValueError("pin the clock with an aware datetime")
    _fixed = moment

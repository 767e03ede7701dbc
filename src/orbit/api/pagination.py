"""Relay connections: PageInfo, cursors and keyset paging (at most 100 a page)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from tortoise.models import Model
from tortoise.queryset import QuerySet

from orbit.api.errors import BadInput

MAX_PAGE = 100
DEFAULT_PAGE = 50

M = TypeVar("M", bound=Model)
T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise BadInput(f"first must be between 0 and {MAX_PAGE}")
    return first


def encode_cursor(value: int | str) -> str:
    return base64.urlsafe_b64encode(f"c:{value}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise BadInput("after is not a cursor from this API") from None
    if not raw.startswith("c:"):
        raise BadInput("after is not a cursor from this API")
    return raw[2:]


def decode_int_cursor(cursor: str) -> int:
    try:
        return int(decode_cursor(cursor))
    except ValueError:
        raise BadInput("after is not a cursor from this API") from None


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next: bool
    has_previous: bool

    @property
    def page_info(self) -> PageInfo:
        return PageInfo(
            has_next_page=self.has_next,
            has_previous_page=self.has_previous,
            start_cursor=self.cursors[0] if self.cursors else None,
            end_cursor=self.cursors[-1] if self.cursors else None,
        )


async def keyset(
    query: QuerySet[M], first: int | None, after: str | None, newest_first: bool = False
) -> Page[M]:
    """A page of ``query`` ordered by id; the cursor is the id, so rows added while a
    client pages never shift what it sees."""
    size = page_size(first)
    if after is not None:
        last = decode_int_cursor(after)
        query = query.filter(id__lt=last) if newest_first else query.filter(id__gt=last)
    rows = await query.order_by("-id" if newest_first else "id").limit(size + 1)
    items = list(rows[:size])
    return Page(items, [encode_cursor(r.pk) for r in items], len(rows) > size, after is not None)


def offset_page(
    items: Sequence[T], first: int | None, after: str | None, key: Callable[[T], Any] | None = None
) -> Page[T]:
    """A page of an already computed list (cursor = position)."""
    size = page_size(first)
    start = decode_int_cursor(after) + 1 if after is not None else 0
    chosen = list(items[start : start + size])
    cursors = [encode_cursor(start + i) for i in range(len(chosen))]
    return Page(chosen, cursors, start + size < len(items), start > 0)

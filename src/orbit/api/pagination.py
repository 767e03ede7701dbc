"""Relay connections: PageInfo, cursors and keyset paging (at most 100 a page)."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
from tortoise.models import Model
from tortoise.queryset import QuerySet

from orbit.api.errors import BadInput
from orbit.services.ids import BIGINT_MAX, max_id

MAX_PAGE = 100
DEFAULT_PAGE = 50

M = TypeVar("M", bound=Model)
T = TypeVar("T")
E = TypeVar("E")
N = TypeVar("N")


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
    """The id (or position) in a cursor: ASCII digits, below 2^63."""
    text = decode_cursor(cursor)
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > BIGINT_MAX:
        raise BadInput("after is not a cursor from this API")
    return int(text)


def _after(model: type[Model], last: int, newest_first: bool) -> dict[str, int]:
    """The keyset filter for rows after the id ``last``, with ``last`` kept within what
    the table's id column holds (an INT column cannot be compared with 2^40)."""
    limit = max_id(model)
    if newest_first:
        return {"id__lte": min(last - 1, limit)}
    return {"id__gt": min(last, limit)}


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
        query = query.filter(**_after(query.model, decode_int_cursor(after), newest_first))
    rows = await query.order_by("-id" if newest_first else "id").limit(size + 1)
    items = list(rows[:size])
    return Page(items, [encode_cursor(r.pk) for r in items], len(rows) > size, after is not None)


@dataclass(frozen=True)
class PageKey:
    """One parent's page of a nested connection (a DataLoader key)."""

    parent: int
    size: int
    after: int | None = None
    #: only rows whose status is one of these
    statuses: tuple[str, ...] | None = None
    #: only rows of accounts this owner owns (an account manager's scope)
    owner: int | None = None


def paged(
    model: type[M], column: str, newest_first: bool = False
) -> Callable[[list[PageKey]], Awaitable[list[list[M]]]]:
    """A DataLoader batch function: the keyset page (plus one row, to tell whether there
    is a next page) of each parent, for all parents at once. It reads the ids of the
    parents' rows (an index scan), picks each page, then loads those rows: two
    statements however many parents, and never more rows than the pages hold."""

    async def load(keys: list[PageKey]) -> list[list[M]]:
        chosen: dict[PageKey, list[int]] = {}
        groups: dict[tuple[Any, ...], list[PageKey]] = defaultdict(list)
        for key in keys:
            groups[(key.size, key.after, key.statuses, key.owner)].append(key)
        for (size, after, statuses, owner), group in groups.items():
            query = model.filter(**{f"{column}__in": sorted({k.parent for k in group})})
            if statuses:
                query = query.filter(status__in=list(statuses))
            if owner is not None:
                query = query.filter(account__owner_id=owner)
            if after is not None:
                query = query.filter(**_after(model, after, newest_first))
            ordered = query.order_by("-id" if newest_first else "id")
            per_parent: dict[int, list[int]] = defaultdict(list)
            for parent, row_id in await ordered.values_list(column, "id"):
                if len(per_parent[parent]) <= size:
                    per_parent[parent].append(row_id)
            for key in group:
                chosen[key] = per_parent.get(key.parent, [])
        wanted = sorted({row_id for ids in chosen.values() for row_id in ids})
        rows = {row.pk: row for row in await model.filter(id__in=wanted)} if wanted else {}
        return [[rows[row_id] for row_id in chosen[key]] for key in keys]

    return load


async def nested_page(
    loader: DataLoader[PageKey, list[M]],
    parent: int,
    first: int | None,
    after: str | None,
    statuses: Sequence[Enum] | None = None,
    owner: int | None = None,
) -> Page[M]:
    """The page of a nested connection through a ``paged`` DataLoader (the same rows and
    cursors as ``keyset``)."""
    size = page_size(first)
    key = PageKey(
        parent,
        size,
        decode_int_cursor(after) if after is not None else None,
        tuple(sorted(s.value for s in statuses)) if statuses else None,
        owner,
    )
    rows = await loader.load(key)
    items = rows[:size]
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


def edges_of(page: Page[T], edge: Callable[..., E], node: Callable[[T], N]) -> list[E]:
    """The edges of a connection: each item of the page as a node, with its cursor."""
    return [
        edge(cursor=c, node=node(item)) for item, c in zip(page.items, page.cursors, strict=True)
    ]

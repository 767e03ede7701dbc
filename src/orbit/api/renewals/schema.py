"""upcomingRenewals: when each customer renews, and by when to call."""

from __future__ import annotations

from datetime import date

import strawberry

from orbit import clock
from orbit.api.context import Info
from orbit.api.errors import BadInput
from orbit.api.ids import row_id
from orbit.api.pagination import PageInfo, decode_cursor, encode_cursor, page_size
from orbit.api.renewals.types import Renewal, RenewalConnection, RenewalEdge
from orbit.services.access import Permission
from orbit.services.ids import INT_MAX
from orbit.services.renewals import RenewalWindow, upcoming_renewals

MAX_WINDOW_DAYS = 3660


def _after(cursor: str | None) -> tuple[date, int] | None:
    if cursor is None:
        return None
    text = decode_cursor(cursor)
    day, _, contract = text.partition("/")
    if not contract.isascii() or not contract.isdigit() or len(contract) > 10:
        raise BadInput("after is not a cursor from this API")
    try:
        value = date.fromisoformat(day), int(contract)
    except ValueError:
        raise BadInput("after is not a cursor from this API") from None
    if value[1] > INT_MAX:
        raise BadInput("after is not a cursor from this API")
    return value


@strawberry.type
class RenewalQueries:
    @strawberry.field(
        description="Active contracts not yet renewed whose end date or notice deadline (by) "
        "falls within withinDays of asOf (default today), soonest first."
    )
    async def upcoming_renewals(
        self,
        info: Info,
        within_days: int = 90,
        as_of: date | None = None,
        by: RenewalWindow = RenewalWindow.END_DATE,
        owner_id: strawberry.ID | None = None,
        auto_renew: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> RenewalConnection:
        actor = info.context.require(Permission.READ)
        if not 0 <= within_days <= MAX_WINDOW_DAYS:
            raise BadInput(f"withinDays must be between 0 and {MAX_WINDOW_DAYS}")
        size = page_size(first)
        owner = None if owner_id is None else (row_id(owner_id, "User") or -1)
        items = await upcoming_renewals(
            actor,
            within_days,
            as_of or clock.today(),
            by,
            owner,
            auto_renew,
            size + 1,
            _after(after),
        )
        page = items[:size]
        edges = []
        for item in page:
            key = item.end_date if by is RenewalWindow.END_DATE else item.notice_deadline
            edges.append(
                RenewalEdge(
                    cursor=encode_cursor(f"{key.isoformat()}/{item.contract.id}"),
                    node=Renewal.of(item),
                )
            )
        return RenewalConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(items) > size,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

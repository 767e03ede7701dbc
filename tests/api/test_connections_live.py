"""Keyset connections while rows are added: a client paging newest first never sees a
row twice, nor misses one, when new rows arrive between its pages."""

from __future__ import annotations

import httpx
import pytest

from tests.api.builders import World, build_world
from tests.api.conftest import Api, settle
from tests.api.test_connections import CONNECTIONS, identities, page


@pytest.fixture
async def world(app_client: httpx.AsyncClient) -> World:
    return await build_world()


@pytest.mark.parametrize("name", ["auditEvents", "invoices"])
async def test_rows_added_while_paging_newest_first_shift_nothing(
    app_client: httpx.AsyncClient, world: World, name: str
) -> None:
    """Keyset pages: new invoices and audit events (newer, so ahead of the cursor) never
    push an older row onto a second page twice, nor out of it."""
    api = Api(app_client, world.users["FINANCE"].token)
    connection = CONNECTIONS[name]
    before = identities(await page(api, {}, connection, 100, None), connection)
    first = await page(api, {}, connection, 2, None)
    # more of both: a run bills March for both accounts, and writes its audit event
    await api.data("""mutation { startInvoiceRun(input: {targetDate: "2026-03-01"}) {
                        invoiceRun { id } } }""")
    await settle(app_client)
    seen = identities(first, connection)
    after = first["pageInfo"]["endCursor"]
    while after is not None:
        result = await page(api, {}, connection, 2, after)
        seen += identities(result, connection)
        after = result["pageInfo"]["endCursor"] if result["pageInfo"]["hasNextPage"] else None
    assert seen == before
    now = identities(await page(api, {}, connection, 100, None), connection)
    assert len(now) > len(before)  # the new rows are there, on top
    assert now[-len(before) :] == before


async def test_active_holds_page_full_and_their_cursors_are_their_edges(
    app_client: httpx.AsyncClient, world: World
) -> None:
    """Holds whose releaseOn date has come are no longer active, even before a worker
    releases them: they are left out of activeOnly pages, which still hold ``first``
    holds while there are more, with cursors of the edges they show."""
    from datetime import UTC, date, datetime

    from orbit import clock
    from orbit.db.models import HoldScope
    from orbit.services import holds
    from tests.api.builders import SYSTEM, row_of

    contract = row_of(world.own["contract"])
    for day in (16, 17, 18):  # lapse before the 20th
        await holds.place_hold(
            SYSTEM, holds.HoldInput(HoldScope.CONTRACT, contract, "lapsing", date(2026, 2, day))
        )
    for _ in range(2):
        await holds.place_hold(SYSTEM, holds.HoldInput(HoldScope.CONTRACT, contract, "standing"))
    clock.pin(datetime(2026, 2, 20, 12, tzinfo=UTC))
    api = Api(app_client, world.users["VIEWER"].token)
    query = """query($after: String) { holds(first: 2, after: $after) {
                 edges { cursor node { id reason active } }
                 pageInfo { hasNextPage startCursor endCursor } } }"""
    pages, after = [], None
    while True:
        result = (await api.data(query, {"after": after}))["holds"]
        pages.append([e["node"]["reason"] for e in result["edges"]])
        assert all(e["node"]["active"] for e in result["edges"])
        if result["edges"]:
            assert result["pageInfo"]["startCursor"] == result["edges"][0]["cursor"]
            assert result["pageInfo"]["endCursor"] == result["edges"][-1]["cursor"]
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    # newest first: the two standing holds, then the world's two (other's, own's)
    assert pages == [["standing", "standing"], ["awaiting approval", "awaiting approval"]]

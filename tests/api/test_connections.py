"""Every connection pages with first/after: no duplicates, no gaps, at most 100 a page
(50 by default). The tests share one read-only world, built once for the module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orbit import clock
from orbit.db.models import HoldScope, Role
from orbit.services import amendments, holds
from orbit.services.receivables import record_payment
from tests.api import builders
from tests.api.builders import SYSTEM, gid
from tests.api.conftest import TODAY, Api, wipe


@pytest.fixture(autouse=True)
async def clean() -> AsyncIterator[None]:
    """The tests of this module share ``pager`` (they only read): no wipe per test."""
    clock.pin(TODAY)
    yield
    clock.pin(None)


@pytest.fixture(scope="module")
async def pager(database: object) -> AsyncIterator[dict[str, str]]:
    """Seven of everything: accounts (each with a contract), runs, and on the first
    account seven contracts, seven orders on its first contract, seven payments and
    seven holds."""
    await wipe()
    clock.pin(TODAY)
    viewer = await builders.user(Role.VIEWER)
    seats = await builders.product(sku="SEAT")
    addon = await builders.product("5.00", sku="ADDON")
    accounts = [await builders.account(f"Pager {i}") for i in range(7)]
    first = accounts[0]
    contracts = []
    for owner in accounts:
        contract, _ = await builders.contract(owner, seats)
        contracts.append(contract)
    for _ in range(6):
        await builders.contract(first, seats)
    for month in range(6):  # orders 2..7 of the first contract
        await amendments.amend_contract(
            SYSTEM,
            amendments.AmendmentInput(
                contracts[0].id,
                date(2026, 3 + month, 1),
                [amendments.ChangeInput(quantity=1, product_id=addon.id)],
            ),
        )
    runs = [await builders.run(date(2026, month, 1), auto_post=True) for month in range(1, 8)]
    for day in range(1, 8):
        await record_payment(SYSTEM, first.id, Decimal("1.00"), date(2026, 2, day), f"p{day}")
        await holds.place_hold(
            SYSTEM, holds.HoldInput(HoldScope.CONTRACT, contracts[0].id, f"hold {day}")
        )
    yield {
        "token": viewer.token,
        "account": gid("Account", first.id),
        "contract": gid("Contract", contracts[0].id),
        "run": gid("InvoiceRun", runs[0].id),
    }
    clock.pin(None)


@dataclass(frozen=True)
class Connection:
    #: the connection's field, with $first and $after (and $id when it needs one)
    document: str
    #: where the connection is in the data
    path: tuple[str, ...]
    #: what identifies a node: the path to an ID in it
    identity: tuple[str, ...] = ("id",)
    parent: str | None = None


CONNECTIONS = {
    "accounts": Connection("accounts(first: $first, after: $after)", ("accounts",)),
    "invoices": Connection("invoices(first: $first, after: $after)", ("invoices",)),
    "payments": Connection("payments(first: $first, after: $after)", ("payments",)),
    "holds": Connection("holds(activeOnly: false, first: $first, after: $after)", ("holds",)),
    "invoiceRuns": Connection("invoiceRuns(first: $first, after: $after)", ("invoiceRuns",)),
    "auditEvents": Connection("auditEvents(first: $first, after: $after)", ("auditEvents",)),
    "upcomingRenewals": Connection(
        "upcomingRenewals(withinDays: 365, first: $first, after: $after)",
        ("upcomingRenewals",),
        ("contract", "id"),
    ),
    "receivablesAging": Connection(
        'receivablesAging(asOf: "2026-02-15") { accounts(first: $first, after: $after)',
        ("receivablesAging", "accounts"),
        ("account", "id"),
    ),
    "Account.contracts": Connection(
        "account(id: $id) { contracts(first: $first, after: $after)",
        ("account", "contracts"),
        parent="account",
    ),
    "Account.orders": Connection(
        "account(id: $id) { orders(first: $first, after: $after)",
        ("account", "orders"),
        parent="account",
    ),
    "Account.invoices": Connection(
        "account(id: $id) { invoices(first: $first, after: $after)",
        ("account", "invoices"),
        parent="account",
    ),
    "Account.payments": Connection(
        "account(id: $id) { payments(first: $first, after: $after)",
        ("account", "payments"),
        parent="account",
    ),
    "Contract.orders": Connection(
        "contract(id: $id) { orders(first: $first, after: $after)",
        ("contract", "orders"),
        parent="contract",
    ),
    "InvoiceRun.invoices": Connection(
        "invoiceRun(id: $id) { invoices(first: $first, after: $after)",
        ("invoiceRun", "invoices"),
        parent="run",
    ),
}


def query_of(connection: Connection) -> str:
    node = "id"
    for key in reversed(connection.identity[:-1]):
        node = f"{key} {{ {node} }}"
    closing = "}" * connection.document.count("{")
    head = "$first: Int, $after: String" + (", $id: ID!" if connection.parent else "")
    return (
        f"query({head}) {{ {connection.document} {{ edges {{ cursor node {{ {node} }} }} "
        f"pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} {closing} }}"
    )


async def page(
    api: Api, pager: dict[str, str], connection: Connection, first: int | None, after: str | None
) -> dict[str, Any]:
    variables: dict[str, Any] = {"first": first, "after": after}
    if connection.parent:
        variables["id"] = pager[connection.parent]
    data: Any = await api.data(query_of(connection), variables)
    for key in connection.path:
        data = data[key]
    result: dict[str, Any] = data
    return result


def identities(result: dict[str, Any], connection: Connection) -> list[str]:
    found = []
    for edge in result["edges"]:
        value = edge["node"]
        for key in connection.identity:
            value = value[key]
        found.append(value)
    return found


@pytest.mark.parametrize("name", sorted(CONNECTIONS))
async def test_paging_has_no_duplicates_and_no_gaps(
    app_client: httpx.AsyncClient, pager: dict[str, str], name: str
) -> None:
    connection = CONNECTIONS[name]
    api = Api(app_client, pager["token"])
    everything = await page(api, pager, connection, 100, None)
    expected = identities(everything, connection)
    assert len(expected) >= 7, expected  # three pages of three at least
    assert len(set(expected)) == len(expected)
    assert everything["pageInfo"]["hasNextPage"] is False

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        result = await page(api, pager, connection, 3, after)
        pages += 1
        ids = identities(result, connection)
        info = result["pageInfo"]
        assert len(ids) <= 3
        assert info["hasPreviousPage"] is (after is not None)
        if ids:
            assert info["startCursor"] == result["edges"][0]["cursor"]
            assert info["endCursor"] == result["edges"][-1]["cursor"]
        seen += ids
        if not info["hasNextPage"]:
            break
        assert len(ids) == 3  # only the last page is short
        after = info["endCursor"]
        assert pages < 50
    assert seen == expected  # the same rows, in the same order: no duplicate, no gap
    assert pages == -(-len(expected) // 3)


@pytest.mark.parametrize("name", ["accounts", "auditEvents"])
async def test_a_page_holds_at_most_100_and_50_by_default(
    app_client: httpx.AsyncClient, pager: dict[str, str], name: str
) -> None:
    connection = CONNECTIONS[name]
    api = Api(app_client, pager["token"])
    total = len(identities(await page(api, pager, connection, 100, None), connection))
    default = await page(api, pager, connection, None, None)
    assert len(default["edges"]) == min(total, 50)
    assert default["pageInfo"]["hasNextPage"] is (total > 50)
    body = await api.post(query_of(connection), {"first": 101, "after": None})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]

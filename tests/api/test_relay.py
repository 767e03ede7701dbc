"""Relay: node(id) resolves every Node type of the schema, for whoever may see it (the
tests share one read-only world). Connections: test_connections.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from graphql import GraphQLInterfaceType

from orbit import clock
from orbit.api.schema import build_schema
from tests.api.builders import World, build_world
from tests.api.conftest import TODAY, Api, wipe

_SCHEMA = build_schema()._schema
_NODE = _SCHEMA.type_map["Node"]
assert isinstance(_NODE, GraphQLInterfaceType)
NODE_TYPES = sorted(t.name for t in _SCHEMA.get_possible_types(_NODE))

#: an entity of each Node type in a World (the own side, or the other)
EXAMPLES: dict[str, Callable[[World, dict[str, str]], str]] = {
    "Account": lambda w, s: s["account"],
    "User": lambda w, s: w.manager.gid if s is w.own else w.users["ADMIN"].gid,
    "Product": lambda w, s: w.product,
    "Contract": lambda w, s: s["contract"],
    "ContractLine": lambda w, s: s["contractLine"],
    "Order": lambda w, s: s["order"],
    "OrderProduct": lambda w, s: s["orderProduct"],
    "ScheduleLine": lambda w, s: s["scheduleLine"],
    "Invoice": lambda w, s: s["postedInvoice"],
    "InvoiceLine": lambda w, s: s["invoiceLine"],
    "InvoiceRun": lambda w, s: w.run_posted,
    "Payment": lambda w, s: s["payment"],
    "BillingHold": lambda w, s: s["hold"],
    "AuditEvent": lambda w, s: s["auditEvent"],
}
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


@pytest.fixture(autouse=True)
async def clean() -> AsyncIterator[None]:
    """The tests of this module share ``world`` (they only read): no wipe per test."""
    clock.pin(TODAY)
    yield
    clock.pin(None)


@pytest.fixture(scope="module")
async def world(database: object) -> AsyncIterator[World]:
    await wipe()
    clock.pin(TODAY)
    yield await build_world()
    clock.pin(None)


def test_every_node_type_has_an_example() -> None:
    assert sorted(EXAMPLES) == NODE_TYPES


@pytest.mark.parametrize("type_name", NODE_TYPES)
async def test_node_resolves_every_type(
    app_client: httpx.AsyncClient, world: World, type_name: str
) -> None:
    example = EXAMPLES.get(type_name)
    assert example is not None, f"no example of {type_name}"
    for side in (world.own, world.other):
        global_id = example(world, side)
        data = await Api(app_client, world.users["VIEWER"].token).data(NODE, {"id": global_id})
        assert data["node"] == {"__typename": type_name, "id": global_id}


#: what an account manager reads by node(id): (own side, other side)
MANAGER_SEES = {name: (True, False) for name in EXAMPLES}
MANAGER_SEES["Product"] = (True, True)  # the catalogue is everyone's
MANAGER_SEES["InvoiceRun"] = (False, False)  # runs span accounts: not for managers


@pytest.mark.parametrize("type_name", NODE_TYPES)
async def test_node_of_another_account_reads_as_null_for_a_manager(
    app_client: httpx.AsyncClient, world: World, type_name: str
) -> None:
    manager = Api(app_client, world.manager.token)
    for side, seen in zip((world.own, world.other), MANAGER_SEES[type_name], strict=True):
        global_id = EXAMPLES[type_name](world, side)
        data = await manager.data(NODE, {"id": global_id})
        assert data["node"] == ({"__typename": type_name, "id": global_id} if seen else None)

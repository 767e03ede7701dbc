"""Idempotency keys (billing-semantics section 11): the same key and input returns the
first payload and writes nothing; a different input is IDEMPOTENCY_MISMATCH; keys are
scoped to the caller and to the mutation; a failed call stores no key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orbit.db.models import Role
from tests.api import builders
from tests.api.builders import World, build_world
from tests.api.conftest import Api, assert_unchanged, row_counts, settle, snapshot

ERRORS = "userErrors { code field message }"


@dataclass(frozen=True)
class Idempotent:
    document: str
    variables: Callable[[World], dict[str, Any]]
    #: the same mutation with another input
    changed: Callable[[World], dict[str, Any]]
    #: the payload's objects that must be new for a new call (dotted paths to IDs)
    created: tuple[str, ...]
    #: rows a fresh call adds to this table
    table: str


MUTATIONS = {
    "createContract": Idempotent(
        f"""mutation($key: String, $account: ID!, $product: ID!, $quantity: Int!) {{
             createContract(idempotencyKey: $key, input: {{accountId: $account,
               startDate: "2026-03-01", termMonths: 12,
               lines: [{{productId: $product, quantity: $quantity}}]}}) {{
             contract {{ id number status }} order {{ id number products {{ id }} }}
             {ERRORS} }} }}""",
        lambda w: {"account": w.own["account"], "product": w.product, "quantity": 2},
        lambda w: {"account": w.own["account"], "product": w.product, "quantity": 3},
        ("contract.id", "order.id"),
        "contracts",
    ),
    "amendContract": Idempotent(
        # adding a product is valid any number of times (each gets a new line)
        f"""mutation($key: String, $contract: ID!, $product: ID!, $quantity: Int!) {{
             amendContract(idempotencyKey: $key, input: {{contractId: $contract,
               effectiveDate: "2026-03-01", changes: [{{productId: $product,
               quantity: $quantity}}]}}) {{
             contract {{ id }} order {{ id number type products {{ id }} }}
             preview {{ total {{ amount }} changes {{ quantityDelta }} }} {ERRORS} }} }}""",
        lambda w: {"contract": w.own["contract"], "product": w.product, "quantity": 1},
        lambda w: {"contract": w.own["contract"], "product": w.product, "quantity": 2},
        ("order.id",),
        "orders",
    ),
    "recordPayment": Idempotent(
        f"""mutation($key: String, $account: ID!, $amount: Decimal!) {{
             recordPayment(idempotencyKey: $key, input: {{accountId: $account,
               amount: $amount, receivedOn: "2026-02-14", reference: "wire 7"}}) {{
             payment {{ id amount {{ amount }} unappliedAmount {{ amount }} }} {ERRORS} }} }}""",
        lambda w: {"account": w.own["account"], "amount": "10.00"},
        lambda w: {"account": w.own["account"], "amount": "10.01"},
        ("payment.id",),
        "payments",
    ),
    "startInvoiceRun": Idempotent(
        f"""mutation($key: String, $account: ID!, $target: Date!) {{
             startInvoiceRun(idempotencyKey: $key, input: {{targetDate: $target,
               accountIds: [$account]}}) {{
             invoiceRun {{ id targetDate accountsTotal }} {ERRORS} }} }}""",
        lambda w: {"account": w.own["account"], "target": "2026-03-01"},
        lambda w: {"account": w.own["account"], "target": "2026-04-01"},
        ("invoiceRun.id",),
        "invoice_runs",
    ),
}
NAMES = sorted(MUTATIONS)


def at(payload: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        payload = payload[key]
    return payload


@dataclass
class Caller:
    api: Api
    world: World

    async def call(
        self, name: str, key: str | None, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        mutation = MUTATIONS[name]
        data = await self.api.data(
            mutation.document, {"key": key, **(variables or mutation.variables(self.world))}
        )
        await settle(self.api.client)  # a run finishes before anything is compared
        payload: dict[str, Any] = data[name]
        return payload


@pytest.fixture
async def world(app_client: httpx.AsyncClient) -> World:
    return await build_world()


@pytest.fixture
def finance(app_client: httpx.AsyncClient, world: World) -> Caller:
    return Caller(Api(app_client, world.users["FINANCE"].token), world)


@pytest.mark.parametrize("name", NAMES)
async def test_same_key_and_input_returns_the_first_result_and_writes_nothing(
    finance: Caller, name: str
) -> None:
    first = await finance.call(name, "key-1")
    assert first["userErrors"] == []
    before = await snapshot()
    again = await finance.call(name, "key-1")
    assert again == first  # the same ids, numbers and amounts
    assert_unchanged(before, await snapshot())


@pytest.mark.parametrize("name", NAMES)
async def test_same_key_with_another_input_is_a_mismatch(finance: Caller, name: str) -> None:
    first = await finance.call(name, "key-1")
    assert first["userErrors"] == []
    before = await snapshot()
    other = await finance.call(name, "key-1", MUTATIONS[name].changed(finance.world))
    assert [(e["code"], e["field"]) for e in other["userErrors"]] == [
        ("IDEMPOTENCY_MISMATCH", ["idempotencyKey"])
    ]
    assert all(value in (None, []) for key, value in other.items() if key != "userErrors")
    assert_unchanged(before, await snapshot())


@pytest.mark.parametrize("name", NAMES)
async def test_without_a_key_every_call_writes(finance: Caller, name: str) -> None:
    mutation = MUTATIONS[name]
    first = await finance.call(name, None)
    before = await row_counts()
    second = await finance.call(name, None)
    for path in mutation.created:
        assert at(second, path) != at(first, path)
    assert (await row_counts())[mutation.table] == before[mutation.table] + 1


@pytest.mark.parametrize("name", NAMES)
async def test_keys_are_scoped_to_the_caller(finance: Caller, name: str) -> None:
    mutation = MUTATIONS[name]
    colleague = await builders.user(Role.FINANCE, "Fin Two")
    theirs = Caller(finance.api.as_(colleague.token), finance.world)
    mine = await finance.call(name, "shared-key")
    before = await row_counts()
    their_result = await theirs.call(name, "shared-key")
    assert their_result["userErrors"] == []
    for path in mutation.created:
        assert at(their_result, path) != at(mine, path)
    assert (await row_counts())[mutation.table] == before[mutation.table] + 1
    # and each still replays their own first result
    assert await finance.call(name, "shared-key") == mine
    assert await theirs.call(name, "shared-key") == their_result


@pytest.mark.parametrize("name", NAMES)
async def test_keys_are_scoped_to_the_mutation(finance: Caller, name: str) -> None:
    """A key used by another mutation means nothing to this one."""
    other_name = next(n for n in NAMES if n != name)
    elsewhere = await finance.call(other_name, "shared-key")
    assert elsewhere["userErrors"] == []
    before = await row_counts()
    here = await finance.call(name, "shared-key")
    assert here["userErrors"] == []
    assert (await row_counts())[MUTATIONS[name].table] == before[MUTATIONS[name].table] + 1


async def test_a_failed_call_stores_no_key(finance: Caller) -> None:
    """A refused amendment keeps nothing under its key: the corrected call then runs."""
    mutation = MUTATIONS["amendContract"]
    bad = {**mutation.variables(finance.world), "quantity": 0}
    before = await snapshot()
    refused = await finance.call("amendContract", "key-9", bad)
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID"]
    assert_unchanged(before, await snapshot())
    accepted = await finance.call("amendContract", "key-9")
    assert accepted["userErrors"] == []
    assert accepted["order"]["type"] == "AMENDMENT"
    assert accepted["preview"]["total"]["amount"] == "300.00"  # 10 months x 30.00


@pytest.mark.parametrize("name", NAMES)
async def test_the_same_key_twice_at_once_writes_once(finance: Caller, name: str) -> None:
    import asyncio

    mutation = MUTATIONS[name]
    before = await row_counts()
    first, second = await asyncio.gather(finance.call(name, "race"), finance.call(name, "race"))
    assert first == second
    assert first["userErrors"] == []
    assert (await row_counts())[mutation.table] == before[mutation.table] + 1

"""A failed mutation writes nothing: not when one part of its input is bad, not when it
breaks half-way through (every row of every table compared before and after)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.builders import World, build_world, gid
from tests.api.conftest import Api, assert_unchanged, snapshot

ERRORS = "userErrors { code field message }"
AMEND = f"""mutation($contract: ID!, $changes: [AmendmentChangeInput!]!) {{
  amendContract(input: {{contractId: $contract, effectiveDate: "2026-03-01",
                         changes: $changes}}) {{ order {{ id }} {ERRORS} }} }}"""
PREVIEW = f"""query($contract: ID!, $changes: [AmendmentChangeInput!]!) {{
  amendmentPreview(input: {{contractId: $contract, effectiveDate: "2026-03-01",
                            changes: $changes}}) {{
    preview {{ total {{ amount }} }} {ERRORS} }} }}"""


@pytest.fixture
async def world(app_client: httpx.AsyncClient) -> World:
    return await build_world()


@pytest.fixture
def finance(app_client: httpx.AsyncClient, world: World) -> Api:
    return Api(app_client, world.users["FINANCE"].token)


#: a second change that spoils an otherwise good amendment: (change, code, field)
BAD_SECOND_CHANGES = {
    "negative-quantity": (
        lambda w: {"contractLineId": w.own["contractLine"], "quantity": -1},
        "INVALID",
        ["changes", "1", "quantity"],
    ),
    "unknown-line": (
        lambda w: {"contractLineId": gid("ContractLine", 999_999), "quantity": 1},
        "NOT_FOUND",
        ["changes", "1", "contractLineId"],
    ),
    "line-of-another-contract": (
        lambda w: {"contractLineId": w.other["contractLine"], "quantity": 5},
        "NOT_FOUND",
        ["changes", "1", "contractLineId"],
    ),
    "new-product-without-quantity": (
        lambda w: {"productId": w.product, "quantity": 0},
        "INVALID",
        ["changes", "1", "quantity"],
    ),
    "price-on-an-existing-line": (
        lambda w: {"contractLineId": w.own["contractLine"], "quantity": 4, "unitPrice": "1.00"},
        "INVALID",
        ["changes", "1", "unitPrice"],
    ),
}


@pytest.mark.parametrize("bad", sorted(BAD_SECOND_CHANGES))
async def test_an_amendment_with_one_good_and_one_bad_change_stores_nothing(
    finance: Api, world: World, bad: str
) -> None:
    make, code, field = BAD_SECOND_CHANGES[bad]
    good = {"productId": world.product, "quantity": 1}
    variables = {"contract": world.own["contract"], "changes": [good, make(world)]}
    before = await snapshot()
    body = await finance.data(AMEND, variables)
    assert body["amendContract"]["order"] is None
    assert [(e["code"], e["field"]) for e in body["amendContract"]["userErrors"]] == [(code, field)]
    assert_unchanged(before, await snapshot())
    # the quote says the same
    preview = await finance.data(PREVIEW, variables)
    assert preview["amendmentPreview"]["userErrors"] == body["amendContract"]["userErrors"]
    # and the good change alone goes through
    alone = await finance.data(AMEND, {"contract": world.own["contract"], "changes": [good]})
    assert alone["amendContract"]["userErrors"] == []


async def test_a_contract_whose_second_line_is_bad_stores_nothing(
    finance: Api, world: World
) -> None:
    """The contract, its order and its first line are written before the second line is
    refused: all of it is rolled back."""
    before = await snapshot()
    body = await finance.data(
        f"""mutation($account: ID!, $product: ID!) {{ createContract(input: {{
             accountId: $account, startDate: "2026-03-01", termMonths: 12,
             lines: [{{productId: $product, quantity: 2}}, {{productId: $product, quantity: 0}}]
           }}) {{ contract {{ id }} {ERRORS} }} }}""",
        {"account": world.own["account"], "product": world.product},
    )
    assert [(e["code"], e["field"]) for e in body["createContract"]["userErrors"]] == [
        ("INVALID", ["lines", "1", "quantity"])
    ]
    assert_unchanged(before, await snapshot())


#: mutations broken half-way through: the service module whose audit call fails (the
#: last thing each does, after its rows are written), the document and its variables
BREAKS = {
    "createContract": (
        "orbit.services.contracts",
        f"""mutation($key: String, $account: ID!, $product: ID!) {{ createContract(
             idempotencyKey: $key, input: {{accountId: $account, startDate: "2026-03-01",
             termMonths: 12, lines: [{{productId: $product, quantity: 2}}]}}) {{
             contract {{ id }} {ERRORS} }} }}""",
        lambda w: {"account": w.own["account"], "product": w.product},
    ),
    "amendContract": (
        "orbit.services.amendments",
        f"""mutation($key: String, $contract: ID!, $line: ID!) {{ amendContract(
             idempotencyKey: $key, input: {{contractId: $contract, effectiveDate: "2026-03-01",
             changes: [{{contractLineId: $line, quantity: 0}}]}}) {{
             order {{ id }} {ERRORS} }} }}""",
        lambda w: {"contract": w.own["contract"], "line": w.own["contractLine"]},
    ),
    "renewContract": (
        "orbit.services.contracts",
        f"""mutation($key: String, $contract: ID!) {{ renewContract(idempotencyKey: $key,
             input: {{contractId: $contract}}) {{ contract {{ id }} {ERRORS} }} }}""",
        lambda w: {"contract": w.own["contract"]},
    ),
    "recordPayment": (
        "orbit.services.receivables",
        f"""mutation($key: String, $account: ID!) {{ recordPayment(idempotencyKey: $key,
             input: {{accountId: $account, amount: "50.00", receivedOn: "2026-02-14",
             reference: "wire"}}) {{ payment {{ id }} {ERRORS} }} }}""",
        lambda w: {"account": w.own["account"]},
    ),
    "startInvoiceRun": (
        "orbit.services.runs",
        f"""mutation($key: String) {{ startInvoiceRun(idempotencyKey: $key, input: {{
             targetDate: "2026-03-01"}}) {{ invoiceRun {{ id }} {ERRORS} }} }}""",
        lambda w: {},
    ),
    "creditInvoice": (
        "orbit.services.invoices",
        f"""mutation($key: String, $invoice: ID!) {{ creditInvoice(idempotencyKey: $key,
             input: {{invoiceId: $invoice}}) {{ creditNote {{ id }} {ERRORS} }} }}""",
        lambda w: {"invoice": w.own["postedInvoice"]},
    ),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
async def test_a_mutation_that_breaks_half_way_stores_nothing(
    finance: Api, world: World, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, document, variables = BREAKS[name]

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(f"{module}.record", broken)
    before = await snapshot()
    body = await finance.post(document, {"key": "once", **variables(world)})
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("internal error", "INTERNAL_SERVER_ERROR")
    ]
    assert_unchanged(before, await snapshot())  # no rows, no audit event, no key
    # mended, the same call with the same key runs: nothing was kept under the key
    monkeypatch.undo()
    again = await finance.data(document, {"key": "once", **variables(world)})
    assert again[name]["userErrors"] == []

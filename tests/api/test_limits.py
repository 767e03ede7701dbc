"""Limits and the production surface: depth, aliases, tokens, body size, input lists,
introspection and GraphiQL, and how unexpected failures reach clients and the log."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from orbit.api.app import MAX_BODY, create_app
from orbit.api.schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.api.builders import World, build_world, gid
from tests.api.conftest import Api, Statements, assert_unchanged, config_for, snapshot

MAX_ITEMS = 100


@pytest.fixture
async def world(app_client: httpx.AsyncClient) -> World:
    return await build_world()


@pytest.fixture
def admin_api(app_client: httpx.AsyncClient, world: World) -> Api:
    return Api(app_client, world.users["ADMIN"].token)


def refused(body: dict, words: str) -> None:
    """A whole request refused before anything ran: one error, a code, no data."""
    assert body.get("data") is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", error
    assert words in error["message"], error["message"]


# --- depth, aliases, tokens ------------------------------------------------------

_CYCLE = ("contracts", "edges", "node", "account")


def query_of_depth(depth: int) -> str:
    """account(id) { contracts { edges { node { account { ... { id } } } } } }: the root
    field is at depth 0, its leaf at ``depth``."""
    fields = ["account(id: $id)", *(_CYCLE[i % 4] for i in range(depth - 1)), "id"]
    text = ""
    for name in reversed(fields):
        text = f"{name} {{ {text} }}" if text else name
    return f"query Deep($id: ID!) {{ {text} }}"


async def test_a_query_at_the_depth_limit_runs(admin_api: Api, world: World) -> None:
    data = await admin_api.data(query_of_depth(MAX_DEPTH), {"id": world.own["account"]})
    assert data["account"]["contracts"]["edges"]  # it really ran, that deep


async def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(
    admin_api: Api, world: World
) -> None:
    with Statements() as log:
        body = await admin_api.post(query_of_depth(MAX_DEPTH + 1), {"id": world.own["account"]})
    refused(body, f"exceeds maximum operation depth of {MAX_DEPTH}")
    assert not [s for s in log.sql if "contracts" in s]  # no resolver ran


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(count)) + " }"


async def test_aliases_up_to_the_limit_run(admin_api: Api) -> None:
    data = await admin_api.data(aliased(MAX_ALIASES))
    assert len(data) == MAX_ALIASES


async def test_more_aliases_than_the_limit_are_refused(admin_api: Api) -> None:
    refused(
        await admin_api.post(aliased(MAX_ALIASES + 1)),
        f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}",
    )


def tokens(count: int) -> str:
    """A document of exactly ``count`` tokens: 12 around the spreads, two per spread of
    the fragment, and one more field when ``count`` is odd. (An argument list could not
    be this long: lists take at most 100 items.)"""
    spreads, extra = divmod(count - 12, 2)
    fields = " ".join(["id"] * extra + ["...F"] * spreads)
    return "{ me { " + fields + " } } fragment F on User { id }"


async def test_a_document_at_the_token_limit_runs(admin_api: Api, world: World) -> None:
    data = await admin_api.data(tokens(MAX_TOKENS))
    assert data["me"]["id"] == world.users["ADMIN"].gid


async def test_a_document_over_the_token_limit_is_refused(admin_api: Api) -> None:
    refused(await admin_api.post(tokens(MAX_TOKENS + 1)), f"more than {MAX_TOKENS} tokens")


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("{ me { id ", "Syntax Error: Expected Name, found <EOF>"),
        ("{ me { id } } }", "Syntax Error: Unexpected '}'"),
        ("query { nope }", "Cannot query field 'nope' on type 'Query'"),
    ],
)
async def test_a_broken_document_is_refused_with_what_is_wrong(
    admin_api: Api, document: str, words: str
) -> None:
    refused(await admin_api.post(document), words)


# --- body size ---------------------------------------------------------------------


def body_of(size: int) -> bytes:
    """A valid GraphQL request of exactly ``size`` bytes (padded with blanks)."""
    head = json.dumps({"query": "{ me { id } }", "variables": {}})
    pad = size - len(head.encode())
    return json.dumps({"query": "{ me { id } }" + " " * pad, "variables": {}}).encode()


async def post_raw(
    client: httpx.AsyncClient, token: str, content: object, chunked: bool = False
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if chunked:
        data = content

        async def stream() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 64 * 1024):  # type: ignore[arg-type]
                yield data[start : start + 64 * 1024]  # type: ignore[index]

        return await client.post("/graphql", content=stream(), headers=headers)
    return await client.post("/graphql", content=content, headers=headers)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_of_one_mebibyte_is_read(
    app_client: httpx.AsyncClient, world: World, chunked: bool
) -> None:
    body = body_of(MAX_BODY)
    assert len(body) == MAX_BODY == 1024 * 1024
    response = await post_raw(app_client, world.users["ADMIN"].token, body, chunked)
    assert response.status_code == 200
    assert response.json()["data"]["me"]["id"] == world.users["ADMIN"].gid


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_one_mebibyte_is_refused_with_413(
    app_client: httpx.AsyncClient, world: World, chunked: bool
) -> None:
    before = await snapshot()
    body = body_of(MAX_BODY + 1)
    assert len(body) == MAX_BODY + 1
    response = await post_raw(app_client, world.users["ADMIN"].token, body, chunked)
    assert response.status_code == 413
    assert "1 MiB" in response.text
    assert_unchanged(before, await snapshot())


# --- input lists ---------------------------------------------------------------------

LIST_INPUTS = {
    "createContract.lines": (
        """mutation($account: ID!, $lines: [ContractLineInput!]!) { createContract(input: {
             accountId: $account, startDate: "2026-03-01", lines: $lines}) {
             contract { id } userErrors { code field } } }""",
        lambda w, n: {
            "account": w.own["account"],
            "lines": [{"productId": gid("Product", 900 + i), "quantity": 1} for i in range(n)],
        },
        ["lines", "0", "productId"],
    ),
    "amendContract.changes": (
        """mutation($contract: ID!, $changes: [AmendmentChangeInput!]!) { amendContract(
             input: {contractId: $contract, effectiveDate: "2026-03-01", changes: $changes}) {
             order { id } userErrors { code field } } }""",
        lambda w, n: {
            "contract": w.own["contract"],
            "changes": [{"contractLineId": "x", "quantity": 1} for _ in range(n)],
        },
        ["changes", "0", "contractLineId"],
    ),
    "amendmentPreview.changes": (
        """query($contract: ID!, $changes: [AmendmentChangeInput!]!) { amendmentPreview(
             input: {contractId: $contract, effectiveDate: "2026-03-01", changes: $changes}) {
             preview { total { amount } } userErrors { code field } } }""",
        lambda w, n: {
            "contract": w.own["contract"],
            "changes": [{"contractLineId": "x", "quantity": 1} for _ in range(n)],
        },
        ["changes", "0", "contractLineId"],
    ),
    "startInvoiceRun.accountIds": (
        """mutation($accounts: [ID!]) { startInvoiceRun(input: {targetDate: "2026-03-01",
             accountIds: $accounts}) { invoiceRun { id } userErrors { code field } } }""",
        lambda w, n: {"accounts": [gid("Account", 900 + i) for i in range(n)]},
        ["accountIds", "0"],
    ),
}


@pytest.mark.parametrize("name", sorted(LIST_INPUTS))
async def test_an_input_list_of_the_maximum_length_is_taken(
    admin_api: Api, world: World, name: str
) -> None:
    """100 items pass the limit: the call goes on to find that the first item is unknown."""
    document, variables, first_field = LIST_INPUTS[name]
    body = await admin_api.post(document, variables(world, MAX_ITEMS))
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("NOT_FOUND", first_field)]


@pytest.mark.parametrize("name", sorted(LIST_INPUTS))
async def test_an_input_list_over_the_maximum_is_refused_and_writes_nothing(
    admin_api: Api, world: World, name: str
) -> None:
    document, variables, _ = LIST_INPUTS[name]
    before = await snapshot()
    body = await admin_api.post(document, variables(world, MAX_ITEMS + 1))
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"at most {MAX_ITEMS} items" in error["message"]
    assert body["data"] is None
    assert_unchanged(before, await snapshot())


# --- introspection and GraphiQL ------------------------------------------------------


@pytest.fixture
async def production_client(
    database: object, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setattr("workers.settings.cron_jobs", lambda settings: [])
    app = create_app(config_for(database, env="production"), manage_database=False)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orbit.test") as client:
            yield client


INTROSPECTION = [
    "{ __schema { queryType { name } } }",
    '{ __type(name: "Account") { name fields { name } } }',
]


@pytest.mark.parametrize("query", INTROSPECTION, ids=["schema", "type"])
async def test_introspection_is_off_in_production(
    production_client: httpx.AsyncClient, world: World, query: str
) -> None:
    api = Api(production_client, world.users["ADMIN"].token)
    body = await api.post(query)
    assert body.get("data") is None
    assert body["errors"]
    for error in body["errors"]:
        assert "introspection has been disabled" in error["message"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # the API itself still answers
    assert (await api.data("{ me { id } }"))["me"]["id"] == world.users["ADMIN"].gid


@pytest.mark.parametrize("query", INTROSPECTION, ids=["schema", "type"])
async def test_introspection_is_on_outside_production(admin_api: Api, query: str) -> None:
    data = await admin_api.data(query)
    assert "Query" in json.dumps(data) or "Account" in json.dumps(data)


async def test_graphiql_is_off_in_production(production_client: httpx.AsyncClient) -> None:
    response = await production_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code in (400, 404, 405)
    assert "graphiql" not in response.text.lower()


async def test_graphiql_is_served_outside_production(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


# --- failures in the log -------------------------------------------------------------


async def test_an_unexpected_exception_is_an_internal_error_with_an_id_in_the_log(
    admin_api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("orbit.services.holds.hold_rules", broken)
    caplog.set_level(logging.INFO)
    body = await admin_api.post("{ holdRules { overdueDays } }")
    assert body["data"] is None  # holdRules is non-null
    (error,) = body["errors"]
    assert error["message"] == "internal error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    error_id = error["extensions"]["errorId"]
    assert re.fullmatch(r"[0-9a-f]{16}", error_id)
    assert "hunter2" not in json.dumps(body)  # the cause stays on the server
    (logged,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged.levelno == logging.ERROR
    assert logged.exc_info is not None and "hunter2" in str(logged.exc_info[1])


@pytest.mark.parametrize("caller", ["viewer", "anonymous", "bad token"])
async def test_refusals_are_not_logged_with_tracebacks(
    app_client: httpx.AsyncClient, world: World, caller: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = {"viewer": world.users["VIEWER"].token, "anonymous": None, "bad token": "orb_nope"}[
        caller
    ]
    caplog.set_level(logging.DEBUG)
    api = Api(app_client, token)
    body = await api.post(
        """mutation($a: ID!) { recordPayment(input: {accountId: $a, amount: "1.00",
             receivedOn: "2026-02-14", reference: "x"}) { payment { id } } }""",
        {"a": world.own["account"]},
    )
    assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")
    await api.post("{ accounts(first: 101) { edges { cursor } } }")  # BAD_USER_INPUT
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert noisy == [], [(r.name, r.levelname, r.getMessage()) for r in noisy]

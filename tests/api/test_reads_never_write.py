"""Reads never write (billing-semantics section 12): every query field of the served
schema, as every role, on the demo book of business, leaves every table exactly as it
was, row for row.

The query documents are generated from the served schema: each root field of Query
with every field beneath it selected (a type is not expanded again inside itself),
with arguments that reach far: evergreen schedules and invoice previews ten years
ahead (the furthest a date may be), amendment and cancellation previews of an
evergreen contract beyond its stored horizon, aging as of today and in the past,
renewals over the widest window. A new root field fails here until it has arguments
in ROOT_ARGUMENTS (when it needs any); a new nested field is covered as it comes, and
a new required argument of one fails until NESTED_ARGUMENTS names a value for it.
Documents too large for the server's limits are split, each keeping its path from the
root.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
    visit,
)
from graphql.language import Lexer, Source, TokenKind

from orbit import clock
from orbit.api.schema import MAX_TOKENS, build_schema
from orbit.db import models as db
from orbit.db.models import Role
from orbit.engine.calendar import add_months
from orbit.engine.enums import ChargeType, ContractStatus
from orbit.services.access import Actor, create_user, new_token, token_digest
from orbit.services.ids import decode, encode
from tests.api.conftest import Api, assert_unchanged, snapshot
from tests.support import TestDatabase

SCHEMA = build_schema()._schema
NODE_TYPES = [t.name for t in SCHEMA.get_possible_types(SCHEMA.get_type("Node"))]
#: the demo's "now": a month end after a short month
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
#: the furthest date a query takes (today + 10 years), less a margin for time zones
FAR = add_months(TODAY, 120) - timedelta(days=2)
#: an effective date beyond every stored horizon, and before FAR
FAR_EFFECTIVE = date(TODAY.year + 9, TODAY.month, 1)
#: how deep the documents go (the server allows 12); every field of every type is
#: still selected (test_the_documents_select_every_field)
MAX_DEPTH = 7
ROLES = (Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER, Role.VIEWER)

#: values for arguments of fields below the root, by argument name
NESTED_ARGUMENTS = {
    "through": f'"{FAR}"',
    "targetDate": f'"{FAR}"',
    "asOf": f'"{TODAY}"',
    "activeOnly": "false",
    # nested pages: a few of each reach every field
    "first": "3",
}


@dataclass(frozen=True)
class EnumValue:
    name: str


def literal(value: Any) -> str:
    """A GraphQL literal for a Python value."""
    if isinstance(value, EnumValue):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str | date):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


# --------------------------------------------------------------------------------------
# Documents from the schema
# --------------------------------------------------------------------------------------


@dataclass
class Selection:
    head: str
    children: list[Selection] | None = None

    def render(self) -> str:
        if self.children is None:
            return self.head
        return f"{self.head} {{ {' '.join(c.render() for c in self.children)} }}"

    def with_children(self, children: list[Selection]) -> Selection:
        return Selection(self.head, children)


def tokens(text: str) -> int:
    lexer = Lexer(Source(text))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def arguments(owner: str, name: str, target: GraphQLField, given: dict[str, str]) -> str:
    parts = []
    for arg_name, arg in target.args.items():
        if arg_name in given:
            parts.append(f"{arg_name}: {given[arg_name]}")
        elif isinstance(arg.type, GraphQLNonNull) and arg.default_value is None:
            raise AssertionError(
                f"{owner}.{name} requires {arg_name}: give it a value in NESTED_ARGUMENTS"
            )
    return f"({', '.join(parts)})" if parts else ""


def below(
    output: GraphQLOutputType, path: tuple[str, ...], depth: int, only: str | None = None
) -> list[Selection]:
    """Every field of a type, each object field expanded unless its type is already on
    the path (then only its id) or the server's depth limit is reached. An interface's
    types are each selected (or ``only`` the one named)."""
    named = get_named_type(output)
    if isinstance(named, GraphQLInterfaceType):
        return [Selection("__typename")] + [
            Selection(f"... on {t.name}", below(t, path, depth))
            for t in SCHEMA.get_possible_types(named)
            if only is None or t.name == only
        ]
    assert isinstance(named, GraphQLObjectType), named
    if named.name in path or depth >= MAX_DEPTH:
        return [Selection("id" if "id" in named.fields else "__typename")]
    result = []
    for name, target in named.fields.items():
        head = name + arguments(named.name, name, target, NESTED_ARGUMENTS)
        if is_leaf_type(get_named_type(target.type)):
            result.append(Selection(head))
        else:
            result.append(Selection(head, below(target.type, (*path, named.name), depth + 1)))
    return result


def split(selection: Selection, budget: int) -> list[Selection]:
    """The selection as pieces of at most ``budget`` tokens each that together select
    every field, each piece keeping the path from the top."""
    if selection.children is None or tokens(selection.render()) <= budget:
        return [selection]
    pieces = [p for child in selection.children for p in split(child, budget - 8)]
    groups: list[list[Selection]] = []
    size = 0
    for piece in pieces:
        cost = tokens(piece.render())
        if groups and size + cost <= budget - 8:
            groups[-1].append(piece)
            size += cost
        else:
            groups.append([piece])
            size = cost
    return [selection.with_children(group) for group in groups]


def documents(field_name: str, args: dict[str, Any]) -> list[str]:
    """The queries of one root field with these arguments (a key "on" names the one
    type of an interface to select)."""
    target = SCHEMA.query_type.fields[field_name]
    only = args.get("on")
    given = {k: literal(v) for k, v in args.items() if k != "on"}
    root = Selection(
        field_name + arguments("Query", field_name, target, given),
        None if is_leaf_type(get_named_type(target.type)) else below(target.type, (), 1, only),
    )
    budget = MAX_TOKENS - 100
    return ["query { " + piece.render() + " }" for piece in split(root, budget)]


# --------------------------------------------------------------------------------------
# The demo, and what to ask about
# --------------------------------------------------------------------------------------


@dataclass
class Book:
    """The demo as loaded, with a token for each role and the rows to ask about."""

    tokens: dict[Role, str] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)


_book: dict[str, Book] = {}


async def load_book() -> Book:
    from orbit.demo import load_demo
    from tests.api.conftest import wipe

    await wipe()
    clock.pin(NOW)
    await load_demo()
    evergreen = (
        await db.Contract.filter(status=ContractStatus.ACTIVE, end_date=None)
        .prefetch_related("account")
        .order_by("id")
    )
    assert evergreen, "the demo has an evergreen contract"
    contract = next((c for c in evergreen if c.account.owner_id is not None), evergreen[0])
    account = contract.account
    assert account.owner_id is not None
    book = Book()
    for role in ROLES:
        if role is Role.ACCOUNT_MANAGER:
            # the manager of the evergreen account, so their reads reach as deep
            token = new_token()
            await db.ApiToken.create(user_id=account.owner_id, digest=token_digest(token))
        else:
            _, token = await create_user(
                Actor.system(), f"reads-{role.value.lower()}@orbit.test", role.value, role
            )
        book.tokens[role] = token
    line = await db.ContractLine.filter(
        contract_id=contract.id, charge_type=ChargeType.RECURRING, cancelled=False
    ).first()
    assert line is not None
    op = await db.OrderProduct.filter(
        contract_line_id=line.id, end_date=None, order__status=db.OrderStatus.ACTIVATED
    ).first()
    assert op is not None and op.scheduled_through is not None
    assert op.scheduled_through < FAR_EFFECTIVE, "the previews must reach beyond the horizon"
    quantity = sum(
        o.quantity
        for o in await db.OrderProduct.filter(
            contract_line_id=line.id, order__status=db.OrderStatus.ACTIVATED
        )
    )
    termed = (
        await db.Contract.filter(
            status=ContractStatus.ACTIVE, end_date__gt=TODAY + timedelta(days=40)
        )
        .filter(account__owner_id=account.owner_id)
        .order_by("id")
        .first()
    )
    assert termed is not None
    termed_line = await db.ContractLine.filter(
        contract_id=termed.id, charge_type=ChargeType.RECURRING, cancelled=False
    ).first()
    assert termed_line is not None
    product = await db.Product.filter(charge_type=ChargeType.RECURRING).order_by("id").first()
    assert product is not None
    nodes = {}
    preferred: dict[str, Any] = {
        "Account": account.id,
        "Contract": contract.id,
        "ContractLine": line.id,
        "OrderProduct": op.id,
        "Order": op.order_id,
        "ScheduleLine": (
            await db.ScheduleLine.filter(order_product_id=op.id).order_by("id").first()
        ),
        "User": account.owner_id,
    }
    for node_type in NODE_TYPES:
        model = getattr(db, node_type)
        chosen = preferred.get(node_type)
        if chosen is None and "account_id" in model._meta.fields_map:
            chosen = await model.filter(account_id=account.id).order_by("id").first()
        if chosen is None:
            chosen = await model.all().order_by("id").first()
        assert chosen is not None, node_type
        nodes[node_type] = encode(node_type, getattr(chosen, "id", chosen))
    book.ids = {
        "nodes": nodes,
        "account": nodes["Account"],
        "contract": nodes["Contract"],
        "line": nodes["ContractLine"],
        "quantity": quantity,
        "termed": encode("Contract", termed.id),
        "termedLine": encode("ContractLine", termed_line.id),
        "termedStart": max(termed.start_date, TODAY + timedelta(days=1)),
        "product": encode("Product", product.id),
        "owner": encode("User", account.owner_id),
        # a schedule line beyond the horizon, as schedule(through:) names it
        "ahead": encode("ScheduleLine", f"{op.id}@{FAR_EFFECTIVE}"),
    }
    return book


@pytest.fixture
async def book(database: TestDatabase) -> AsyncIterator[Book]:
    """The demo as of NOW, loaded once for the module (reads leave it as it is)."""
    loaded = _book.get("book")
    if (
        loaded is None
        or not await db.ApiToken.filter(digest=token_digest(loaded.tokens[Role.ADMIN])).exists()
    ):
        _book["book"] = await load_book()
    clock.pin(NOW)
    yield _book["book"]
    clock.pin(None)


@pytest.fixture(autouse=True)
async def clean(database: TestDatabase) -> AsyncIterator[None]:
    """Replaces the suite's per-test wipe: this module reads one loaded demo."""
    yield
    clock.pin(None)


def root_arguments(ids: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Arguments for each root field: one query per entry (at least one each)."""
    far = {"through": FAR}
    return {
        "node": [
            *({"id": global_id, "on": name} for name, global_id in ids["nodes"].items()),
            {"id": ids["ahead"], "on": "ScheduleLine"},
        ],
        "me": [{}],
        "auditEvents": [{}, {"entityId": ids["contract"]}],
        "account": [{"id": ids["account"]}],
        "accounts": [{}, {"ownerId": ids["owner"], "search": "a"}],
        "products": [{}],
        "contract": [{"id": ids["contract"]}, {"id": ids["termed"]}],
        "order": [{"id": ids["nodes"]["Order"]}],
        "amendmentPreview": [
            # the evergreen line changed beyond its stored horizon
            {
                "input": {
                    "contractId": ids["contract"],
                    "effectiveDate": FAR_EFFECTIVE,
                    "changes": [{"contractLineId": ids["line"], "quantity": ids["quantity"] + 3}],
                },
                **far,
            },
            # the evergreen line cancelled beyond its horizon, a product added
            {
                "input": {
                    "contractId": ids["contract"],
                    "effectiveDate": FAR_EFFECTIVE,
                    "changes": [
                        {"contractLineId": ids["line"], "quantity": 0},
                        {"productId": ids["product"], "quantity": 2},
                    ],
                },
                **far,
            },
            # the evergreen line changed from next month, default horizon
            {
                "input": {
                    "contractId": ids["contract"],
                    "effectiveDate": TODAY + timedelta(days=1),
                    "changes": [{"contractLineId": ids["line"], "quantity": ids["quantity"] + 1}],
                }
            },
            {
                "input": {
                    "contractId": ids["termed"],
                    "effectiveDate": ids["termedStart"],
                    "changes": [{"contractLineId": ids["termedLine"], "quantity": 0}],
                }
            },
            # refused: no changes
            {"input": {"contractId": ids["termed"], "effectiveDate": TODAY, "changes": []}},
        ],
        "cancelContractPreview": [
            {"input": {"contractId": ids["contract"], "effectiveDate": FAR_EFFECTIVE}, **far},
            {"input": {"contractId": ids["contract"], "effectiveDate": TODAY}, **far},
            {"input": {"contractId": ids["termed"], "effectiveDate": ids["termedStart"]}},
        ],
        "invoice": [{"id": ids["nodes"]["Invoice"]}],
        # (pages of ten: each invoice's whole tree is selected)
        "invoices": [{"first": 10}, {"accountId": ids["account"]}],
        "holds": [{"activeOnly": False}],
        "holdRules": [{}],
        "invoiceRun": [{"id": ids["nodes"]["InvoiceRun"]}],
        "invoiceRuns": [{}],
        "payments": [{"first": 10}],
        "receivablesAging": [
            {},
            {"asOf": TODAY - timedelta(days=45), "ownerId": ids["owner"]},
            {"asOf": FAR},
        ],
        "upcomingRenewals": [
            {"withinDays": 3660},
            {
                "withinDays": 3660,
                "by": EnumValue("NOTICE_DEADLINE"),
                "asOf": TODAY,
                "ownerId": ids["owner"],
                "autoRenew": True,
            },
        ],
    }


# --------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------


def computed_lines(value: Any) -> int:
    """How many schedule lines computed beyond the stored horizon a response holds."""
    if isinstance(value, dict):
        return sum(computed_lines(v) for v in value.values())
    if isinstance(value, list):
        return sum(computed_lines(v) for v in value)
    if isinstance(value, str) and value.startswith(encode("ScheduleLine", "")[:8]):
        decoded = decode(value)
        return int(decoded is not None and decoded[0] == "ScheduleLine" and "@" in decoded[1])
    return 0


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
async def test_no_query_writes(app_client: httpx.AsyncClient, book: Book, role: Role) -> None:
    api = Api(app_client, book.tokens[role])
    arguments_of = root_arguments(book.ids)
    fields = set(SCHEMA.query_type.fields)
    assert fields <= set(arguments_of), f"give arguments to {fields - set(arguments_of)}"
    writes = []
    reached = {"documents": 0, "computed lines": 0}
    before = await snapshot()
    for name in sorted(fields):
        for args in arguments_of[name]:
            for document in documents(name, args):
                body = await api.post(document)
                reached["documents"] += 1
                for error in body.get("errors") or []:
                    code = (error.get("extensions") or {}).get("code")
                    assert code == "FORBIDDEN", (document, error)
                reached["computed lines"] += computed_lines(body.get("data"))
                after = await snapshot()
                if after != before:
                    changed = sorted(t for t in before if before[t] != after.get(t))
                    writes.append(f"{name}({args}) wrote to {changed}")
                    before = after
    assert not writes, "\n".join(writes)
    # the walk reached beyond the stored horizon
    assert reached["computed lines"] > 100, reached


def test_the_documents_select_every_field() -> None:
    """Every field of every type a query can reach is in some document (with arguments
    that stand for the book's rows: selection does not depend on their values)."""
    reachable: set[tuple[str, str]] = set()
    types: list[GraphQLObjectType] = [SCHEMA.query_type]
    seen = {SCHEMA.query_type.name}
    while types:
        current = types.pop()
        for name, target in current.fields.items():
            reachable.add((current.name, name))
            named = get_named_type(target.type)
            if isinstance(named, GraphQLInterfaceType):
                following = list(SCHEMA.get_possible_types(named))
            elif isinstance(named, GraphQLObjectType):
                following = [named]
            else:
                following = []
            for object_type in following:
                if object_type.name not in seen:
                    seen.add(object_type.name)
                    types.append(object_type)
    ids = defaultdict(
        lambda: "x", nodes=dict.fromkeys(NODE_TYPES, "x"), quantity=1, termedStart=TODAY
    )
    selected: set[tuple[str, str]] = set()
    info = TypeInfo(SCHEMA)

    class Fields(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = info.get_parent_type()
            if parent is not None:
                selected.add((parent.name, node.name.value))

    for name, variants in root_arguments(ids).items():
        for args in variants:
            for document in documents(name, args):
                assert not validate(SCHEMA, parse(document)), document
                visit(parse(document), TypeInfoVisitor(info, Fields()))
    assert reachable - selected == set()


async def test_an_invoice_preview_writes_nothing(app_client: httpx.AsyncClient, book: Book) -> None:
    """invoicePreview ten years ahead on the evergreen account, as a VIEWER."""
    api = Api(app_client, book.tokens[Role.VIEWER])
    query = (
        "query ($id: ID!, $on: Date!) { account(id: $id) { invoicePreview(targetDate: $on) "
        "{ total { amount } lines { id periodStart amount { amount } } } } }"
    )
    before = await snapshot()
    try:
        preview = (await api.data(query, {"id": book.ids["account"], "on": str(FAR)}))["account"][
            "invoicePreview"
        ]
        assert_unchanged(before, await snapshot())
    finally:
        _book.clear()  # if it wrote, the next test loads the demo again
    lines = preview["lines"]
    assert sum(computed_lines(line["id"]) for line in lines) > 100
    assert Decimal(preview["total"]["amount"]) == sum(
        (Decimal(line["amount"]["amount"]) for line in lines), Decimal(0)
    )

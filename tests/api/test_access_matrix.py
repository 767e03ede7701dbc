"""Who may do what: every query field and every mutation of the served schema, for
every role, an account manager on an account they own and on one they do not,
no token and a bad token.

The operations are read from the built schema, so a new operation without an entry
in QUERIES or MUTATIONS below fails ``test_access`` (and the coverage test).

Expected, per billing-semantics section 11:
- no or bad token: UNAUTHENTICATED (extensions.code), no data, nothing written;
- a role that may not perform the operation: FORBIDDEN, nothing written;
- an account manager on another manager's account gets exactly what they get for
  IDs that do not exist (null, left out of lists, NOT_FOUND userErrors), writes
  nothing, and no response of theirs mentions an entity of another account;
- everyone else: the real outcome (amounts, dates, states), and a mutation leaves an
  audit event (actor, action, entity) that ``auditEvents(entityId:)`` lists.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from orbit.api.schema import build_schema
from tests.api.builders import World, accounts_in, build_world, gid, row_of
from tests.api.conftest import Api, assert_unchanged, reset, settle, snapshot

ADMIN, FINANCE, MANAGER, VIEWER = "ADMIN", "FINANCE", "ACCOUNT_MANAGER", "VIEWER"
MANAGER_ON_OTHER = "ACCOUNT_MANAGER@other"
ANONYMOUS, BAD_TOKEN = "anonymous", "bad token"
CALLERS = (ADMIN, FINANCE, MANAGER, MANAGER_ON_OTHER, VIEWER, ANONYMOUS, BAD_TOKEN)

EVERYONE = frozenset({ADMIN, FINANCE, MANAGER, VIEWER})
BILLING = frozenset({ADMIN, FINANCE})
ACCOUNT_TEAM = frozenset({ADMIN, FINANCE, MANAGER})
RUN_READERS = frozenset({ADMIN, FINANCE, VIEWER})

_SCHEMA = build_schema()._schema
QUERY_FIELDS = sorted(_SCHEMA.query_type.fields)
MUTATION_FIELDS = sorted(_SCHEMA.mutation_type.fields)  # type: ignore[union-attr]


@dataclass
class Case:
    """What a check sees: the caller, the world, and the operation's result."""

    api: Api
    world: World
    caller: str
    result: Any

    @property
    def manager(self) -> bool:
        return self.caller == MANAGER

    @property
    def own(self) -> dict[str, str]:
        return self.world.own

    @property
    def visible(self) -> set[str]:
        """The accounts this caller sees."""
        accounts = {self.world.own["account"]}
        if not self.manager:
            accounts.add(self.world.other["account"])
        return accounts


Check = Callable[[Case], Awaitable[None]]
Variables = Callable[[World, dict[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    document: str
    allowed: frozenset[str]
    variables: Variables = field(default=lambda world, side: {})
    check: Check | None = None
    #: mutations: the field of the NOT_FOUND userError for another account's entity
    #: (None: the operation takes no account-bound input)
    not_found: tuple[str, ...] | None = None
    #: mutations: the audit action and how to find the audited entity in the payload
    audit: tuple[str, Callable[[Case], str]] | None = None


def ids(edges: list[dict[str, Any]], *path: str) -> list[str]:
    result = []
    for edge in edges:
        value: Any = edge["node"]
        for key in path:
            value = value[key]
        result.append(value)
    return result


# --- queries ------------------------------------------------------------------


async def check_node(case: Case) -> None:
    assert case.result == {"__typename": "Account", "id": case.own["account"], "name": "Own Co"}


async def check_me(case: Case) -> None:
    caller = case.world.users[case.caller]
    assert case.result == {"id": caller.gid, "role": case.caller}


async def check_account(case: Case) -> None:
    account = case.result
    assert account["id"] == case.own["account"]
    assert account["owner"]["id"] == case.world.manager.gid
    assert account["balance"] == {"amount": "35.00", "currency": "USD"}
    contracts = [e["node"] for e in account["contracts"]["edges"]]
    assert sorted(c["status"] for c in contracts) == ["ACTIVE", "DRAFT"]
    active = next(c for c in contracts if c["status"] == "ACTIVE")
    assert active["annualRecurringValue"]["amount"] == "720.00"
    assert [(ln["quantity"], ln["unitPrice"], ln["product"]["sku"]) for ln in active["lines"]] == [
        (2, "30.00", "SEAT")
    ]
    orders = [e["node"] for e in account["orders"]["edges"]]
    assert [o["status"] for o in orders] == ["ACTIVATED", "DRAFT"]
    schedule = orders[0]["products"][0]["schedule"]
    assert len(schedule) == 12 and {s["amount"]["amount"] for s in schedule} == {"60.00"}
    assert [s["invoice"] is not None for s in schedule[:3]] == [True, True, False]
    assert [len(o["holds"]) for o in orders] == [0, 1]
    invoices = [e["node"] for e in account["invoices"]["edges"]]
    assert [(i["status"], i["total"]["amount"]) for i in invoices] == [
        ("DRAFT", "60.00"),
        ("POSTED", "60.00"),
    ]
    assert [a["amount"]["amount"] for a in invoices[1]["applications"]] == ["25.00"]
    runs_seen = [i["invoiceRun"] for i in invoices]
    if case.manager:  # a manager does not read runs (which span accounts)
        assert runs_seen == [None, None]
    else:
        assert [r["id"] for r in runs_seen] == [case.world.run_draft, case.world.run_posted]
    payments = [e["node"] for e in account["payments"]["edges"]]
    assert [p["amount"]["amount"] for p in payments] == ["25.00"]
    assert [h["order"]["id"] for h in account["holds"]] == [case.own["draftOrder"]]
    assert ids(account["drafts"]["edges"], "id") == [case.own["draftContract"]]
    assert ids(account["posted"]["edges"], "id") == [case.own["postedInvoice"]]
    preview = account["invoicePreview"]
    assert preview["total"]["amount"] == "60.00"
    assert [ln["periodStart"] for ln in preview["lines"]] == ["2026-03-01"]


async def check_accounts(case: Case) -> None:
    assert set(ids(case.result["edges"], "id")) == case.visible


async def check_products(case: Case) -> None:
    assert case.result == [{"id": case.world.product, "sku": "SEAT", "listPrice": "30.00"}]


async def check_contract(case: Case) -> None:
    contract = case.result
    assert (contract["id"], contract["status"], contract["startDate"], contract["endDate"]) == (
        case.own["contract"],
        "ACTIVE",
        "2026-01-01",
        "2026-12-31",
    )
    assert contract["account"]["id"] == case.own["account"]
    assert [(ln["id"], ln["quantity"]) for ln in contract["lines"]] == [
        (case.own["contractLine"], 2)
    ]
    assert ids(contract["orders"]["edges"], "id") == [case.own["order"]]


async def check_order(case: Case) -> None:
    order = case.result
    assert (order["id"], order["type"], order["status"]) == (case.own["order"], "NEW", "ACTIVATED")
    assert order["contract"]["id"] == case.own["contract"]
    (product,) = order["products"]
    assert product["id"] == case.own["orderProduct"]
    assert product["totalAmount"]["amount"] == "720.00"
    assert product["billedAmount"]["amount"] == "120.00"
    assert (product["billedThroughDate"], product["nextBillingDate"]) == (
        "2026-02-28",
        "2026-03-01",
    )


async def check_invoice(case: Case) -> None:
    invoice = case.result
    assert (invoice["id"], invoice["number"], invoice["status"], invoice["paymentStatus"]) == (
        case.own["postedInvoice"],
        "INV-000001",
        "POSTED",
        "PARTIALLY_PAID",
    )
    assert (invoice["total"]["amount"], invoice["balance"]["amount"]) == ("60.00", "35.00")
    assert (invoice["invoiceDate"], invoice["dueDate"]) == ("2026-01-01", "2026-01-31")
    (line,) = invoice["lines"]
    assert (line["periodStart"], line["periodEnd"], line["amount"]["amount"]) == (
        "2026-01-01",
        "2026-01-31",
        "60.00",
    )
    assert line["orderProduct"]["id"] == case.own["orderProduct"]
    assert [a["payment"]["id"] for a in invoice["applications"]] == [case.own["payment"]]


async def check_invoices(case: Case) -> None:
    everything = case.result["everything"]["edges"]
    assert {n["account"]["id"] for n in (e["node"] for e in everything)} == case.visible
    assert len(everything) == 2 * len(case.visible)
    mine = [e["node"] for e in case.result["ofAccount"]["edges"]]
    assert [(i["id"], i["status"]) for i in mine] == [
        (case.own["draftInvoice"], "DRAFT"),
        (case.own["postedInvoice"], "POSTED"),
    ]


async def check_payments(case: Case) -> None:
    everything = case.result["everything"]["edges"]
    assert set(ids(everything, "account", "id")) == case.visible
    assert ids(case.result["ofAccount"]["edges"], "id") == [case.own["payment"]]


async def check_holds(case: Case) -> None:
    everything = case.result["everything"]["edges"]
    assert set(ids(everything, "account", "id")) == case.visible
    assert ids(case.result["ofAccount"]["edges"], "id") == [case.own["hold"]]


async def check_hold_rules(case: Case) -> None:
    assert case.result == {"overdueDays": None}


async def check_invoice_run(case: Case) -> None:
    run = case.result
    assert (run["id"], run["status"], run["accountsTotal"], run["invoicesCreated"]) == (
        case.world.run_posted,
        "COMPLETED",
        2,
        2,
    )
    assert set(ids(run["invoices"]["edges"], "account", "id")) == case.visible


async def check_invoice_runs(case: Case) -> None:
    assert ids(case.result["edges"], "id") == [case.world.run_draft, case.world.run_posted]


async def check_renewals(case: Case) -> None:
    renewals = [e["node"] for e in case.result["edges"]]
    assert {r["account"]["id"] for r in renewals} == case.visible
    mine = next(r for r in renewals if r["account"]["id"] == case.own["account"])
    assert (mine["contract"]["id"], mine["endDate"], mine["noticeDeadline"]) == (
        case.own["contract"],
        "2026-12-31",
        "2026-11-01",
    )
    assert mine["owner"]["id"] == case.world.manager.gid
    assert mine["currentAnnualValue"]["amount"] == "720.00"


async def check_amendment_preview(case: Case) -> None:
    assert case.result["userErrors"] == []
    preview = case.result["preview"]
    assert preview["contract"]["id"] == case.own["contract"]
    assert preview["total"]["amount"] == "300.00"  # +1 x 30.00 for March to December
    (change,) = preview["changes"]
    assert (change["quantityBefore"], change["quantityAfter"], change["quantityDelta"]) == (2, 3, 1)
    assert change["contractLine"]["id"] == case.own["contractLine"]
    assert len(change["schedule"]) == 10


async def check_cancel_preview(case: Case) -> None:
    assert case.result["userErrors"] == []
    preview = case.result["preview"]
    assert preview["total"]["amount"] == "-600.00"  # March to December removed
    (termination,) = preview["terminations"]
    assert termination["orderProduct"]["id"] == case.own["orderProduct"]
    assert termination["endDate"] == "2026-02-28"
    assert len(termination["removedLines"]) == 10 and termination["creditLines"] == []


async def check_aging(case: Case) -> None:
    rows = [e["node"] for e in case.result["accounts"]["edges"]]
    assert {r["account"]["id"] for r in rows} == case.visible
    for row in rows:  # 35.00 open, 15 days past due on 2026-02-15
        assert {b["label"]: b["amount"]["amount"] for b in row["buckets"]}["1-30"] == "35.00"
    totals = {b["label"]: b["amount"]["amount"] for b in case.result["accounts"]["totals"]}
    assert totals["1-30"] == ("35.00" if case.manager else "70.00")


async def check_audit_events(case: Case) -> None:
    mine = [e["node"] for e in case.result["ofEntity"]["edges"]]
    assert [e["action"] for e in mine] == ["contract.create"]
    assert {e["entityId"] for e in mine} == {case.own["contract"]}
    everything = [e["node"] for e in case.result["everything"]["edges"]]
    actions = {e["action"] for e in everything}
    # events of no account (a product created) are for roles that read everything
    assert ("product.create" in actions) is not case.manager


ACCOUNT_PAGE = """
query($id: ID!) { account(id: $id) {
  id name owner { id } balance { amount currency }
  contracts { edges { node { id status annualRecurringValue { amount }
    lines { id quantity unitPrice product { id sku } } renewalOf { id } renewedBy { id } } } }
  orders { edges { node { id status holds(activeOnly: false) { id }
    products { id schedule { id amount { amount } invoice { id } } } } } }
  invoices { edges { node { id status total { amount }
    invoiceRun { id invoices { edges { node { id account { id name } } } } }
    lines { id scheduleLine { id } } applications { amount { amount } payment { id } } } } }
  payments { edges { node { id amount { amount } applications { invoice { id } } } } }
  holds(activeOnly: false) { id order { id } contract { id } }
  drafts: contracts(status: [DRAFT]) { edges { node { id } } }
  posted: invoices(status: [POSTED, CANCELLED]) { edges { node { id } } }
  invoicePreview(targetDate: "2026-03-01") { total { amount } lines { id periodStart } }
} }"""

AMEND_INPUT = """{contractId: $contract, effectiveDate: "2026-03-01",
                  changes: [{contractLineId: $line, quantity: 3}]}"""

QUERIES: dict[str, Operation] = {
    "node": Operation(
        "query($id: ID!) { node(id: $id) { __typename id ... on Account { name } } }",
        EVERYONE,
        lambda w, s: {"id": s["account"]},
        check_node,
    ),
    "me": Operation("{ me { id role } }", EVERYONE, check=check_me),
    "account": Operation(ACCOUNT_PAGE, EVERYONE, lambda w, s: {"id": s["account"]}, check_account),
    "accounts": Operation(
        "{ accounts(first: 100) { edges { node { id name } } } }", EVERYONE, check=check_accounts
    ),
    "products": Operation("{ products { id sku listPrice } }", EVERYONE, check=check_products),
    "contract": Operation(
        """query($id: ID!) { contract(id: $id) { id status startDate endDate account { id }
             lines { id quantity } orders { edges { node { id } } } } }""",
        EVERYONE,
        lambda w, s: {"id": s["contract"]},
        check_contract,
    ),
    "order": Operation(
        """query($id: ID!) { order(id: $id) { id type status contract { id } account { id }
             products { id totalAmount { amount } billedAmount { amount } billedThroughDate
                        nextBillingDate product { id } contractLine { id } } } }""",
        EVERYONE,
        lambda w, s: {"id": s["order"]},
        check_order,
    ),
    "invoice": Operation(
        """query($id: ID!) { invoice(id: $id) { id number status paymentStatus invoiceDate
             dueDate total { amount } balance { amount } account { id }
             lines { id periodStart periodEnd amount { amount } orderProduct { id }
                     scheduleLine { id } product { id } }
             applications { amount { amount } payment { id } invoice { id } } } }""",
        EVERYONE,
        lambda w, s: {"id": s["postedInvoice"]},
        check_invoice,
    ),
    "invoices": Operation(
        """query($account: ID) {
             everything: invoices(first: 100) { edges { node { id account { id } } } }
             ofAccount: invoices(accountId: $account) { edges { node { id status } } } }""",
        EVERYONE,
        lambda w, s: {"account": s["account"]},
        check_invoices,
    ),
    "payments": Operation(
        """query($account: ID) {
             everything: payments(first: 100) { edges { node { id account { id } } } }
             ofAccount: payments(accountId: $account) { edges { node { id } } } }""",
        EVERYONE,
        lambda w, s: {"account": s["account"]},
        check_payments,
    ),
    "holds": Operation(
        """query($account: ID) {
             everything: holds(activeOnly: false, first: 100) {
               edges { node { id account { id } order { id } } } }
             ofAccount: holds(accountId: $account) { edges { node { id } } } }""",
        EVERYONE,
        lambda w, s: {"account": s["account"]},
        check_holds,
    ),
    "holdRules": Operation("{ holdRules { overdueDays } }", EVERYONE, check=check_hold_rules),
    "invoiceRun": Operation(
        """query($id: ID!) { invoiceRun(id: $id) { id status accountsTotal invoicesCreated
             errors { message } invoices { edges { node { id account { id } } } } } }""",
        RUN_READERS,
        lambda w, s: {"id": w.run_posted},
        check_invoice_run,
    ),
    "invoiceRuns": Operation(
        "{ invoiceRuns { edges { node { id status } } } }", RUN_READERS, check=check_invoice_runs
    ),
    "upcomingRenewals": Operation(
        """{ upcomingRenewals(withinDays: 365) { edges { node { endDate noticeDeadline
             contract { id } account { id } owner { id } currentAnnualValue { amount } } } } }""",
        EVERYONE,
        check=check_renewals,
    ),
    "amendmentPreview": Operation(
        f"""query($contract: ID!, $line: ID!) {{ amendmentPreview(input: {AMEND_INPUT}) {{
             preview {{ total {{ amount }} contract {{ id }}
               changes {{ quantityBefore quantityAfter quantityDelta contractLine {{ id }}
                          product {{ id }} schedule {{ amount {{ amount }} }} }} }}
             userErrors {{ code field message }} }} }}""",
        EVERYONE,
        lambda w, s: {"contract": s["contract"], "line": s["contractLine"]},
        check_amendment_preview,
    ),
    "cancelContractPreview": Operation(
        """query($contract: ID!) { cancelContractPreview(
             input: {contractId: $contract, effectiveDate: "2026-03-01"}) {
             preview { total { amount } terminations { endDate orderProduct { id }
               contractLine { id } removedLines { amount { amount } }
               creditLines { amount { amount } } } }
             userErrors { code field message } } }""",
        EVERYONE,
        lambda w, s: {"contract": s["contract"]},
        check_cancel_preview,
    ),
    "receivablesAging": Operation(
        """{ receivablesAging(asOf: "2026-02-15") { asOf accounts { edges { node {
             account { id } total { amount } buckets { label amount { amount } } } }
             totals { label amount { amount } } } } }""",
        EVERYONE,
        check=check_aging,
    ),
    "auditEvents": Operation(
        """query($entity: ID) {
             everything: auditEvents(first: 100) { edges { node { id action entityId } } }
             ofEntity: auditEvents(entityId: $entity) { edges { node { action entityId } } } }""",
        EVERYONE,
        lambda w, s: {"entity": s["contract"]},
        check_audit_events,
    ),
}


# --- mutations ----------------------------------------------------------------

ERRORS = "userErrors { code field message }"


def payload(path: str) -> Callable[[Case], str]:
    """The ID at ``path`` (dotted) of the payload."""

    def find(case: Case) -> str:
        value: Any = case.result
        for key in path.split("."):
            value = value[int(key)] if key.isdigit() else value[key]
        return str(value)

    return find


def side_key(key: str) -> Callable[[Case], str]:
    return lambda case: case.own[key]


async def check_create_user(case: Case) -> None:
    assert case.result["user"]["email"] == "new.viewer@orbit.test"
    assert case.result["user"]["role"] == "VIEWER"
    me = await case.api.as_(case.result["token"]).data("{ me { id role } }")
    assert me["me"] == {"id": case.result["user"]["id"], "role": "VIEWER"}


async def check_create_account(case: Case) -> None:
    account = case.result["account"]
    assert (
        account["name"],
        account["currency"],
        account["billingDayOfMonth"],
        account["paymentTermDays"],
    ) == ("New Co", "EUR", None, 30)


async def check_update_account(case: Case) -> None:
    account = case.result["account"]
    assert (account["id"], account["name"], account["paymentTermDays"]) == (
        case.own["account"],
        "Renamed Co",
        45,
    )


async def check_create_product(case: Case) -> None:
    product = case.result["product"]
    assert (product["sku"], product["listPrice"], product["billingFrequency"]) == (
        "ADDON",
        "12.50",
        "MONTHLY",
    )


async def check_create_contract(case: Case) -> None:
    contract, order = case.result["contract"], case.result["order"]
    assert (contract["status"], contract["startDate"], contract["endDate"]) == (
        "ACTIVE",
        "2026-03-01",
        "2027-02-28",
    )
    assert (order["type"], order["status"]) == ("NEW", "ACTIVATED")
    assert order["products"][0]["totalAmount"]["amount"] == "360.00"  # 12 x 30.00


async def check_activate_order(case: Case) -> None:
    order = case.result["order"]
    assert (order["id"], order["status"], order["contract"]["status"]) == (
        case.own["draftOrder"],
        "ACTIVATED",
        "ACTIVE",
    )


async def check_cancel_order(case: Case) -> None:
    order = case.result["order"]
    assert (order["id"], order["status"], order["contract"]["status"]) == (
        case.own["draftOrder"],
        "CANCELLED",
        "CANCELLED",
    )


async def check_purchase_order(case: Case) -> None:
    assert case.result["order"]["purchaseOrderNumber"] == "PO-77"


async def check_amend(case: Case) -> None:
    assert case.result["order"]["type"] == "AMENDMENT"
    assert case.result["preview"]["total"]["amount"] == "300.00"
    lines = case.result["contract"]["lines"]
    assert [ln["quantity"] for ln in lines] == [2]  # today: the change starts 2026-03-01
    later = await case.api.data(
        """query($id: ID!) { contract(id: $id) { lines(asOf: "2026-03-01") { quantity } } }""",
        {"id": case.own["contract"]},
    )
    assert [ln["quantity"] for ln in later["contract"]["lines"]] == [3]


async def check_cancel_contract(case: Case) -> None:
    contract = case.result["contract"]
    assert (contract["status"], contract["endDate"]) == ("CANCELLED", "2026-02-28")
    assert case.result["preview"]["total"]["amount"] == "-600.00"


async def check_renew(case: Case) -> None:
    contract = case.result["contract"]
    assert (contract["status"], contract["startDate"], contract["endDate"]) == (
        "ACTIVE",
        "2027-01-01",
        "2027-12-31",
    )
    assert contract["renewalOf"]["id"] == case.own["contract"]
    # the renewal's lines start 2027-01-01: today (2026-02-15) they carry no quantity
    assert [(ln["quantity"], ln["unitPrice"]) for ln in contract["lines"]] == [(2, "30.00")]
    assert case.result["order"]["type"] == "RENEWAL"


async def check_place_hold(case: Case) -> None:
    hold = case.result["hold"]
    assert (hold["scope"], hold["source"], hold["active"], hold["contract"]["id"]) == (
        "CONTRACT",
        "MANUAL",
        True,
        case.own["contract"],
    )


async def check_release_hold(case: Case) -> None:
    hold = case.result["hold"]
    assert (hold["id"], hold["active"]) == (case.own["hold"], False)
    assert hold["releasedAt"] is not None


async def check_override(case: Case) -> None:
    (product,) = case.result["orderProducts"]
    assert (product["id"], product["nextBillingDateOverride"], product["nextBillingDate"]) == (
        case.own["orderProduct"],
        "2026-03-05",
        "2026-03-05",
    )


async def check_billing_day(case: Case) -> None:
    assert case.result["contract"]["billingDayOfMonth"] == 15


async def check_start_run(case: Case) -> None:
    assert case.result["invoiceRun"]["targetDate"] == "2026-03-01"
    await settle(case.api.client)
    run = await case.api.data(
        """query($id: ID!) { invoiceRun(id: $id) { status accountsTotal invoicesCreated
             linesCreated invoices { edges { node { account { id } total { amount } } } } } }""",
        {"id": case.result["invoiceRun"]["id"]},
    )
    assert run["invoiceRun"]["status"] == "COMPLETED"
    assert (
        run["invoiceRun"]["accountsTotal"],
        run["invoiceRun"]["invoicesCreated"],
        run["invoiceRun"]["linesCreated"],
    ) == (1, 1, 1)
    (edge,) = run["invoiceRun"]["invoices"]["edges"]
    assert edge["node"] == {"account": {"id": case.own["account"]}, "total": {"amount": "60.00"}}


async def check_post_invoice(case: Case) -> None:
    invoice = case.result["invoice"]
    assert (invoice["id"], invoice["status"], invoice["number"], invoice["postedOn"]) == (
        case.own["draftInvoice"],
        "POSTED",
        "INV-000003",
        "2026-02-15",
    )


async def check_post_invoices(case: Case) -> None:
    posted = case.result["invoices"]
    assert [(i["status"], i["number"]) for i in posted] == [
        ("POSTED", "INV-000003"),
        ("POSTED", "INV-000004"),
    ]


async def check_cancel_invoice(case: Case) -> None:
    invoice = case.result["invoice"]
    assert (invoice["id"], invoice["status"], invoice["number"]) == (
        case.own["draftInvoice"],
        "CANCELLED",
        None,
    )


async def check_credit(case: Case) -> None:
    invoice, note = case.result["invoice"], case.result["creditNote"]
    assert (invoice["paymentStatus"], invoice["balance"]["amount"]) == ("PAID", "0.00")
    assert (note["documentType"], note["number"], note["total"]["amount"]) == (
        "CREDIT_NOTE",
        "CN-000001",
        "-60.00",
    )
    assert note["reverses"]["id"] == case.own["postedInvoice"]


async def check_payment(case: Case) -> None:
    payment = case.result["payment"]
    assert (payment["amount"]["amount"], payment["unappliedAmount"]["amount"]) == ("10.00", "0.00")
    assert [a["invoice"]["id"] for a in payment["applications"]] == [case.own["postedInvoice"]]


async def check_hold_rules_update(case: Case) -> None:
    assert case.result["holdRules"] == {"overdueDays": 30}
    await settle(case.api.client)


MUTATIONS: dict[str, Operation] = {
    "createUser": Operation(
        f"""mutation {{ createUser(input: {{email: "new.viewer@orbit.test", name: "Vic",
             role: VIEWER}}) {{ user {{ id email role }} token {ERRORS} }} }}""",
        frozenset({ADMIN}),
        check=check_create_user,
        audit=("user.create", payload("user.id")),
    ),
    "createAccount": Operation(
        f"""mutation {{ createAccount(input: {{name: "New Co", currency: "EUR"}}) {{
             account {{ id name currency billingDayOfMonth paymentTermDays }} {ERRORS} }} }}""",
        BILLING,
        check=check_create_account,
        audit=("account.create", payload("account.id")),
    ),
    "updateAccount": Operation(
        f"""mutation($account: ID!) {{ updateAccount(input: {{accountId: $account,
             name: "Renamed Co", paymentTermDays: 45}}) {{
             account {{ id name paymentTermDays }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"account": s["account"]},
        check_update_account,
        not_found=("accountId",),
        audit=("account.update", side_key("account")),
    ),
    "createProduct": Operation(
        f"""mutation {{ createProduct(input: {{sku: "ADDON", name: "Add-on",
             listPrice: "12.50"}}) {{ product {{ id sku listPrice billingFrequency }}
             {ERRORS} }} }}""",
        BILLING,
        check=check_create_product,
        audit=("product.create", payload("product.id")),
    ),
    "createContract": Operation(
        f"""mutation($account: ID!, $product: ID!) {{ createContract(input: {{
             accountId: $account, startDate: "2026-03-01", termMonths: 12,
             lines: [{{productId: $product, quantity: 1}}]}}) {{
             contract {{ id status startDate endDate }}
             order {{ id type status products {{ totalAmount {{ amount }} }} }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"account": s["account"], "product": w.product},
        check_create_contract,
        not_found=("accountId",),
        audit=("contract.create", payload("contract.id")),
    ),
    "activateOrder": Operation(
        f"""mutation($order: ID!) {{ activateOrder(input: {{orderId: $order}}) {{
             order {{ id status contract {{ status }} }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"order": s["draftOrder"]},
        check_activate_order,
        not_found=("orderId",),
        audit=("order.activate", side_key("draftOrder")),
    ),
    "cancelOrder": Operation(
        f"""mutation($order: ID!) {{ cancelOrder(input: {{orderId: $order}}) {{
             order {{ id status contract {{ status }} }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"order": s["draftOrder"]},
        check_cancel_order,
        not_found=("orderId",),
        audit=("order.cancel", side_key("draftOrder")),
    ),
    "setPurchaseOrderNumber": Operation(
        f"""mutation($order: ID!) {{ setPurchaseOrderNumber(input: {{orderId: $order,
             purchaseOrderNumber: "PO-77"}}) {{
             order {{ id purchaseOrderNumber }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"order": s["order"]},
        check_purchase_order,
        not_found=("orderId",),
        audit=("order.set_purchase_order_number", side_key("order")),
    ),
    "amendContract": Operation(
        f"""mutation($contract: ID!, $line: ID!) {{ amendContract(input: {AMEND_INPUT}) {{
             contract {{ id lines {{ quantity }} }} order {{ id type }}
             preview {{ total {{ amount }} }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"contract": s["contract"], "line": s["contractLine"]},
        check_amend,
        not_found=("contractId",),
        audit=("contract.amend", side_key("contract")),
    ),
    "cancelContract": Operation(
        f"""mutation($contract: ID!) {{ cancelContract(input: {{contractId: $contract,
             effectiveDate: "2026-03-01"}}) {{ contract {{ id status endDate }}
             order {{ id type }} preview {{ total {{ amount }} }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"contract": s["contract"]},
        check_cancel_contract,
        not_found=("contractId",),
        audit=("contract.cancel", side_key("contract")),
    ),
    "renewContract": Operation(
        f"""mutation($contract: ID!) {{ renewContract(input: {{contractId: $contract}}) {{
             contract {{ id status startDate endDate renewalOf {{ id }}
                         lines(asOf: "2027-01-01") {{ quantity unitPrice }} }}
             order {{ id type }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"contract": s["contract"]},
        check_renew,
        not_found=("contractId",),
        audit=("contract.renew", side_key("contract")),
    ),
    "placeBillingHold": Operation(
        f"""mutation($contract: ID!) {{ placeBillingHold(input: {{scope: CONTRACT,
             targetId: $contract, reason: "dispute"}}) {{
             hold {{ id scope source active contract {{ id }} }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"contract": s["contract"]},
        check_place_hold,
        not_found=("targetId",),
        audit=("hold.place", payload("hold.id")),
    ),
    "releaseBillingHold": Operation(
        f"""mutation($hold: ID!) {{ releaseBillingHold(input: {{holdId: $hold}}) {{
             hold {{ id active releasedAt }} {ERRORS} }} }}""",
        ACCOUNT_TEAM,
        lambda w, s: {"hold": s["hold"]},
        check_release_hold,
        not_found=("holdId",),
        audit=("hold.release", side_key("hold")),
    ),
    "overrideBillingDates": Operation(
        f"""mutation($op: ID!) {{ overrideBillingDates(input: {{orderProductId: $op,
             nextBillingDate: "2026-03-05"}}) {{
             orderProducts {{ id nextBillingDateOverride nextBillingDate }} {ERRORS} }} }}""",
        BILLING,
        lambda w, s: {"op": s["orderProduct"]},
        check_override,
        not_found=("orderProductId",),
        audit=("billing_dates.override", side_key("orderProduct")),
    ),
    "changeBillingDayOfMonth": Operation(
        f"""mutation($contract: ID!) {{ changeBillingDayOfMonth(input: {{
             contractId: $contract, billingDayOfMonth: 15}}) {{
             contract {{ id billingDayOfMonth }} {ERRORS} }} }}""",
        BILLING,
        lambda w, s: {"contract": s["contract"]},
        check_billing_day,
        not_found=("contractId",),
        audit=("contract.change_billing_day", side_key("contract")),
    ),
    "startInvoiceRun": Operation(
        f"""mutation($account: ID!) {{ startInvoiceRun(input: {{targetDate: "2026-03-01",
             accountIds: [$account]}}) {{ invoiceRun {{ id status targetDate }} {ERRORS} }} }}""",
        BILLING,
        lambda w, s: {"account": s["account"]},
        check_start_run,
        not_found=("accountIds", "0"),
        audit=("invoice_run.start", payload("invoiceRun.id")),
    ),
    "postInvoice": Operation(
        f"""mutation($invoice: ID!) {{ postInvoice(input: {{invoiceId: $invoice}}) {{
             invoice {{ id status number postedOn }} {ERRORS} }} }}""",
        BILLING,
        lambda w, s: {"invoice": s["draftInvoice"]},
        check_post_invoice,
        not_found=("invoiceId",),
        audit=("invoice.post", side_key("draftInvoice")),
    ),
    "postInvoices": Operation(
        f"""mutation($run: ID!) {{ postInvoices(input: {{invoiceRunId: $run}}) {{
             invoices {{ id status number }} {ERRORS} }} }}""",
        BILLING,
        lambda w, s: {"run": w.run_draft},
        check_post_invoices,
        audit=("invoice_run.post", lambda case: case.world.run_draft),
    ),
    "cancelInvoice": Operation(
        f"""mutation($invoice: ID!) {{ cancelInvoice(input: {{invoiceId: $invoice}}) {{
             invoice {{ id status number }} {ERRORS} }} }}""",
        BILLING,
        lambda w, s: {"invoice": s["draftInvoice"]},
        check_cancel_invoice,
        not_found=("invoiceId",),
        audit=("invoice.cancel", side_key("draftInvoice")),
    ),
    "creditInvoice": Operation(
        f"""mutation($invoice: ID!) {{ creditInvoice(input: {{invoiceId: $invoice}}) {{
             invoice {{ id paymentStatus balance {{ amount }} }}
             creditNote {{ id documentType number total {{ amount }} reverses {{ id }} }}
             {ERRORS} }} }}""",
        BILLING,
        lambda w, s: {"invoice": s["postedInvoice"]},
        check_credit,
        not_found=("invoiceId",),
        audit=("invoice.credit", side_key("postedInvoice")),
    ),
    "recordPayment": Operation(
        f"""mutation($account: ID!) {{ recordPayment(input: {{accountId: $account,
             amount: "10.00", receivedOn: "2026-02-14", reference: "chq 12"}}) {{
             payment {{ id amount {{ amount }} unappliedAmount {{ amount }}
                        applications {{ invoice {{ id }} }} }} {ERRORS} }} }}""",
        BILLING,
        lambda w, s: {"account": s["account"]},
        check_payment,
        not_found=("accountId",),
        audit=("payment.record", payload("payment.id")),
    ),
    "updateHoldRules": Operation(
        f"""mutation {{ updateHoldRules(input: {{overdueDays: 30}}) {{
             holdRules {{ overdueDays }} {ERRORS} }} }}""",
        BILLING,
        check=check_hold_rules_update,
        audit=("hold_rules.update", lambda case: gid("HoldRules", 1)),
    ),
}


def test_every_operation_of_the_schema_has_a_matrix_entry() -> None:
    assert sorted(QUERIES) == QUERY_FIELDS
    assert sorted(MUTATIONS) == MUTATION_FIELDS


def test_every_mutation_names_the_audit_event_it_writes() -> None:
    """test_access checks it, through auditEvents(entityId:), for every role that may."""
    assert [name for name in MUTATION_FIELDS if MUTATIONS[name].audit is None] == []
    assert [name for name in MUTATION_FIELDS if MUTATIONS[name].not_found is None] == [
        "createAccount",
        "createProduct",
        "createUser",
        "postInvoices",
        "updateHoldRules",
    ]


def _token(world: World, caller: str) -> str | None:
    if caller == ANONYMOUS:
        return None
    if caller == BAD_TOKEN:
        return "orb_not-a-token-of-anyone"
    return world.users[caller.split("@")[0]].token


def _no_data(body: dict[str, Any]) -> bool:
    data = body.get("data")
    return data is None or all(value is None for value in data.values())


def _result(body: dict[str, Any], name: str) -> Any:
    """The operation's field, or the whole data when the document aliases it."""
    data = body["data"]
    return data.get(name, data)


async def attempt(client: httpx.AsyncClient, world: World, name: str, caller: str) -> None:
    """One caller performs one operation; assert what section 11 says must happen."""
    is_mutation = name in MUTATION_FIELDS
    operation = (MUTATIONS if is_mutation else QUERIES)[name]
    role = caller.split("@")[0]
    side = world.other if caller == MANAGER_ON_OTHER else world.own
    api = Api(client, _token(world, caller))
    before = await snapshot()
    body = await api.post(operation.document, operation.variables(world, side))

    if caller in (ANONYMOUS, BAD_TOKEN) or role not in operation.allowed:
        expected = "FORBIDDEN" if role in EVERYONE else "UNAUTHENTICATED"
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
        assert codes == {expected}, body
        assert _no_data(body), body
        assert_unchanged(before, await snapshot())
        return

    assert "errors" not in body, body["errors"]
    result = _result(body, name)
    if role == MANAGER:
        # nothing of another account, anywhere in the response
        assert await accounts_in(body) <= {row_of(world.own["account"])}, body
    if caller == MANAGER_ON_OTHER:
        ghost = await api.post(operation.document, operation.variables(world, world.ghost))
        assert body == ghost, "another account's entities must read as if they did not exist"
        assert_unchanged(before, await snapshot())
        if is_mutation and operation.not_found is not None:
            codes = [(e["code"], tuple(e["field"] or ())) for e in result["userErrors"]]
            assert codes == [("NOT_FOUND", operation.not_found)], result
        return

    case = Case(api, world, caller, result)
    if is_mutation:
        assert result["userErrors"] == [], result["userErrors"]
    else:
        assert_unchanged(before, await snapshot())  # reading writes nothing
    assert operation.check is not None
    await operation.check(case)
    if is_mutation:
        assert operation.audit is not None, f"{name}: which audit event should it write?"
        action, entity_of = operation.audit
        entity = entity_of(case)
        events = await api.data(
            """query($entity: ID!) { auditEvents(entityId: $entity, first: 1) {
                 edges { node { action entityId actor { id } details } } } }""",
            {"entity": entity},
        )
        (latest,) = [e["node"] for e in events["auditEvents"]["edges"]]
        assert isinstance(json.loads(latest.pop("details")), dict)
        assert latest == {
            "action": action,
            "entityId": entity,
            "actor": {"id": world.users[role].gid},
        }


@pytest.mark.parametrize("name", QUERY_FIELDS + MUTATION_FIELDS)
async def test_access(app_client: httpx.AsyncClient, name: str) -> None:
    """Every caller of CALLERS performs ``name``. Callers that must not write share one
    world (and prove they wrote nothing); each caller whose mutation succeeds gets a
    fresh world. Failures are collected so that one run shows the whole row."""
    operation = (MUTATIONS if name in MUTATION_FIELDS else QUERIES).get(name)
    assert operation is not None, f"{name} has no entry in the access matrix"
    writers = [c for c in CALLERS if name in MUTATION_FIELDS and c in operation.allowed]
    failures = []
    world = await build_world()
    for caller in CALLERS:
        if caller in writers:
            continue
        try:
            await attempt(app_client, world, name, caller)
        except AssertionError as error:
            failures.append(f"{name} as {caller}: {error}")
    for caller in writers:
        await reset(app_client)
        world = await build_world()
        try:
            await attempt(app_client, world, name, caller)
        except AssertionError as error:
            failures.append(f"{name} as {caller}: {error}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (ADMIN, True),
        (FINANCE, True),
        (MANAGER, False),
        (VIEWER, False),
    ],
)
async def test_only_admin_and_finance_change_an_accounts_owner(
    app_client: httpx.AsyncClient, role: str, allowed: bool
) -> None:
    """An account manager updates their accounts, but not who owns them."""
    world = await build_world()
    api = Api(app_client, world.users[role].token)
    before = await snapshot()
    body = await api.post(
        """mutation($account: ID!, $owner: ID) { updateAccount(input: {accountId: $account,
             ownerId: $owner}) { account { owner { id } } userErrors { code } } }""",
        {"account": world.own["account"], "owner": world.users[FINANCE].gid},
    )
    if allowed:
        assert body["data"]["updateAccount"] == {
            "account": {"owner": {"id": world.users[FINANCE].gid}},
            "userErrors": [],
        }
        # the manager no longer sees it: it is not theirs any more
        manager = Api(app_client, world.manager.token)
        data = await manager.data(
            "query($id: ID!) { account(id: $id) { id } }", {"id": world.own["account"]}
        )
        assert data["account"] is None
    else:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert_unchanged(before, await snapshot())

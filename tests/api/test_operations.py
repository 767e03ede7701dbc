"""The example operations in schema/operations, run against the demo data.

Every operation of every file is executed over HTTP, with realistic variables,
and its answer is checked against what the demo data determines. The demo is
loaded once for the module, on a fixed date (DEMO_NOW); the tests that write
each work on an account of their own, so they do not depend on their order:

    Redwood (USD)   StartInvoiceRun, InvoiceRun, PostInvoices
    Kumo (JPY)      RecordPayment
    Northwind       AmendmentPreview, AmendContract
    Pennine (GBP)   CancelContractPreview, CancelContract
    Vela (EUR)      PlaceBillingHold, ReleaseBillingHold, InvoicePreview
    Nordlicht       SetPurchaseOrderNumber
    Gulf Pearl      Invoice, CreditInvoice (BHD, three decimals)
    Kestrel         RenewContract

The read-only operations look at accounts no test writes to.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from graphql import OperationDefinitionNode, build_schema, parse, validate

from orbit import clock
from orbit.api.schema import sdl
from orbit.db.models import Account, Contract, Role, User
from orbit.engine.enums import ContractStatus
from orbit.services.access import Actor, create_user
from orbit.services.ids import encode
from tests.api.conftest import Api, wipe
from tests.support import TestDatabase

OPERATIONS_DIR = Path(__file__).resolve().parents[2] / "schema" / "operations"

#: "now" for this module: the demo's dates are relative to it
DEMO_NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)
TODAY = DEMO_NOW.date()


# --------------------------------------------------------------------------------------
# The operation files
# --------------------------------------------------------------------------------------


def operation_files() -> dict[str, Path]:
    """Operation name -> the file that defines it."""
    found: dict[str, Path] = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            assert isinstance(definition, OperationDefinitionNode), path
            assert definition.name is not None, f"{path.name}: every operation has a name"
            name = definition.name.value
            assert name not in found, f"{name} is defined twice"
            found[name] = path
    return found


OPERATIONS = operation_files()
#: operation name -> the tests that say they run it
DECLARED: dict[str, list[str]] = {}

F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def runs(*names: str) -> Callable[[F], F]:
    """Declare the operations a test runs; the test fails unless it runs them all."""

    def decorate(test: F) -> F:
        for name in names:
            DECLARED.setdefault(name, []).append(test.__name__)

        @functools.wraps(test)
        async def wrapper(*args: Any, **kwargs: Any) -> None:
            EXECUTED.clear()
            await test(*args, **kwargs)
            missing = set(names) - EXECUTED
            assert not missing, f"{test.__name__} did not run {sorted(missing)}"

        return wrapper  # type: ignore[return-value]

    return decorate


EXECUTED: set[str] = set()


async def op(
    api: Api, name: str, variables: dict[str, Any] | None = None, user_errors: bool = False
) -> dict[str, Any]:
    """Run one operation of its file as a client would (the whole document and the
    operation's name); no GraphQL errors, and no userErrors unless expected."""
    response = await api.client.post(
        "/graphql",
        json={
            "query": OPERATIONS[name].read_text(),
            "operationName": name,
            "variables": variables or {},
        },
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    EXECUTED.add(name)
    data: dict[str, Any] = body["data"]
    if not user_errors:
        for field, value in data.items():
            if isinstance(value, dict) and "userErrors" in value:
                assert value["userErrors"] == [], (field, value["userErrors"])
    return data


def test_every_operation_is_run_by_a_test() -> None:
    assert sorted(DECLARED) == sorted(OPERATIONS)


def test_the_operations_validate_against_the_served_schema() -> None:
    schema = build_schema(sdl())
    for path in sorted(set(OPERATIONS.values())):
        errors = validate(schema, parse(path.read_text()))
        assert not errors, (path.name, errors)


def test_each_file_says_what_it_is_for_and_which_variables_it_takes() -> None:
    for path in sorted(set(OPERATIONS.values())):
        text = path.read_text()
        header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        assert text.startswith("# "), f"{path.name}: starts with a header comment"
        names = [n for n, p in OPERATIONS.items() if p == path]
        for name in names:
            assert name in header, (path.name, name)
        assert "Variables:" in header or "variables:" in header, path.name
        body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
        for variable in set(re.findall(r"\$(\w+)\s*:", body)):
            assert f"${variable}" in header, f"{path.name}: ${variable} is not described"


# --------------------------------------------------------------------------------------
# The demo data, once for the module
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def demo(database: TestDatabase) -> AsyncIterator[str]:
    """The demo data and an admin's token."""
    from orbit.demo import load_demo

    await wipe()
    clock.pin(DEMO_NOW)
    try:
        await load_demo()
        _, token = await create_user(Actor.system(), "ops@example.com", "Ops Admin", Role.ADMIN)
    finally:
        clock.pin(None)
    yield token


@pytest.fixture(autouse=True)
async def clean(demo: str) -> AsyncIterator[None]:
    """Replaces the suite's per-test wipe: this module's tests share the demo data."""
    clock.pin(DEMO_NOW)
    yield
    clock.pin(None)


@pytest.fixture
async def admin(app_client: httpx.AsyncClient, demo: str) -> Api:
    return Api(app_client, demo)


async def account_gid(name: str) -> str:
    account = await Account.get(name=name)
    return encode("Account", account.id)


async def contract_gid(account_name: str, status: ContractStatus = ContractStatus.ACTIVE) -> str:
    contract = await Contract.filter(account__name=account_name, status=status).first()
    assert contract is not None, (account_name, status)
    return encode("Contract", contract.id)


async def user_gid(name: str) -> str:
    return encode("User", (await User.get(name=name)).id)


def edges(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


def money(value: dict[str, str]) -> Decimal:
    return Decimal(value["amount"])


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


@runs("Accounts", "AccountPage")
async def test_account_page_of_a_yen_customer(admin: Api) -> None:
    found = edges((await op(admin, "Accounts", {"search": "sakura"}))["accounts"])
    assert [a["name"] for a in found] == ["Sakura Precision K.K."]
    assert found[0]["owner"]["name"] == "Priya Raman"

    page = (await op(admin, "AccountPage", {"id": found[0]["id"], "first": 50}))["account"]
    assert (page["currency"], page["timezone"], page["billingDayOfMonth"]) == (
        "JPY",
        "Asia/Tokyo",
        1,
    )
    assert page["owner"]["email"] == "priya@orbit-demo.example"
    (contract,) = edges(page["contracts"])
    # signed 2025-07-20 for a year; analytics grew from 50 to 65 seats on 2026-01-01
    assert (contract["status"], contract["startDate"], contract["endDate"]) == (
        "ACTIVE",
        "2025-07-20",
        "2026-07-19",
    )
    lines = {line["product"]["sku"]: line for line in contract["lines"]}
    # quantities in effect today: the one-time setup fee was on the start date only
    assert {sku: (line["quantity"], Decimal(line["unitPrice"])) for sku, line in lines.items()} == {
        "ORB-PLAT-M": (50, 6800),
        "ORB-ANALYTICS": (65, 2200),
        "ORB-SETUP": (0, 350000),
    }
    assert contract["annualRecurringValue"] == {"amount": "5796000", "currency": "JPY"}
    # before the amendment, 50 analytics seats
    before = await op(admin, "AccountPage", {"id": found[0]["id"], "asOf": "2025-12-31"})
    (old,) = edges(before["account"]["contracts"])
    assert {ln["product"]["sku"]: ln["quantity"] for ln in old["lines"]}["ORB-ANALYTICS"] == 50
    assert old["annualRecurringValue"]["amount"] == str(12 * (50 * 6800 + 50 * 2200))

    orders = edges(page["orders"])
    assert sorted(o["type"] for o in orders) == ["AMENDMENT", "NEW"]
    amendment = next(o for o in orders if o["type"] == "AMENDMENT")
    (delta,) = amendment["products"]
    assert (delta["product"]["sku"], delta["quantity"], delta["startDate"]) == (
        "ORB-ANALYTICS",
        15,
        "2026-01-01",
    )
    assert delta["nextBillingDate"] == "2026-06-01"
    assert delta["billedThroughDate"] == "2026-05-31"

    invoices = edges(page["invoices"])
    latest = invoices[0]
    assert (latest["invoiceDate"], latest["status"], latest["total"]) == (
        "2026-05-01",
        "POSTED",
        {"amount": "483000", "currency": "JPY"},
    )
    assert sum(money(line["amount"]) for line in latest["lines"]) == 483000
    assert all(i["status"] == "POSTED" for i in invoices)
    # the first invoice: the partial first month, July and the setup fee
    first = invoices[-1]
    assert any(line["product"]["sku"] == "ORB-SETUP" for line in first["lines"])
    open_total = sum(money(i["balance"]) for i in invoices)
    assert money(page["balance"]) == open_total
    assert page["balance"]["currency"] == "JPY"
    assert all(p["amount"]["currency"] == "JPY" for p in edges(page["payments"]))
    assert page["holds"] == []


@runs("Accounts", "UpcomingRenewals")
async def test_upcoming_renewals_of_an_account_manager(admin: Api) -> None:
    priya = await user_gid("Priya Raman")
    mine = edges((await op(admin, "Accounts", {"ownerId": priya}))["accounts"])
    assert sorted(a["name"] for a in mine) == [
        "Gulf Pearl Trading W.L.L.",
        "Kumo Games K.K.",
        "Sakura Precision K.K.",
        "Tanuki Logistics K.K.",
        "Wattle & Gum Pty Ltd",
    ]
    renewals = edges((await op(admin, "UpcomingRenewals", {"ownerId": priya}))["upcomingRenewals"])
    assert [
        (r["account"]["name"], r["endDate"], r["noticeDeadline"], r["daysUntilEnd"])
        for r in renewals
    ] == [
        # the pilot renewed for a year (6% uplift), up again
        ("Tanuki Logistics K.K.", "2026-06-30", "2026-05-01", 47),
        ("Sakura Precision K.K.", "2026-07-19", "2026-06-04", 66),
    ]
    tanuki, sakura = renewals
    assert all(r["owner"]["name"] == "Priya Raman" for r in renewals)
    # 20 seats at 7,208 yen (6,800 + 6%), renewing at 7,640 (another 6%, rounded to the yen)
    assert tanuki["currentAnnualValue"] == {"amount": "1729920", "currency": "JPY"}
    assert tanuki["forecastAnnualValue"] == {"amount": "1833600", "currency": "JPY"}
    assert tanuki["daysUntilNoticeDeadline"] == -13
    assert (
        sakura["currentAnnualValue"]
        == sakura["forecastAnnualValue"]
        == {"amount": "5796000", "currency": "JPY"}
    )
    # the notice deadline still ahead: only Sakura's
    by_notice = edges(
        (
            await op(
                admin,
                "UpcomingRenewals",
                {"ownerId": priya, "by": "NOTICE_DEADLINE", "withinDays": 30},
            )
        )["upcomingRenewals"]
    )
    assert [r["account"]["name"] for r in by_notice] == ["Sakura Precision K.K."]
    # everyone's: five contracts end within 90 days, all with owners
    every = edges((await op(admin, "UpcomingRenewals"))["upcomingRenewals"])
    assert len(every) >= 4 and all(r["owner"] for r in every)
    assert [r["endDate"] for r in every] == sorted(r["endDate"] for r in every)
    auto = edges((await op(admin, "UpcomingRenewals", {"autoRenew": True}))["upcomingRenewals"])
    assert {r["account"]["name"] for r in auto} >= {"Redwood Logistics", "Thistle & Rowe Ltd"}


@runs("ReceivablesAging", "Accounts")
async def test_receivables_aging(admin: Api) -> None:
    report = (await op(admin, "ReceivablesAging"))["receivablesAging"]
    assert report["asOf"] == TODAY.isoformat()
    rows = {row["account"]["name"]: row for row in edges(report["accounts"])}
    # the report lists the accounts that owe something or have credit: as of today
    # (every demo account's today is the same date at noon UTC), what they owe
    balances = {a["name"]: a["balance"] for a in edges((await op(admin, "Accounts"))["accounts"])}
    assert set(rows) == {name for name, b in balances.items() if money(b) != 0}
    assert "Meridian Community Bank" not in rows
    for name, row in rows.items():
        assert row["total"] == balances[name]
        total = sum(money(b["amount"]) for b in row["buckets"]) + money(row["unappliedCredit"])
        assert money(row["total"]) == total
        assert [b["label"] for b in row["buckets"]] == ["CURRENT", "1-30", "31-60", "61-90", "91+"]
    # Atlas stopped paying after it was acquired: its debt ages
    atlas = {b["label"]: b["amount"]["amount"] for b in rows["Atlas Freight Partners"]["buckets"]}
    assert Decimal(atlas["31-60"]) > 0 and Decimal(atlas["61-90"]) > 0
    # a prompt payer owes only this month's invoice, not yet due
    bluefin = {b["label"]: b["amount"] for b in rows["Bluefin Maritime GmbH"]["buckets"]}
    assert bluefin["CURRENT"] == {"amount": "1190.00", "currency": "EUR"}
    assert {b["amount"] for label, b in bluefin.items() if label != "CURRENT"} == {"0.00"}
    # Wattle & Gum paid a deposit: unapplied credit
    assert money(rows["Wattle & Gum Pty Ltd"]["unappliedCredit"]) < 0
    totals = {t["currency"]: t for t in report["accounts"]["totalsByCurrency"]}
    assert set(totals) == {"USD", "EUR", "GBP", "JPY", "BHD", "AUD"}
    for currency, entry in totals.items():
        members = [row for row in rows.values() if row["account"]["currency"] == currency]
        assert entry["total"]["currency"] == currency
        assert money(entry["total"]) == sum((money(row["total"]) for row in members), Decimal(0))
        assert money(entry["unappliedCredit"]) == sum(
            (money(row["unappliedCredit"]) for row in members), Decimal(0)
        )
        for bucket in entry["buckets"]:
            assert money(bucket["amount"]) == sum(
                (
                    money(b["amount"])
                    for row in rows.values()
                    if row["account"]["currency"] == currency
                    for b in row["buckets"]
                    if b["label"] == bucket["label"]
                ),
                Decimal(0),
            )
    # one account manager's book
    tomas = await user_gid("Tomás Okafor")
    theirs = edges(
        (await op(admin, "ReceivablesAging", {"ownerId": tomas}))["receivablesAging"]["accounts"]
    )
    assert {row["account"]["owner"]["name"] for row in theirs} == {"Tomás Okafor"}
    assert {row["account"]["name"] for row in theirs} == {
        name
        for name, row in rows.items()
        if row["account"]["owner"] and row["account"]["owner"]["name"] == "Tomás Okafor"
    }


@runs("InvoicePreview", "ActiveHolds", "PlaceBillingHold", "ReleaseBillingHold")
async def test_hold_and_release_an_account(admin: Api) -> None:
    vela = await account_gid("Vela Mobility SAS")
    preview = await op(admin, "InvoicePreview", {"accountId": vela, "targetDate": "2026-06-01"})
    # 15 seats at 42.00, billed monthly in advance (the sandbox is billed quarterly)
    assert preview["account"]["invoicePreview"]["total"] == {"amount": "630.00", "currency": "EUR"}
    # the demo's active manual hold (Helios) and purchase-order hold (Nordlicht)
    manual = edges((await op(admin, "ActiveHolds", {"source": "MANUAL"}))["holds"])
    assert [(h["account"]["name"], h["scope"], h["releaseOn"]) for h in manual] == [
        ("Helios Robotics", "CONTRACT", "2026-05-28")
    ]

    contract = await contract_gid("Vela Mobility SAS")
    placed = (
        await op(
            admin,
            "PlaceBillingHold",
            {
                "input": {
                    "scope": "CONTRACT",
                    "targetId": contract,
                    "reason": "Disputed seat count",
                    "releaseOn": "2026-06-15",
                },
                "idempotencyKey": "vela-hold-1",
            },
        )
    )["placeBillingHold"]["hold"]
    assert (placed["source"], placed["active"], placed["releaseOn"]) == (
        "MANUAL",
        True,
        "2026-06-15",
    )
    held = edges((await op(admin, "ActiveHolds", {"accountId": vela}))["holds"])
    assert [h["id"] for h in held] == [placed["id"]]
    # while held, the 1 June run would bill nothing
    preview = await op(admin, "InvoicePreview", {"accountId": vela, "targetDate": "2026-06-01"})
    assert preview["account"]["invoicePreview"]["lines"] == []

    released = (await op(admin, "ReleaseBillingHold", {"holdId": placed["id"]}))[
        "releaseBillingHold"
    ]["hold"]
    assert released["active"] is False and released["releasedAt"]
    assert edges((await op(admin, "ActiveHolds", {"accountId": vela}))["holds"]) == []
    preview = await op(admin, "InvoicePreview", {"accountId": vela, "targetDate": "2026-06-01"})
    assert preview["account"]["invoicePreview"]["total"]["amount"] == "630.00"


@runs("ActiveHolds", "SetPurchaseOrderNumber", "InvoicePreview")
async def test_purchase_order_number_releases_the_hold(admin: Api) -> None:
    nordlicht = await account_gid("Nordlicht Energie AG")
    (hold,) = edges(
        (await op(admin, "ActiveHolds", {"accountId": nordlicht, "source": "PURCHASE_ORDER_RULE"}))[
            "holds"
        ]
    )
    assert hold["order"]["purchaseOrderNumber"] is None
    # tomorrow's run: the quarter of the annual seats and of premium support
    before = await op(admin, "InvoicePreview", {"accountId": nordlicht, "targetDate": "2026-05-15"})
    assert before["account"]["invoicePreview"]["total"] == {"amount": "6162.50", "currency": "EUR"}

    order = (
        await op(
            admin,
            "SetPurchaseOrderNumber",
            {"orderId": hold["order"]["id"], "purchaseOrderNumber": "4500012399"},
        )
    )["setPurchaseOrderNumber"]["order"]
    assert order["purchaseOrderNumber"] == "4500012399"
    assert order["holds"] == []
    assert [p["onHold"] for p in order["products"]] == [False]
    # ... and now also the analytics seats added on 20 April, which waited for the PO:
    # 45 x 14.00 a month, 25 days of the 30-day period to 14 May, then a month, both due
    # on the 15th (the next billing date after the amendment)
    after = await op(admin, "InvoicePreview", {"accountId": nordlicht, "targetDate": "2026-05-15"})
    known = {ln["id"] for ln in before["account"]["invoicePreview"]["lines"]}
    lines = [ln for ln in after["account"]["invoicePreview"]["lines"] if ln["id"] not in known]
    assert [
        (ln["periodStart"], ln["periodEnd"], ln["dueDate"], ln["amount"]["amount"]) for ln in lines
    ] == [
        ("2026-04-20", "2026-05-14", "2026-05-15", "525.00"),
        ("2026-05-15", "2026-06-14", "2026-05-15", "630.00"),
    ]
    assert after["account"]["invoicePreview"]["total"]["amount"] == "7317.50"


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


async def schedule_total(api: Api, account_name: str) -> Decimal:
    """The sum of every stored schedule line of the account's orders (a term contract's
    lifetime billing)."""
    page = await op(api, "AccountPage", {"id": await account_gid(account_name), "first": 100})
    total = Decimal(0)
    for order in edges(page["account"]["orders"]):
        for product in order["products"]:
            total += money(product["totalAmount"])
    return total


@runs("AmendmentPreview", "AmendContract", "AccountPage")
async def test_the_amendment_preview_is_what_applying_it_creates(admin: Api) -> None:
    contract = await contract_gid("Northwind Analytics, Inc.")
    page = await op(admin, "AccountPage", {"id": await account_gid("Northwind Analytics, Inc.")})
    (current,) = edges(page["account"]["contracts"])
    seats = next(ln for ln in current["lines"] if ln["product"]["sku"] == "ORB-PLAT-M")
    assert seats["quantity"] == 55  # 40 at signature, 55 since the February amendment
    variables = {
        "input": {
            "contractId": contract,
            "effectiveDate": "2026-06-10",
            "changes": [{"contractLineId": seats["id"], "quantity": 60}],
        }
    }

    preview = (await op(admin, "AmendmentPreview", variables))["amendmentPreview"]["preview"]
    (delta,) = preview["changes"]
    assert (delta["quantityBefore"], delta["quantityAfter"], delta["quantityDelta"]) == (55, 60, 5)
    # 5 seats at 45.00: 21 days of June's 30 (157.50, due with the July invoice), then
    # 14 months to the end of the term, 31 August 2027
    schedule = delta["schedule"]
    assert (
        schedule[0]["periodStart"],
        schedule[0]["periodEnd"],
        schedule[0]["dueDate"],
        schedule[0]["amount"]["amount"],
    ) == ("2026-06-10", "2026-06-30", "2026-07-01", "157.50")
    assert schedule[1]["dueDate"] == "2026-07-01"
    assert len(schedule) == 15 and schedule[-1]["periodEnd"] == "2027-08-31"
    assert preview["total"] == {"amount": "3307.50", "currency": "USD"}
    assert preview["terminations"] == []

    before = await schedule_total(admin, "Northwind Analytics, Inc.")
    applied = await op(
        admin, "AmendContract", {**variables, "idempotencyKey": "northwind-june-seats"}
    )
    payload = applied["amendContract"]
    assert payload["preview"]["total"] == preview["total"]
    assert payload["order"]["type"] == "AMENDMENT"
    (op_,) = payload["order"]["products"]
    assert [
        (ln["periodStart"], ln["dueDate"], ln["amount"]["amount"]) for ln in op_["schedule"]
    ] == [(ln["periodStart"], ln["dueDate"], ln["amount"]["amount"]) for ln in schedule]
    after = await schedule_total(admin, "Northwind Analytics, Inc.")
    assert after - before == Decimal("3307.50")
    # the same key again applies nothing more
    again = await op(
        admin, "AmendContract", {**variables, "idempotencyKey": "northwind-june-seats"}
    )
    assert again["amendContract"]["order"]["id"] == payload["order"]["id"]
    assert await schedule_total(admin, "Northwind Analytics, Inc.") == after


@runs("CancelContractPreview", "CancelContract")
async def test_cancel_contract_preview_and_apply(admin: Api) -> None:
    contract = await contract_gid("Pennine Outdoor Ltd")
    variables = {"input": {"contractId": contract, "effectiveDate": "2026-06-16"}}
    preview = (await op(admin, "CancelContractPreview", variables))["cancelContractPreview"][
        "preview"
    ]
    changes = {t["contractLine"]["product"]["sku"]: t for t in preview["terminations"]}
    seats, storage = changes["ORB-PLAT-M"], changes["ORB-STORAGE-TB"]
    # 10 seats at 36.00 billed through May: June is cut after the 15th (180.00 kept),
    # ten more months removed
    assert seats["endDate"] == "2026-06-15"
    assert seats["keptLine"]["amount"]["amount"] == "180.00"
    assert seats["totalChange"]["amount"] == "-3780.00"
    assert seats["creditLines"] == []
    # 3 TB at 20.00 in arrears: May (due 1 June) stays, half of June is kept
    assert storage["totalChange"]["amount"] == "-630.00"
    assert preview["total"] == {"amount": "-4410.00", "currency": "GBP"}

    before = await schedule_total(admin, "Pennine Outdoor Ltd")
    cancelled = (await op(admin, "CancelContract", variables))["cancelContract"]
    assert cancelled["contract"]["status"] == "CANCELLED"
    assert cancelled["contract"]["endDate"] == "2026-06-15"
    assert cancelled["preview"]["total"] == preview["total"]
    after = await schedule_total(admin, "Pennine Outdoor Ltd")
    assert after - before == Decimal("-4410.00")


async def follow(api: Api, run_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """Poll InvoiceRun until the run is finished, as a client does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = (await op(api, "InvoiceRun", {"id": run_id}))["invoiceRun"]
        if run["status"] in ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"):
            return run
        assert loop.time() < deadline, run
        await asyncio.sleep(0.05)


@runs("StartInvoiceRun", "InvoiceRun", "PostInvoices", "Invoice")
async def test_start_follow_and_post_an_invoice_run(admin: Api) -> None:
    redwood = await account_gid("Redwood Logistics")
    started = (
        await op(
            admin,
            "StartInvoiceRun",
            {
                "input": {"targetDate": "2026-06-01", "accountIds": [redwood]},
                "idempotencyKey": "redwood-june-run",
            },
        )
    )["startInvoiceRun"]["invoiceRun"]
    assert (
        started["targetDate"],
        started["invoiceDate"],
        started["autoPost"],
        started["accountsTotal"],
    ) == ("2026-06-01", "2026-06-01", False, 1)
    run = await follow(admin, started["id"])
    assert run["status"] == "COMPLETED"
    assert (run["accountsProcessed"], run["invoicesCreated"], run["linesCreated"]) == (1, 1, 2)
    assert run["errors"] == []
    (draft,) = edges(run["invoices"])
    # June's 30 seats at 45.00 in advance, May's 20 TB at 25.00 in arrears
    assert (draft["status"], draft["number"], draft["total"]) == (
        "DRAFT",
        None,
        {"amount": "1850.00", "currency": "USD"},
    )
    assert draft["dueDate"] == "2026-07-01"
    detail = (await op(admin, "Invoice", {"id": draft["id"]}))["invoice"]
    assert sorted(
        (ln["product"]["sku"], ln["periodStart"], ln["amount"]["amount"]) for ln in detail["lines"]
    ) == [("ORB-PLAT-M", "2026-06-01", "1350.00"), ("ORB-STORAGE-TB", "2026-05-01", "500.00")]
    assert detail["invoiceRun"]["id"] == started["id"]

    posted = (await op(admin, "PostInvoices", {"invoiceRunId": started["id"]}))["postInvoices"][
        "invoices"
    ]
    (invoice,) = posted
    assert invoice["status"] == "POSTED" and invoice["postedOn"] == TODAY.isoformat()
    assert re.fullmatch(r"INV-\d{6}", invoice["number"])
    assert invoice["paymentStatus"] == "UNPAID"
    # posting twice posts nothing more
    assert (await op(admin, "PostInvoices", {"invoiceRunId": started["id"]}))["postInvoices"][
        "invoices"
    ] == []


@runs("RecordPayment", "Invoice")
async def test_record_a_payment_in_yen(admin: Api) -> None:
    kumo = await account_gid("Kumo Games K.K.")
    page = await op(admin, "AccountPage", {"id": kumo, "first": 100})
    owed = money(page["account"]["balance"])
    open_invoices = [i for i in edges(page["account"]["invoices"]) if money(i["balance"]) > 0]
    assert owed > 0 and open_invoices
    assert {i["paymentStatus"] for i in open_invoices} <= {"UNPAID", "PARTIALLY_PAID"}
    payment = (
        await op(
            admin,
            "RecordPayment",
            {
                "input": {
                    "accountId": kumo,
                    "amount": str(owed),
                    "receivedOn": "2026-05-13",
                    "reference": "Zengin 0513-7781",
                },
                "idempotencyKey": "zengin-0513-7781",
            },
        )
    )["recordPayment"]["payment"]
    assert payment["amount"] == {"amount": str(owed), "currency": "JPY"}
    assert payment["unappliedAmount"]["amount"] == "0"
    assert payment["account"]["balance"] == {"amount": "0", "currency": "JPY"}
    applied = {a["invoice"]["id"]: a for a in payment["applications"]}
    assert set(applied) == {i["id"] for i in open_invoices}
    for invoice in open_invoices:
        application = applied[invoice["id"]]
        assert application["amount"] == invoice["balance"]
        assert application["invoice"]["paymentStatus"] == "PAID"
        assert application["appliedOn"] == TODAY.isoformat()  # posted today by the demo
    detail = (await op(admin, "Invoice", {"id": open_invoices[0]["id"]}))["invoice"]
    assert detail["balance"]["amount"] == "0"
    assert payment["id"] in {a["payment"]["id"] for a in detail["applications"] if a["payment"]}


@runs("Invoice", "CreditInvoice")
async def test_credit_an_invoice_in_dinars(admin: Api) -> None:
    gulf = await account_gid("Gulf Pearl Trading W.L.L.")
    page = await op(admin, "AccountPage", {"id": gulf})
    latest = edges(page["account"]["invoices"])[0]
    # 15 seats at 17.250 dinars, due in 30 days: not paid yet
    assert latest["total"] == {"amount": "258.750", "currency": "BHD"}
    assert latest["paymentStatus"] == "UNPAID"
    invoice = (await op(admin, "Invoice", {"id": latest["id"]}))["invoice"]
    assert invoice["applications"] == []
    credited = (await op(admin, "CreditInvoice", {"invoiceId": latest["id"], "rebill": False}))[
        "creditInvoice"
    ]
    note = credited["creditNote"]
    assert (note["documentType"], note["status"], note["total"]) == (
        "CREDIT_NOTE",
        "POSTED",
        {"amount": "-258.750", "currency": "BHD"},
    )
    assert re.fullmatch(r"CN-\d{6}", note["number"])
    assert note["reverses"]["id"] == latest["id"]
    assert credited["invoice"]["paymentStatus"] == "PAID"
    assert credited["invoice"]["balance"]["amount"] == "0.000"
    after = (await op(admin, "Invoice", {"id": latest["id"]}))["invoice"]
    assert [(a["creditNote"]["number"], a["amount"]["amount"]) for a in after["applications"]] == [
        (note["number"], "258.750")
    ]


@runs("RenewContract", "UpcomingRenewals")
async def test_renew_a_contract_by_hand(admin: Api) -> None:
    contract = await contract_gid("Kestrel Software B.V.")
    tomas = await user_gid("Tomás Okafor")
    due = edges((await op(admin, "UpcomingRenewals", {"ownerId": tomas}))["upcomingRenewals"])
    assert "Kestrel Software B.V." in {r["account"]["name"] for r in due}
    kestrel = next(r for r in due if r["account"]["name"] == "Kestrel Software B.V.")
    assert kestrel["autoRenew"] is False and kestrel["endDate"] == "2026-07-14"

    renewed = (await op(admin, "RenewContract", {"contractId": contract, "upliftPercent": "3"}))[
        "renewContract"
    ]
    new = renewed["contract"]
    assert (new["status"], new["startDate"], new["endDate"]) == (
        "ACTIVE",
        "2026-07-15",
        "2027-07-14",
    )
    assert new["renewalOf"] == {
        "id": contract,
        "number": new["renewalOf"]["number"],
        "status": "RENEWED",
    }
    # the renewal order's products: quantities as they stood, prices up 3%
    assert sorted(
        (p["product"]["sku"], p["quantity"], p["unitPrice"]) for p in renewed["order"]["products"]
    ) == [("ORB-API-100K", 4, "87.55"), ("ORB-PLAT-M", 18, "43.26")]
    assert renewed["order"]["type"] == "RENEWAL" and renewed["order"]["status"] == "ACTIVATED"
    due = edges((await op(admin, "UpcomingRenewals", {"ownerId": tomas}))["upcomingRenewals"])
    assert "Kestrel Software B.V." not in {r["account"]["name"] for r in due}

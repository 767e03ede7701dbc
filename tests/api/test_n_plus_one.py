"""No N+1: the statements behind a page do not grow with the number of rows on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orbit.db.models import HoldScope, Role
from orbit.services import holds
from orbit.services.receivables import record_payment
from tests.api import builders
from tests.api.builders import SYSTEM, gid
from tests.api.conftest import Api, Statements, reset

ACCOUNT_PAGE = """
query($id: ID!) { account(id: $id) { id name currency balance { amount }
  owner { id name }
  contracts(first: 100) { edges { node { id number status startDate endDate
    lines { id quantity unitPrice billingFrequency product { id sku name listPrice } } } } }
  orders(first: 100) { edges { node { id number type status effectiveDate contract { id number }
    products { id quantity unitPrice startDate endDate totalAmount { amount }
               product { id sku } } } } }
  invoices(first: 100) { edges { node { id number status total { amount } balance { amount }
    lines { id description periodStart periodEnd amount { amount }
            product { id sku } orderProduct { id } } } } }
} }"""

#: what an account team's screen shows besides: schedules, billing state, holds,
#: payments and what was applied where, renewals, annual values
ACCOUNT_PAGE_IN_DEPTH = """
query($id: ID!) { account(id: $id) { id
  holds(activeOnly: false) { id scope contract { id } order { id } }
  contracts(first: 100) { edges { node { id annualRecurringValue { amount }
    renewalOf { id } renewedBy { id } account { id }
    orders { edges { node { id } } }
    lines { id quantity product { id } } } } }
  orders(first: 100) { edges { node { id account { id } holds { id }
    products { id onHold nextBillingDate billedThroughDate billedAmount { amount }
      contractLine { id quantity } order { id }
      schedule { id periodStart amount { amount } dueDate invoiced invoice { id number } } } } } }
  invoices(first: 100) { edges { node { id account { id } invoiceRun { id status }
    applications { amount { amount } payment { id } creditNote { id } invoice { id } }
    lines { id scheduleLine { id dueDate } orderProduct { id product { id } } } } } }
  payments(first: 100) { edges { node { id amount { amount } unappliedAmount { amount }
    applications { invoice { id number } } } } }
} }"""


async def account_with(contracts: int) -> str:
    """An account with ``contracts`` contracts (one line each, each under a hold), billed
    for January by a run (posted), and a payment applied to that invoice."""
    seats = await builders.product(sku=f"SEAT-{contracts}")
    owner = await builders.account(f"Account of {contracts}")
    for _ in range(contracts):
        contract, _order = await builders.contract(owner, seats)
        await holds.place_hold(
            SYSTEM, holds.HoldInput(HoldScope.CONTRACT, contract.id, "check", date(2026, 12, 1))
        )
    await builders.run(date(2026, 1, 1), auto_post=True, account_ids=[owner.id])
    await record_payment(SYSTEM, owner.id, Decimal("10.00"), date(2026, 2, 1), "wire")
    return gid("Account", owner.id)


async def statements(api: Api, query: str, account: str) -> tuple[int, dict]:
    with Statements() as log:
        data = await api.data(query, {"id": account})
    return len(log), data


@pytest.mark.parametrize(
    "query", [ACCOUNT_PAGE, ACCOUNT_PAGE_IN_DEPTH], ids=["account-page", "account-page-in-depth"]
)
async def test_account_page_statements_do_not_grow_with_contracts(admin: Api, query: str) -> None:
    one = await account_with(1)
    fifty = await account_with(50)
    small, small_data = await statements(admin, query, one)
    large, large_data = await statements(admin, query, fifty)
    contracts = large_data["account"]["contracts"]["edges"]
    assert len(contracts) == 50  # the page really holds them
    assert len(small_data["account"]["contracts"]["edges"]) == 1
    assert small == large, f"1 contract: {small} statements, 50 contracts: {large}"


def edges(*path: str) -> Callable[[dict[str, Any]], int]:
    def count(data: dict[str, Any]) -> int:
        for key in path:
            data = data[key]
        return len(data["edges"])

    return count


def run_invoices(data: dict[str, Any]) -> int:
    return sum(len(e["node"]["invoices"]["edges"]) for e in data["invoiceRuns"]["edges"])


#: a list query, and how many rows of it (one per account) a response holds
LISTS: dict[str, tuple[str, Callable[[dict[str, Any]], int]]] = {
    "accounts": (
        """{ accounts(first: 100) { edges { node { id name balance { amount }
        owner { id } holds { id } contracts { edges { node { id lines { id product { id } } } } }
        orders { edges { node { id products { id } } } }
        invoices { edges { node { id total { amount } } } }
        payments { edges { node { id } } } } } } }""",
        edges("accounts"),
    ),
    "invoices": (
        """{ invoices(first: 100) { edges { node { id number total { amount }
        account { id name } invoiceRun { id }
        lines { id amount { amount } product { id } orderProduct { id } }
        applications { amount { amount } payment { id } } } } } }""",
        edges("invoices"),
    ),
    "payments": (
        """{ payments(first: 100) { edges { node { id amount { amount } account { id }
        applications { invoice { id number } } } } } }""",
        edges("payments"),
    ),
    "holds": (
        """{ holds(first: 100) { edges { node { id reason account { id name }
        contract { id number } order { id } orderProduct { id } } } } }""",
        edges("holds"),
    ),
    "upcomingRenewals": (
        """{ upcomingRenewals(withinDays: 365, first: 100) { edges { node {
        endDate currentAnnualValue { amount } forecastAnnualValue { amount }
        owner { id } account { id name } contract { id lines { id product { id } } } } } } }""",
        edges("upcomingRenewals"),
    ),
    "receivablesAging": (
        """{ receivablesAging(asOf: "2026-02-15") { accounts(first: 100) {
        edges { node { account { id owner { id } } total { amount }
        buckets { label amount { amount } } } } totals { amount { amount } } } } }""",
        edges("receivablesAging", "accounts"),
    ),
    "auditEvents": (
        """{ auditEvents(first: 100) { edges { node { id action entityId
        actor { id name } } } } }""",
        edges("auditEvents"),
    ),
    "invoiceRuns": (
        """{ invoiceRuns(first: 100) { edges { node { id status invoicesCreated
        errors { message account { id } }
        invoices(first: 100) { edges { node { id account { id } lines { id } } } } } } } }""",
        run_invoices,
    ),
}


async def accounts_with(count: int) -> str:
    """``count`` accounts, each with its own manager, a contract, a posted invoice (one
    run bills them all), a payment and a hold. Returns an ADMIN's token."""
    admin = await builders.user(Role.ADMIN)
    seats = await builders.product()
    owners = []
    for index in range(count):
        manager = await builders.user(Role.ACCOUNT_MANAGER)
        owner = await builders.account(f"Account {index}", manager.user_id)
        contract, _order = await builders.contract(owner, seats)
        owners.append((owner, contract))
    await builders.run(date(2026, 1, 1), auto_post=True)
    for owner, contract in owners:
        await record_payment(SYSTEM, owner.id, Decimal("10.00"), date(2026, 2, 1), "wire")
        await holds.place_hold(SYSTEM, holds.HoldInput(HoldScope.CONTRACT, contract.id, "check"))
    return admin.token


@pytest.mark.parametrize("name", sorted(LISTS))
async def test_list_statements_do_not_grow_with_rows(
    app_client: httpx.AsyncClient, name: str
) -> None:
    query, rows = LISTS[name]
    counts = []
    for size in (1, 20):
        await reset(app_client)
        token = await accounts_with(size)
        with Statements() as log:
            data = await Api(app_client, token).data(query)
        counts.append(len(log))
        if name == "auditEvents":  # several an account: the page is full either way
            assert len(data["auditEvents"]["edges"]) >= size
        else:
            assert rows(data) == size  # the list really holds one row per account
    assert counts[0] == counts[1], f"1 row: {counts[0]} statements, 20 rows: {counts[1]}"

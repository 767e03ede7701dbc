"""In the embedded mode a run started through the API is carried out by the arq worker
inside the app, and bills exactly what the invoice previews showed."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Api

SETUP = """
mutation($sku: String!, $name: String!, $currency: String!, $day: Int!) {
  createProduct(input: {sku: $sku, name: "Seats", listPrice: "45.50"}) { product { id } }
  createAccount(input: {name: $name, currency: $currency, billingDayOfMonth: $day}) {
    account { id }
  }
}
"""

CONTRACT = """
mutation($account: ID!, $product: ID!, $start: Date!, $quantity: Int!) {
  createContract(input: {accountId: $account, startDate: $start, termMonths: 12,
                         lines: [{productId: $product, quantity: $quantity}]}) {
    userErrors { code message }
  }
}
"""

PREVIEW = """
query($account: ID!, $target: Date!) {
  account(id: $account) { invoicePreview(targetDate: $target) {
    lines { id amount { amount } } total { amount } } }
}
"""

RUN = """
query($run: ID!) {
  invoiceRun(id: $run) {
    status accountsTotal accountsProcessed invoicesCreated linesCreated
    invoices(first: 100) { edges { node { account { id } total { amount }
      lines { scheduleLine { id } amount { amount } } } } }
  }
}
"""


async def test_a_run_started_through_the_api_bills_exactly_its_preview(admin: Api) -> None:
    accounts = []
    for n, (currency, day, start, quantity) in enumerate(
        [("USD", 1, "2026-01-10", 3), ("JPY", 15, "2025-12-20", 7), ("EUR", 28, "2026-02-01", 1)]
    ):
        made = await admin.data(
            SETUP, {"sku": f"S{n}", "name": f"Customer {n}", "currency": currency, "day": day}
        )
        account = made["createAccount"]["account"]["id"]
        product = made["createProduct"]["product"]["id"]
        payload = await admin.data(
            CONTRACT, {"account": account, "product": product, "start": start, "quantity": quantity}
        )
        assert payload["createContract"]["userErrors"] == []
        accounts.append(account)
    target = "2026-03-01"
    previews: dict[str, Any] = {}
    for account in accounts:
        previews[account] = (await admin.data(PREVIEW, {"account": account, "target": target}))[
            "account"
        ]["invoicePreview"]

    started = await admin.data(
        f'mutation {{ startInvoiceRun(input: {{targetDate: "{target}"}}) '
        "{ invoiceRun { id status } userErrors { code } } }"
    )
    run_id = started["startInvoiceRun"]["invoiceRun"]["id"]
    for _ in range(200):
        run = (await admin.data(RUN, {"run": run_id}))["invoiceRun"]
        if run["status"] not in ("QUEUED", "RUNNING"):
            break
        await asyncio.sleep(0.05)

    assert run["status"] == "COMPLETED"
    billed = {edge["node"]["account"]["id"]: edge["node"] for edge in run["invoices"]["edges"]}
    assert set(billed) == set(accounts)
    for account in accounts:
        preview, document = previews[account], billed[account]
        assert [line["scheduleLine"]["id"] for line in document["lines"]] == [
            line["id"] for line in preview["lines"]
        ]
        assert document["total"] == preview["total"]
    assert (run["accountsTotal"], run["accountsProcessed"], run["invoicesCreated"]) == (3, 3, 3)
    assert run["linesCreated"] == sum(len(p["lines"]) for p in previews.values())

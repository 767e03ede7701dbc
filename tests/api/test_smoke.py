"""The API end to end over HTTP: a contract from creation to a paid invoice."""

from __future__ import annotations

from datetime import UTC, datetime

from orbit import clock
from tests.api.conftest import Api

CREATE = """
mutation($sku: String!) {
  createProduct(input: {sku: $sku, name: "Seats", listPrice: "30.00"}) {
    product { id sku listPrice } userErrors { code field message }
  }
  createAccount(input: {name: "Acme", currency: "USD", billingDayOfMonth: 1}) {
    account { id billingDayOfMonth } userErrors { code field message }
  }
}
"""


async def test_contract_to_invoice_over_http(admin: Api) -> None:
    clock.pin(datetime(2026, 3, 1, 12, tzinfo=UTC))
    created = await admin.data(CREATE, {"sku": "SEAT"})
    product = created["createProduct"]["product"]
    account = created["createAccount"]["account"]
    assert product["listPrice"] == "30.00"
    contract = await admin.data(
        """mutation($a: ID!, $p: ID!) {
          createContract(input: {accountId: $a, startDate: "2026-03-10", termMonths: 12,
                                 lines: [{productId: $p, quantity: 2}]}) {
            contract { id number status endDate lines { quantity unitPrice product { sku } } }
            order { status products { totalAmount { amount currency }
                                      schedule { periodStart amount { amount } dueDate } } }
            userErrors { code message }
          }
        }""",
        {"a": account["id"], "p": product["id"]},
    )
    payload = contract["createContract"]
    assert payload["userErrors"] == []
    assert payload["contract"]["status"] == "ACTIVE"
    assert payload["contract"]["endDate"] == "2027-03-09"
    (op,) = payload["order"]["products"]
    assert op["totalAmount"] == {"amount": "720.00", "currency": "USD"}
    assert [line["amount"]["amount"] for line in op["schedule"]][:2] == ["42.58", "60.00"]

    run = await admin.data(
        """mutation { startInvoiceRun(input: {targetDate: "2026-04-01", autoPost: true}) {
             invoiceRun { id } userErrors { code } } }"""
    )
    run_id = run["startInvoiceRun"]["invoiceRun"]["id"]
    followed = await admin.data(
        """query($id: ID!) { invoiceRun(id: $id) { status accountsTotal accountsProcessed
             invoicesCreated linesCreated invoices { edges { node { number total { amount }
             status lines { amount { amount } } } } } } }""",
        {"id": run_id},
    )
    # the test context has an embedded worker: wait for it
    import asyncio

    for _ in range(100):
        if followed["invoiceRun"]["status"] in ("COMPLETED", "COMPLETED_WITH_ERRORS"):
            break
        await asyncio.sleep(0.05)
        followed = await admin.data(
            """query($id: ID!) { invoiceRun(id: $id) { status accountsTotal accountsProcessed
                 invoicesCreated linesCreated invoices { edges { node { number total { amount }
                 status lines { amount { amount } } } } } } }""",
            {"id": run_id},
        )
    result = followed["invoiceRun"]
    assert result["status"] == "COMPLETED"
    assert (
        result["accountsTotal"],
        result["accountsProcessed"],
        result["invoicesCreated"],
        result["linesCreated"],
    ) == (1, 1, 1, 2)
    (edge,) = result["invoices"]["edges"]
    assert edge["node"]["number"] == "INV-000001"
    assert edge["node"]["total"]["amount"] == "102.58"

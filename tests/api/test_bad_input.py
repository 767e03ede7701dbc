"""Bad input: each is refused with a clear error (a userError with its code and field,
or a GraphQL error with extensions.code) and writes nothing at all (every row of
every table is compared before and after).

The cases share one world (built once for the module): a case that wrote something
fails, so sharing is sound.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from orbit import clock
from orbit.services import amendments, invoices, renewals
from tests.api import builders
from tests.api.builders import SYSTEM, World, gid
from tests.api.conftest import TODAY, Api, assert_unchanged, snapshot, wipe


@dataclass(frozen=True)
class BadWorld:
    world: World
    cancelled_contract: str
    expired_contract: str
    cancelled_invoice: str
    existing_email: str

    def __getitem__(self, key: str) -> str:
        return self.world.own[key]


@pytest.fixture(autouse=True)
async def clean() -> AsyncIterator[None]:
    """This module's cases share ``bad`` (they must write nothing): no wipe per test."""
    clock.pin(TODAY)
    yield
    clock.pin(None)


@pytest.fixture(scope="module")
async def bad(database: object) -> AsyncIterator[BadWorld]:
    await wipe()
    clock.pin(TODAY)
    world = await builders.build_world()
    own = await builders.db.Account.get(id=builders.row_of(world.own["account"]))
    seats = await builders.db.Product.get(sku="SEAT")
    cancelled, _ = await builders.contract(own, seats)
    await amendments.cancel_contract(SYSTEM, cancelled.id, date(2026, 3, 1))
    clock.pin(None)
    expired, _ = await builders.contract(own, seats, start=date(2025, 1, 1))
    clock.pin(TODAY)
    await renewals.process_renewals()  # ended 2025-12-31, no auto-renew: EXPIRED
    await invoices.cancel_invoice(SYSTEM, builders.row_of(world.own["draftInvoice"]))
    viewer = await builders.db.User.get(id=world.users["VIEWER"].user_id)
    yield BadWorld(
        world,
        gid("Contract", cancelled.id),
        gid("Contract", expired.id),
        world.own["draftInvoice"],
        viewer.email,
    )
    clock.pin(None)


Vars = Callable[[BadWorld], dict[str, Any]]


@dataclass(frozen=True)
class Bad:
    document: str
    variables: Vars = lambda w: {}
    #: (code, field) of the one userError expected
    user_error: tuple[str, tuple[str, ...] | None] | None = None
    #: (extensions.code, words the message must contain) of a GraphQL error
    graphql_error: tuple[str, str] | None = None


ERRORS = "userErrors { code field message }"
VARIABLE_TYPES = {
    "account": "ID!",
    "product": "ID!",
    "extra": "ID",
    "contract": "ID!",
    "line": "ID",
    "op": "ID!",
    "target": "ID!",
    "o": "ID!",
    "i": "ID!",
    "a": "ID!",
    "b": "ID!",
    "order": "ID!",
    "invoice": "ID!",
    "start": "Date!",
    "amount": "Decimal!",
    "p": "Decimal!",
    "email": "String!",
}


def mutation(body: str) -> str:
    """A mutation document declaring exactly the variables its body uses."""
    names = list(dict.fromkeys(re.findall(r"\$(\w+)", body)))
    head = f"({', '.join(f'${n}: {VARIABLE_TYPES[n]}' for n in names)})" if names else ""
    return f"mutation{head} {{ {body} }}"


def contract_doc(input_fields: str) -> str:
    return mutation(f"""createContract(input: {{accountId: $account,
        {input_fields}}}) {{ contract {{ id }} order {{ id }} {ERRORS} }}""")


def with_product(w: BadWorld) -> dict[str, Any]:
    return {"account": w["account"], "product": w.world.product}


def amend_doc(changes: str, effective: str = "2026-03-01") -> str:
    return mutation(f"""amendContract(input: {{
        contractId: $contract, effectiveDate: "{effective}", changes: {changes}}}) {{
        contract {{ id }} order {{ id }} {ERRORS} }}""")


def amend_vars(contract: str = "contract") -> Vars:
    def make(w: BadWorld) -> dict[str, Any]:
        target = getattr(w, contract) if hasattr(w, contract) else w[contract]
        return {"contract": target, "line": w["contractLine"], "extra": w.world.product}

    return make


def account_doc(fields: str) -> str:
    return f"""mutation {{ createAccount(input: {{name: "Bad Co", {fields}}}) {{
        account {{ id }} {ERRORS} }} }}"""


def update_account_doc(fields: str) -> str:
    return f"""mutation($account: ID!) {{ updateAccount(input: {{accountId: $account,
        {fields}}}) {{ account {{ id }} {ERRORS} }} }}"""


def own(key: str, name: str | None = None) -> Vars:
    return lambda w: {name or key: w[key]}


def product_doc(fields: str) -> str:
    return mutation(f"""createProduct(input: {{name: "Bad", {fields}}}) {{
        product {{ id }} {ERRORS} }}""")


def payment_doc(amount: str) -> str:
    return mutation(f"""recordPayment(input: {{accountId: $account,
        amount: {amount}, receivedOn: "2026-02-14", reference: "wire"}}) {{
        payment {{ id }} {ERRORS} }}""")


def hold_doc(scope: str, release_on: str = "null") -> str:
    return f"""mutation($target: ID!) {{ placeBillingHold(input: {{scope: {scope},
        targetId: $target, reason: "check", releaseOn: {release_on}}}) {{
        hold {{ id }} {ERRORS} }} }}"""


def override_doc(fields: str) -> str:
    return mutation(f"""overrideBillingDates(input: {{
        {fields}}}) {{ orderProducts {{ id }} {ERRORS} }}""")


def override_vars(w: BadWorld) -> dict[str, Any]:
    return {"op": w["orderProduct"], "contract": w["contract"]}


def invalid(*field: str) -> tuple[str, tuple[str, ...]]:
    return ("INVALID", field)


def not_found(*field: str) -> tuple[str, tuple[str, ...]]:
    return ("NOT_FOUND", field)


NOT_A_DATE = ("GRAPHQL_VALIDATION_FAILED", "Date")
NOT_A_DECIMAL = ("GRAPHQL_VALIDATION_FAILED", "Decimal")

CASES: dict[str, Any] = {
    # --- impossible dates: the Date scalar refuses them, as literal or variable
    "date-literal-feb-30": Bad(
        contract_doc(
            'startDate: "2026-02-30", termMonths: 12, lines: [{productId: $product, quantity: 1}]'
        ),
        with_product,
        graphql_error=NOT_A_DATE,
    ),
    "date-variable-feb-30": Bad(
        contract_doc("startDate: $start, lines: [{productId: $product, quantity: 1}]"),
        lambda w: {**with_product(w), "start": "2026-02-30"},
        graphql_error=NOT_A_DATE,
    ),
    "date-month-13": Bad(
        payment_doc('"10.00"').replace('"2026-02-14"', '"2026-13-01"'),
        own("account"),
        graphql_error=NOT_A_DATE,
    ),
    "date-feb-29-not-leap": Bad(
        amend_doc("[{contractLineId: $line, quantity: 3}]", "2026-02-29"),
        amend_vars(),
        graphql_error=NOT_A_DATE,
    ),
    "date-not-iso": Bad(
        hold_doc("CONTRACT", '"15/03/2026"'), own("contract", "target"), graphql_error=NOT_A_DATE
    ),
    # --- billing day of month 1..31
    "bdom-0-new-account": Bad(
        account_doc('currency: "USD", billingDayOfMonth: 0'),
        user_error=invalid("billingDayOfMonth"),
    ),
    "bdom-32-new-account": Bad(
        account_doc('currency: "USD", billingDayOfMonth: 32'),
        user_error=invalid("billingDayOfMonth"),
    ),
    "bdom-32-update-account": Bad(
        update_account_doc("billingDayOfMonth: 32"),
        own("account"),
        user_error=invalid("billingDayOfMonth"),
    ),
    "bdom-0-new-contract": Bad(
        contract_doc(
            'startDate: "2026-03-01", billingDayOfMonth: 0, '
            "lines: [{productId: $product, quantity: 1}]"
        ),
        with_product,
        user_error=invalid("billingDayOfMonth"),
    ),
    "bdom-32-change": Bad(
        """mutation($contract: ID!) { changeBillingDayOfMonth(input: {contractId: $contract,
             billingDayOfMonth: 32}) { contract { id } userErrors { code field message } } }""",
        own("contract"),
        user_error=invalid("billingDayOfMonth"),
    ),
    "bdom-unchanged": Bad(
        """mutation($contract: ID!) { changeBillingDayOfMonth(input: {contractId: $contract,
             billingDayOfMonth: 1}) { contract { id } userErrors { code field message } } }""",
        own("contract"),
        user_error=invalid("billingDayOfMonth"),
    ),
    # --- quantities
    "quantity-0-new-contract": Bad(
        contract_doc('startDate: "2026-03-01", lines: [{productId: $product, quantity: 0}]'),
        with_product,
        user_error=invalid("lines", "0", "quantity"),
    ),
    "quantity-negative-new-contract": Bad(
        contract_doc('startDate: "2026-03-01", lines: [{productId: $product, quantity: -3}]'),
        with_product,
        user_error=invalid("lines", "0", "quantity"),
    ),
    "quantity-0-on-second-line": Bad(
        contract_doc(
            'startDate: "2026-03-01", lines: [{productId: $product, quantity: 2}, '
            "{productId: $product, quantity: 0}]"
        ),
        with_product,
        user_error=invalid("lines", "1", "quantity"),
    ),
    "no-lines": Bad(
        contract_doc('startDate: "2026-03-01", lines: []'),
        with_product,
        user_error=invalid("lines"),
    ),
    "term-0-months": Bad(
        contract_doc(
            'startDate: "2026-03-01", termMonths: 0, lines: [{productId: $product, quantity: 1}]'
        ),
        with_product,
        user_error=invalid("termMonths"),
    ),
    "amend-negative-quantity": Bad(
        amend_doc("[{contractLineId: $line, quantity: -1}]"),
        amend_vars(),
        user_error=invalid("changes", "0", "quantity"),
    ),
    "amend-unchanged-quantity": Bad(
        amend_doc("[{contractLineId: $line, quantity: 2}]"),
        amend_vars(),
        user_error=invalid("changes", "0", "quantity"),
    ),
    "amend-new-product-quantity-0": Bad(
        amend_doc("[{productId: $extra, quantity: 0}]"),
        amend_vars(),
        user_error=invalid("changes", "0", "quantity"),
    ),
    # --- currencies and other account settings
    "currency-unknown": Bad(account_doc('currency: "ABC"'), user_error=invalid("currency")),
    "currency-lowercase": Bad(account_doc('currency: "usd"'), user_error=invalid("currency")),
    "currency-empty": Bad(account_doc('currency: ""'), user_error=invalid("currency")),
    "timezone-unknown": Bad(
        update_account_doc('timezone: "Mars/Olympus_Mons"'),
        own("account"),
        user_error=invalid("timezone"),
    ),
    "payment-terms-negative": Bad(
        update_account_doc("paymentTermDays: -1"),
        own("account"),
        user_error=invalid("paymentTermDays"),
    ),
    "owner-is-an-account-id": Bad(
        update_account_doc("ownerId: $account"), own("account"), user_error=not_found("ownerId")
    ),
    # --- unknown and wrong-type IDs
    "invoice-id-as-account-id": Bad(
        contract_doc('startDate: "2026-03-01", lines: [{productId: $product, quantity: 1}]'),
        lambda w: {"account": w["postedInvoice"], "product": w.world.product},
        user_error=not_found("accountId"),
    ),
    "garbage-account-id": Bad(
        contract_doc('startDate: "2026-03-01", lines: [{productId: $product, quantity: 1}]'),
        lambda w: {"account": "not-an-id", "product": w.world.product},
        user_error=not_found("accountId"),
    ),
    "account-id-as-product-id": Bad(
        contract_doc('startDate: "2026-03-01", lines: [{productId: $product, quantity: 1}]'),
        lambda w: {"account": w["account"], "product": w["account"]},
        user_error=not_found("lines", "0", "productId"),
    ),
    "unknown-product-id": Bad(
        contract_doc('startDate: "2026-03-01", lines: [{productId: $product, quantity: 1}]'),
        lambda w: {"account": w["account"], "product": gid("Product", 424242)},
        user_error=not_found("lines", "0", "productId"),
    ),
    "payment-to-an-invoice-id": Bad(
        payment_doc('"10.00"'),
        lambda w: {"account": w["postedInvoice"]},
        user_error=not_found("accountId"),
    ),
    "amend-an-order-id": Bad(
        amend_doc("[{contractLineId: $line, quantity: 3}]"),
        lambda w: {**amend_vars()(w), "contract": w["order"]},
        user_error=not_found("contractId"),
    ),
    "amend-garbage-line-id": Bad(
        amend_doc("[{contractLineId: $line, quantity: 3}]"),
        lambda w: {**amend_vars()(w), "line": "Q29udHJhY3RMaW5lOng="},
        user_error=not_found("changes", "0", "contractLineId"),
    ),
    "activate-a-contract-id": Bad(
        f"mutation($order: ID!) {{ activateOrder(input: {{orderId: $order}}) {{ order {{ id }} "
        f"{ERRORS} }} }}",
        lambda w: {"order": w["draftContract"]},
        user_error=not_found("orderId"),
    ),
    "post-a-payment-id": Bad(
        f"mutation($invoice: ID!) {{ postInvoice(input: {{invoiceId: $invoice}}) {{ "
        f"invoice {{ id }} {ERRORS} }} }}",
        lambda w: {"invoice": w["payment"]},
        user_error=not_found("invoiceId"),
    ),
    "release-garbage-hold-id": Bad(
        f'mutation {{ releaseBillingHold(input: {{holdId: "%%%"}}) {{ hold {{ id }} {ERRORS} }} }}',
        user_error=not_found("holdId"),
    ),
    "post-run-garbage-id": Bad(
        f'mutation {{ postInvoices(input: {{invoiceRunId: "SW52b2ljZVJ1bjo="}}) {{ '
        f"invoices {{ id }} {ERRORS} }} }}",
        user_error=not_found("invoiceRunId"),
    ),
    "run-with-an-invoice-id": Bad(
        f"""mutation($a: ID!, $b: ID!) {{ startInvoiceRun(input: {{targetDate: "2026-03-01",
             accountIds: [$a, $b]}}) {{ invoiceRun {{ id }} {ERRORS} }} }}""",
        lambda w: {"a": w["account"], "b": w["postedInvoice"]},
        user_error=not_found("accountIds", "1"),
    ),
    "run-with-no-accounts": Bad(
        f"""mutation {{ startInvoiceRun(input: {{targetDate: "2026-03-01", accountIds: []}})
             {{ invoiceRun {{ id }} {ERRORS} }} }}""",
        user_error=invalid("accountIds"),
    ),
    # --- amendments outside the contract, or on contracts that are not active
    "amend-before-start": Bad(
        amend_doc("[{contractLineId: $line, quantity: 3}]", "2025-12-31"),
        amend_vars(),
        user_error=("OUT_OF_RANGE", ("effectiveDate",)),
    ),
    "amend-after-end": Bad(
        amend_doc("[{contractLineId: $line, quantity: 3}]", "2027-01-01"),
        amend_vars(),
        user_error=("OUT_OF_RANGE", ("effectiveDate",)),
    ),
    "amend-line-of-another-contract": Bad(
        amend_doc("[{contractLineId: $line, quantity: 3}]"),
        lambda w: {**amend_vars()(w), "line": w.world.other["contractLine"]},
        user_error=not_found("changes", "0", "contractLineId"),
    ),
    "amend-cancelled-contract": Bad(
        amend_doc("[{productId: $extra, quantity: 1}]", "2026-02-20"),
        amend_vars("cancelled_contract"),
        user_error=("INVALID_STATE", ("contractId",)),
    ),
    "amend-expired-contract": Bad(
        amend_doc("[{productId: $extra, quantity: 1}]", "2025-06-01"),
        amend_vars("expired_contract"),
        user_error=("INVALID_STATE", ("contractId",)),
    ),
    "cancel-cancelled-contract": Bad(
        f"""mutation($contract: ID!) {{ cancelContract(input: {{contractId: $contract,
             effectiveDate: "2026-02-20"}}) {{ contract {{ id }} {ERRORS} }} }}""",
        lambda w: {"contract": w.cancelled_contract},
        user_error=("INVALID_STATE", ("contractId",)),
    ),
    "renew-cancelled-contract": Bad(
        f"""mutation($contract: ID!) {{ renewContract(input: {{contractId: $contract}}) {{
             contract {{ id }} {ERRORS} }} }}""",
        lambda w: {"contract": w.cancelled_contract},
        user_error=("INVALID_STATE", ("contractId",)),
    ),
    # --- billing-date overrides outside the line: the first unbilled line is February
    # (2026-02-01..02-28: its draft invoice was cancelled)
    "bill-through-after-the-line": Bad(
        override_doc('orderProductId: $op, billThroughDate: "2026-03-15"'),
        override_vars,
        user_error=("OUT_OF_RANGE", ("billThroughDate",)),
    ),
    "bill-through-before-the-line": Bad(
        override_doc('orderProductId: $op, billThroughDate: "2026-01-20"'),
        override_vars,
        user_error=("OUT_OF_RANGE", ("billThroughDate",)),
    ),
    "bill-through-on-the-last-day": Bad(
        override_doc('orderProductId: $op, billThroughDate: "2026-02-28"'),
        override_vars,
        user_error=("OUT_OF_RANGE", ("billThroughDate",)),
    ),
    "override-two-targets": Bad(
        override_doc('orderProductId: $op, contractId: $contract, nextBillingDate: "2026-03-05"'),
        override_vars,
        user_error=invalid("orderProductId"),
    ),
    "override-clear-with-dates": Bad(
        override_doc('orderProductId: $op, clear: true, nextBillingDate: "2026-03-05"'),
        override_vars,
        user_error=invalid("clear"),
    ),
    "override-nothing": Bad(
        override_doc("orderProductId: $op"), override_vars, user_error=invalid("nextBillingDate")
    ),
    # --- holds on unknown targets
    "hold-unknown-contract": Bad(
        hold_doc("CONTRACT"),
        lambda w: {"target": w.world.ghost["contract"]},
        user_error=not_found("targetId"),
    ),
    "hold-account-scope-with-contract-id": Bad(
        hold_doc("ACCOUNT"), own("contract", "target"), user_error=not_found("targetId")
    ),
    "hold-garbage-order-product": Bad(
        hold_doc("ORDER_PRODUCT"), lambda w: {"target": "x"}, user_error=not_found("targetId")
    ),
    "hold-release-in-the-past": Bad(
        hold_doc("CONTRACT", '"2026-02-01"'),
        own("contract", "target"),
        user_error=("OUT_OF_RANGE", ("releaseOn",)),
    ),
    "hold-empty-reason": Bad(
        hold_doc("CONTRACT").replace('"check"', '"  "'),
        own("contract", "target"),
        user_error=invalid("reason"),
    ),
    # --- documents in the wrong state
    "post-a-cancelled-invoice": Bad(
        f"mutation($i: ID!) {{ postInvoice(input: {{invoiceId: $i}}) {{ invoice {{ id }} "
        f"{ERRORS} }} }}",
        lambda w: {"i": w.cancelled_invoice},
        user_error=("INVALID_STATE", ("invoiceId",)),
    ),
    "credit-a-draft": Bad(
        f"mutation($i: ID!) {{ creditInvoice(input: {{invoiceId: $i}}) {{ invoice {{ id }} "
        f"{ERRORS} }} }}",
        lambda w: {"i": w.world.other["draftInvoice"]},
        user_error=("INVALID_STATE", ("invoiceId",)),
    ),
    "cancel-a-posted-invoice": Bad(
        f"mutation($i: ID!) {{ cancelInvoice(input: {{invoiceId: $i}}) {{ invoice {{ id }} "
        f"{ERRORS} }} }}",
        own("postedInvoice", "i"),
        user_error=("INVALID_STATE", ("invoiceId",)),
    ),
    "activate-an-activated-order": Bad(
        f"mutation($o: ID!) {{ activateOrder(input: {{orderId: $o}}) {{ order {{ id }} "
        f"{ERRORS} }} }}",
        own("order", "o"),
        user_error=("INVALID_STATE", ("orderId",)),
    ),
    "cancel-an-activated-order": Bad(
        f"mutation($o: ID!) {{ cancelOrder(input: {{orderId: $o}}) {{ order {{ id }} "
        f"{ERRORS} }} }}",
        own("order", "o"),
        user_error=("INVALID_STATE", ("orderId",)),
    ),
    "empty-purchase-order-number": Bad(
        f"""mutation($o: ID!) {{ setPurchaseOrderNumber(input: {{orderId: $o,
             purchaseOrderNumber: " "}}) {{ order {{ id }} {ERRORS} }} }}""",
        own("order", "o"),
        user_error=invalid("purchaseOrderNumber"),
    ),
    # --- payments
    "payment-zero": Bad(payment_doc('"0.00"'), own("account"), user_error=invalid("amount")),
    "payment-negative": Bad(payment_doc('"-5.00"'), own("account"), user_error=invalid("amount")),
    "payment-below-a-cent": Bad(
        payment_doc('"10.005"'), own("account"), user_error=invalid("amount")
    ),
    "payment-no-reference": Bad(
        payment_doc('"10.00"').replace('"wire"', '""'),
        own("account"),
        user_error=invalid("reference"),
    ),
    # --- Decimal junk never reaches a service
    "decimal-nan": Bad(product_doc('sku: "J1", listPrice: "NaN"'), graphql_error=NOT_A_DECIMAL),
    "decimal-huge-exponent": Bad(
        product_doc('sku: "J2", listPrice: "1e999999"'), graphql_error=NOT_A_DECIMAL
    ),
    "decimal-float-literal": Bad(
        product_doc('sku: "J3", listPrice: 12.5'), graphql_error=NOT_A_DECIMAL
    ),
    "decimal-infinity-variable": Bad(
        product_doc('sku: "J4", listPrice: $p'),
        lambda w: {"p": "Infinity"},
        graphql_error=NOT_A_DECIMAL,
    ),
    "decimal-float-variable": Bad(
        product_doc('sku: "J5", listPrice: $p'), lambda w: {"p": 12.5}, graphql_error=NOT_A_DECIMAL
    ),
    "decimal-thousands-separator": Bad(
        product_doc('sku: "J6", listPrice: "1,000.00"'), graphql_error=NOT_A_DECIMAL
    ),
    "decimal-nan-payment": Bad(
        payment_doc("$amount"),
        lambda w: {"account": w["account"], "amount": "NaN"},
        graphql_error=NOT_A_DECIMAL,
    ),
    "decimal-exponent-unit-price": Bad(
        contract_doc(
            'startDate: "2026-03-01", lines: [{productId: $product, quantity: 1, '
            'unitPrice: "3E+1"}]'
        ),
        with_product,
        graphql_error=NOT_A_DECIMAL,
    ),
    "negative-list-price": Bad(
        product_doc('sku: "J7", listPrice: "-1.00"'), user_error=invalid("listPrice")
    ),
    "pricing-term-0": Bad(
        product_doc('sku: "J8", listPrice: "1.00", pricingTermMonths: 0'),
        user_error=invalid("pricingTermMonths"),
    ),
    # --- duplicates and other refusals
    "duplicate-sku": Bad(
        product_doc('sku: "SEAT", listPrice: "1.00"'), user_error=("DUPLICATE", ("sku",))
    ),
    "duplicate-email": Bad(
        f"""mutation($email: String!) {{ createUser(input: {{email: $email, name: "Twin",
             role: VIEWER}}) {{ user {{ id }} {ERRORS} }} }}""",
        lambda w: {"email": w.existing_email.upper()},  # emails match whatever the case
        user_error=("DUPLICATE", ("email",)),
    ),
    "not-an-email": Bad(
        f"""mutation {{ createUser(input: {{email: "nobody", name: "X", role: VIEWER}}) {{
             user {{ id }} {ERRORS} }} }}""",
        user_error=invalid("email"),
    ),
    "overdue-days-negative": Bad(
        f"mutation {{ updateHoldRules(input: {{overdueDays: -1}}) {{ holdRules {{ overdueDays }} "
        f"{ERRORS} }} }}",
        user_error=invalid("overdueDays"),
    ),
    # --- pages
    **{
        f"page-101-{name}": Bad(document, graphql_error=("BAD_USER_INPUT", "first"))
        for name, document in {
            "accounts": "{ accounts(first: 101) { edges { cursor } } }",
            "invoices": "{ invoices(first: 101) { edges { cursor } } }",
            "payments": "{ payments(first: 101) { edges { cursor } } }",
            "holds": "{ holds(first: 101) { edges { cursor } } }",
            "invoiceRuns": "{ invoiceRuns(first: 101) { edges { cursor } } }",
            "auditEvents": "{ auditEvents(first: 101) { edges { cursor } } }",
            "upcomingRenewals": "{ upcomingRenewals(first: 101) { edges { cursor } } }",
            "aging": "{ receivablesAging { accounts(first: 101) { edges { cursor } } } }",
        }.items()
    },
    "page-101-nested": Bad(
        "query($a: ID!) { account(id: $a) { contracts(first: 101) { edges { cursor } } } }",
        own("account", "a"),
        graphql_error=("BAD_USER_INPUT", "first"),
    ),
    "page-negative": Bad(
        "{ accounts(first: -1) { edges { cursor } } }", graphql_error=("BAD_USER_INPUT", "first")
    ),
    "page-foreign-cursor": Bad(
        '{ accounts(first: 5, after: "bm90LWEtY3Vyc29y") { edges { cursor } } }',
        graphql_error=("BAD_USER_INPUT", "cursor"),
    ),
    "renewal-window-too-wide": Bad(
        "{ upcomingRenewals(withinDays: 100000) { edges { cursor } } }",
        graphql_error=("BAD_USER_INPUT", "withinDays"),
    ),
    # --- idempotency keys
    "idempotency-key-empty": Bad(
        payment_doc('"10.00"').replace(
            "recordPayment(input:", 'recordPayment(idempotencyKey: "", input:'
        ),
        own("account"),
        graphql_error=("BAD_USER_INPUT", "idempotencyKey"),
    ),
    "idempotency-key-too-long": Bad(
        payment_doc('"10.00"').replace(
            "recordPayment(input:", f'recordPayment(idempotencyKey: "{"k" * 201}", input:'
        ),
        own("account"),
        graphql_error=("BAD_USER_INPUT", "idempotencyKey"),
    ),
}


def _case_params() -> list[Any]:
    params = []
    for name, case in CASES.items():
        if isinstance(case, Bad):
            params.append(pytest.param(case, id=name))
        else:  # a pytest.param with marks
            params.append(pytest.param(*case.values, marks=case.marks, id=name))
    return params


@pytest.mark.parametrize("case", _case_params())
async def test_bad_input_is_refused_and_writes_nothing(
    app_client: httpx.AsyncClient, bad: BadWorld, case: Bad
) -> None:
    api = Api(app_client, bad.world.users["ADMIN"].token)
    before = await snapshot()
    body = await api.post(case.document, case.variables(bad))
    if case.user_error is not None:
        assert "errors" not in body, body
        (payload,) = body["data"].values()
        problems = payload["userErrors"]
        code, field = case.user_error
        assert [(p["code"], tuple(p["field"]) if p["field"] else None) for p in problems] == [
            (code, field)
        ], problems
        assert problems[0]["message"].strip()
        assert all(value in (None, []) for key, value in payload.items() if key != "userErrors")
    else:
        assert case.graphql_error is not None
        code, words = case.graphql_error
        errors = body.get("errors") or []
        assert [e.get("extensions", {}).get("code") for e in errors] == [code], body
        assert words.lower() in errors[0]["message"].lower(), errors[0]["message"]
        data = body.get("data")
        assert data is None or all(value is None for value in data.values()), body
    assert_unchanged(before, await snapshot())


READS_BY_ID = ("account", "contract", "order", "invoice", "invoiceRun", "node")
WRONG_IDS = ("payment", "garbage", "empty", "unknown-type", "not-a-number", "zero", "negative")


@pytest.mark.parametrize(
    ("field", "given"),
    [
        (field, given)
        for field in READS_BY_ID
        for given in WRONG_IDS
        if not (field == "node" and given == "payment")  # node(id) reads any type
    ],
)
async def test_reading_by_a_wrong_id_is_null(
    app_client: httpx.AsyncClient, bad: BadWorld, field: str, given: str
) -> None:
    value = {
        "payment": bad["payment"],  # a real ID of another type
        "garbage": "%%%not-base64%%%",
        "empty": "",
        "unknown-type": gid("Spaceship", 1),
        "not-a-number": gid("Account", "one"),  # type: ignore[arg-type]
        "zero": gid("Account", 0),
        "negative": gid("Account", -1),
    }[given]
    api = Api(app_client, bad.world.users["ADMIN"].token)
    body = await api.post(f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}", {"id": value})
    assert body == {"data": {field: None}}

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
    "user-name-too-long": Bad(
        f"""mutation {{ createUser(input: {{email: "long@orbit.test", name: "{"n" * 201}",
             role: VIEWER}}) {{ user {{ id }} {ERRORS} }} }}""",
        user_error=invalid("name"),
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
    # --- dates outside [2000-01-01, today + 10 years]: INVALID at the field of a mutation
    # (today is 2026-02-15 12:00 UTC, already 2026-02-16 at UTC+14: the last date is
    # 2036-02-16)
    **{
        f"date-{name}-contract-start": Bad(
            contract_doc(
                f'startDate: "{day}", termMonths: 12, lines: [{{productId: $product, quantity: 1}}]'
            ),
            with_product,
            user_error=invalid("startDate"),
        )
        for name, day in {
            "year-1": "0001-01-01",
            "year-9999": "9999-12-31",
            "1999-12-31": "1999-12-31",
            "today-plus-10-years-and-a-day": "2036-02-17",
        }.items()
    },
    "date-year-9999-contract-start-variable": Bad(
        contract_doc("startDate: $start, lines: [{productId: $product, quantity: 1}]"),
        lambda w: {**with_product(w), "start": "9999-12-31"},
        user_error=invalid("startDate"),
    ),
    "date-end-51-years-after-start": Bad(
        contract_doc(
            'startDate: "2026-03-01", endDate: "2076-03-02", '
            "lines: [{productId: $product, quantity: 1}]"
        ),
        with_product,
        user_error=invalid("endDate"),
    ),
    "date-end-year-9999": Bad(
        contract_doc(
            'startDate: "2026-03-01", endDate: "9999-12-31", '
            "lines: [{productId: $product, quantity: 1}]"
        ),
        with_product,
        user_error=invalid("endDate"),
    ),
    "term-601-months": Bad(
        contract_doc(
            'startDate: "2026-03-01", termMonths: 601, lines: [{productId: $product, quantity: 1}]'
        ),
        with_product,
        user_error=invalid("termMonths"),
    ),
    "renewal-term-601-months": Bad(
        contract_doc(
            'startDate: "2026-03-01", renewalTermMonths: 601, '
            "lines: [{productId: $product, quantity: 1}]"
        ),
        with_product,
        user_error=invalid("renewalTermMonths"),
    ),
    "date-amend-year-9999": Bad(
        amend_doc("[{contractLineId: $line, quantity: 3}]", "9999-12-31"),
        amend_vars(),
        user_error=invalid("effectiveDate"),
    ),
    "date-amend-year-1": Bad(
        amend_doc("[{contractLineId: $line, quantity: 3}]", "0001-01-01"),
        amend_vars(),
        user_error=invalid("effectiveDate"),
    ),
    "date-cancel-year-1": Bad(
        f"""mutation($contract: ID!) {{ cancelContract(input: {{contractId: $contract,
             effectiveDate: "0001-01-01"}}) {{ contract {{ id }} {ERRORS} }} }}""",
        own("contract"),
        user_error=invalid("effectiveDate"),
    ),
    "date-payment-year-1": Bad(
        payment_doc('"10.00"').replace('"2026-02-14"', '"0001-01-01"'),
        own("account"),
        user_error=invalid("receivedOn"),
    ),
    "date-hold-release-year-9999": Bad(
        hold_doc("CONTRACT", '"9999-12-31"'),
        own("contract", "target"),
        user_error=invalid("releaseOn"),
    ),
    "date-run-target-year-9999": Bad(
        f"""mutation {{ startInvoiceRun(input: {{targetDate: "9999-12-31"}})
             {{ invoiceRun {{ id }} {ERRORS} }} }}""",
        user_error=invalid("targetDate"),
    ),
    "date-override-year-1": Bad(
        override_doc('orderProductId: $op, nextBillingDate: "0001-01-01"'),
        override_vars,
        user_error=invalid("nextBillingDate"),
    ),
    "date-bill-through-year-9999": Bad(
        override_doc('orderProductId: $op, billThroughDate: "9999-12-31"'),
        override_vars,
        user_error=invalid("billThroughDate"),
    ),
    # --- dates outside the bounds in query arguments: BAD_USER_INPUT
    "date-preview-year-6000": Bad(
        'query($a: ID!) { account(id: $a) { invoicePreview(targetDate: "6000-01-01") '
        "{ total { amount } } } }",
        own("account", "a"),
        graphql_error=("BAD_USER_INPUT", "targetDate"),
    ),
    "date-aging-year-1": Bad(
        '{ receivablesAging(asOf: "0001-01-01") { asOf } }',
        graphql_error=("BAD_USER_INPUT", "asOf"),
    ),
    "date-renewals-year-9999": Bad(
        '{ upcomingRenewals(asOf: "9999-12-31") { edges { cursor } } }',
        graphql_error=("BAD_USER_INPUT", "asOf"),
    ),
    "date-invoices-from-year-1": Bad(
        '{ invoices(invoiceDateFrom: "0001-01-01") { edges { cursor } } }',
        graphql_error=("BAD_USER_INPUT", "invoiceDateFrom"),
    ),
    "date-contract-lines-as-of-9999": Bad(
        'query($contract: ID!) { contract(id: $contract) { lines(asOf: "9999-12-31") { id } } }',
        own("contract"),
        graphql_error=("BAD_USER_INPUT", "asOf"),
    ),
    "date-arr-as-of-year-1": Bad(
        "query($contract: ID!) { contract(id: $contract) { "
        'annualRecurringValue(asOf: "0001-01-01") { amount } } }',
        own("contract"),
        graphql_error=("BAD_USER_INPUT", "asOf"),
    ),
    "date-schedule-through-9999": Bad(
        "query($op: ID!) { node(id: $op) { ... on OrderProduct { "
        'schedule(through: "9999-12-31") { id } } } }',
        own("orderProduct", "op"),
        graphql_error=("BAD_USER_INPUT", "through"),
    ),
    "date-amendment-preview-year-9999": Bad(
        """query($contract: ID!, $line: ID!) { amendmentPreview(input: {contractId: $contract,
             effectiveDate: "9999-12-31", changes: [{contractLineId: $line, quantity: 3}]}) {
             userErrors { code } } }""",
        lambda w: {"contract": w["contract"], "line": w["contractLine"]},
        graphql_error=("BAD_USER_INPUT", "effectiveDate"),
    ),
    # --- dates in another form than YYYY-MM-DD
    **{
        f"date-form-{name}": Bad(
            contract_doc("startDate: $start, lines: [{productId: $product, quantity: 1}]"),
            lambda w, day=day: {**with_product(w), "start": day},
            graphql_error=NOT_A_DATE,
        )
        for name, day in {
            "week": "2026-W10-1",
            "compact": "20260301",
            "arabic-indic-digits": "\u0662\u0660\u0662\u0666-03-01",
            "time-attached": "2026-03-01T00:00:00",
            "year-10000": "10000-01-01",
            "year-0": "0000-01-01",
            "trailing-newline": "2026-03-01\n",
        }.items()
    },
    # --- control characters: refused in every string (tab, LF and CR only in `reason`)
    **{
        f"control-{name}-account-name": Bad(
            f"""mutation($name: String!) {{ createAccount(input: {{name: $name,
                 currency: "USD"}}) {{ account {{ id }} {ERRORS} }} }}""",
            lambda w, text=text: {"name": text},
            user_error=invalid("name"),
        )
        for name, text in {
            "nul": "Bad\x00Co",
            "bell": "Bad\x07Co",
            "escape": "Bad\x1b[31mCo",
            "tab": "Bad\tCo",
            "newline": "Bad\nCo",
            "delete": "Bad\x7fCo",
            "c1-next-line": "Bad\x85Co",
        }.items()
    },
    "control-nul-sku": Bad(
        product_doc('sku: "J\\u0000", listPrice: "1.00"'), user_error=invalid("sku")
    ),
    "control-nul-reference": Bad(
        payment_doc('"10.00"').replace('"wire"', '"wi\\u0000re"'),
        own("account"),
        user_error=invalid("reference"),
    ),
    "control-nul-in-reason": Bad(
        hold_doc("CONTRACT").replace('"check"', '"ch\\u0000eck"'),
        own("contract", "target"),
        user_error=invalid("reason"),
    ),
    "control-nul-email": Bad(
        f"""mutation {{ createUser(input: {{email: "a\\u0000@b.test", name: "X", role: VIEWER}})
             {{ user {{ id }} {ERRORS} }} }}""",
        user_error=invalid("email"),
    ),
    "control-nul-purchase-order": Bad(
        f"""mutation($o: ID!) {{ setPurchaseOrderNumber(input: {{orderId: $o,
             purchaseOrderNumber: "PO\\u0000"}}) {{ order {{ id }} {ERRORS} }} }}""",
        own("order", "o"),
        user_error=invalid("purchaseOrderNumber"),
    ),
    "control-nul-line-product-id": Bad(
        contract_doc('startDate: "2026-03-01", lines: [{productId: $product, quantity: 1}]'),
        lambda w: {"account": w["account"], "product": "UHJvZHVjdDox\x00"},
        user_error=invalid("lines", "0", "productId"),
    ),
    "control-nul-idempotency-key": Bad(
        payment_doc('"10.00"').replace(
            "recordPayment(input:", 'recordPayment(idempotencyKey: "k\\u0000", input:'
        ),
        own("account"),
        user_error=invalid("idempotencyKey"),
    ),
    "control-nul-search": Bad(
        '{ accounts(search: "a\\u0000") { edges { cursor } } }',
        graphql_error=("BAD_USER_INPUT", "search"),
    ),
    "control-nul-audit-entity": Bad(
        '{ auditEvents(entityId: "QWNjb3VudDox\\u0000") { edges { cursor } } }',
        graphql_error=("BAD_USER_INPUT", "entityId"),
    ),
    # --- Decimal: ASCII digits only (Decimal() itself reads other scripts' digits)
    **{
        f"decimal-{name}": Bad(
            product_doc('sku: "J9", listPrice: $p'),
            lambda w, text=text: {"p": text},
            graphql_error=NOT_A_DECIMAL,
        )
        for name, text in {
            "arabic-indic-digits": "\u0661\u0662\u0663.\u0664\u0665",
            "fullwidth-digits": "\uff11\uff12",
            "devanagari-digits": "\u0967\u0968",
            "trailing-newline": "12.50\n",
            "leading-blank": " 12.50",
            "plus-sign": "+12.50",
            "underscores": "1_000.00",
            "sixteen-digits": "1234567890123456",
        }.items()
    },
    # --- Int: GraphQL's 32-bit integers, JSON numbers only
    "int-quantity-2-to-the-31": Bad(
        contract_doc(
            'startDate: "2026-03-01", lines: [{productId: $product, quantity: 2147483648}]'
        ),
        with_product,
        graphql_error=("GRAPHQL_VALIDATION_FAILED", "Int"),
    ),
    # --- amounts that could overflow a column: bounded at input (see docs/api.md)
    "quantity-over-a-million": Bad(
        contract_doc('startDate: "2026-03-01", lines: [{productId: $product, quantity: 1000001}]'),
        with_product,
        user_error=invalid("lines", "0", "quantity"),
    ),
    "unit-price-over-a-billion": Bad(
        contract_doc(
            'startDate: "2026-03-01", lines: [{productId: $product, quantity: 1, '
            'unitPrice: "1000000000.000001"}]'
        ),
        with_product,
        user_error=invalid("lines", "0", "unitPrice"),
    ),
    "unit-price-on-second-line": Bad(
        contract_doc(
            'startDate: "2026-03-01", lines: [{productId: $product, quantity: 1}, '
            '{productId: $product, quantity: 1, unitPrice: "99999999999999.99"}]'
        ),
        with_product,
        user_error=invalid("lines", "1", "unitPrice"),
    ),
    "quantity-times-price-over-the-account-bound": Bad(
        contract_doc(
            'startDate: "2026-03-01", termMonths: 600, lines: [{productId: $product, '
            'quantity: 1000000, unitPrice: "1000000000"}]'
        ),
        with_product,
        user_error=invalid("lines", "0", "quantity"),
    ),
    "list-price-over-a-billion": Bad(
        product_doc('sku: "J10", listPrice: "1000000000.01"'), user_error=invalid("listPrice")
    ),
    "uplift-over-100": Bad(
        contract_doc(
            'startDate: "2026-03-01", renewalUpliftPercent: "100.000001", '
            "lines: [{productId: $product, quantity: 1}]"
        ),
        with_product,
        user_error=invalid("renewalUpliftPercent"),
    ),
    "renew-uplift-over-100": Bad(
        f"""mutation($contract: ID!) {{ renewContract(input: {{contractId: $contract,
             upliftPercent: "101"}}) {{ contract {{ id }} {ERRORS} }} }}""",
        own("contract"),
        user_error=invalid("upliftPercent"),
    ),
    "renew-term-601": Bad(
        f"""mutation($contract: ID!) {{ renewContract(input: {{contractId: $contract,
             termMonths: 601}}) {{ contract {{ id }} {ERRORS} }} }}""",
        own("contract"),
        user_error=invalid("termMonths"),
    ),
    "amend-quantity-over-a-million": Bad(
        amend_doc("[{contractLineId: $line, quantity: 1000001}]"),
        amend_vars(),
        user_error=invalid("changes", "0", "quantity"),
    ),
    "amend-price-over-a-billion": Bad(
        amend_doc('[{productId: $extra, quantity: 1, unitPrice: "2000000000"}]'),
        amend_vars(),
        user_error=invalid("changes", "0", "unitPrice"),
    ),
    "amend-over-the-account-bound": Bad(
        amend_doc('[{productId: $extra, quantity: 1000000, unitPrice: "999999999"}]'),
        amend_vars(),
        user_error=invalid("changes", "0", "quantity"),
    ),
    # --- global ids: only the exact text Orbit hands out resolves
    **{
        f"id-{name}": Bad(
            payment_doc('"10.00"'),
            lambda w, given=given: {"account": given},
            user_error=not_found("accountId"),
        )
        for name, given in {
            "leading-zeros": gid("Account", "0001"),  # type: ignore[arg-type]
            "blank": gid("Account", " 1"),  # type: ignore[arg-type]
            "plus-sign": gid("Account", "+1"),  # type: ignore[arg-type]
            "underscore": gid("Account", "1_0"),  # type: ignore[arg-type]
            "arabic-indic-digit": gid("Account", "\u0661"),  # type: ignore[arg-type]
            "no-padding": gid("Account", 12).rstrip("="),
            "extra-padding": gid("Account", 12) + "==",
            "beyond-int-column": gid("Account", 2**31),
            "beyond-64-bits": gid("Account", 2**64),
            "beyond-63-bits": gid("Account", 2**63),
            "a-hundred-digits": gid("Account", 10**100),
        }.items()
    },
    "id-with-a-control-character": Bad(
        payment_doc('"10.00"'),
        lambda w: {"account": w["account"] + "\n"},
        user_error=invalid("accountId"),
    ),
    # --- lists of more than 100 items, enum lists included
    "enum-list-101-literal": Bad(
        "{ invoices(status: [" + " ".join(["DRAFT"] * 101) + "]) { edges { cursor } } }",
        graphql_error=("BAD_USER_INPUT", "at most 100"),
    ),
    "enum-list-100000-variable": Bad(
        "query($s: [InvoiceStatus!]) { invoices(status: $s) { edges { cursor } } }",
        lambda w: {"s": ["DRAFT"] * 100_000},
        graphql_error=("BAD_USER_INPUT", "at most 100"),
    ),
    "enum-list-nested-contracts": Bad(
        "query($a: ID!, $s: [ContractStatus!]) { account(id: $a) { contracts(status: $s) "
        "{ edges { cursor } } } }",
        lambda w: {"a": w["account"], "s": ["ACTIVE"] * 101},
        graphql_error=("BAD_USER_INPUT", "at most 100"),
    ),
    "enum-list-runs": Bad(
        "query($s: [InvoiceRunStatus!]) { invoiceRuns(status: $s) { edges { cursor } } }",
        lambda w: {"s": ["COMPLETED"] * 5000},
        graphql_error=("BAD_USER_INPUT", "at most 100"),
    ),
    # --- cursors
    "cursor-beyond-64-bits": Bad(
        '{ accounts(first: 5, after: "YzoxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA==") '
        "{ edges { cursor } } }",
        graphql_error=("BAD_USER_INPUT", "cursor"),
    ),
    "cursor-arabic-digits": Bad(
        '{ invoices(first: 5, after: "YzrZodmi") { edges { cursor } } }',
        graphql_error=("BAD_USER_INPUT", "cursor"),
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
WRONG_IDS = (
    "payment",
    "garbage",
    "empty",
    "unknown-type",
    "not-a-number",
    "zero",
    "negative",
    "leading-zeros",
    "blank",
    "plus-sign",
    "arabic-indic-digit",
    "other-padding",
    "beyond-int",
    "beyond-64-bits",
)


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
        # the id of a row that exists, written otherwise: not an ID
        "leading-zeros": gid(_type_of(field), f"0{_row(bad, field)}"),  # type: ignore[arg-type]
        "blank": gid(_type_of(field), f" {_row(bad, field)}"),  # type: ignore[arg-type]
        "plus-sign": gid(_type_of(field), f"+{_row(bad, field)}"),  # type: ignore[arg-type]
        "arabic-indic-digit": gid(
            _type_of(field),
            str(_row(bad, field)).translate(ARABIC_INDIC),  # type: ignore[arg-type]
        ),
        "other-padding": _other_padding(_real(bad, field)),
        "beyond-int": gid(_type_of(field), 2**31),
        "beyond-64-bits": gid(_type_of(field), 2**64),
    }[given]
    api = Api(app_client, bad.world.users["ADMIN"].token)
    body = await api.post(f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}", {"id": value})
    assert body == {"data": {field: None}}


ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + d) for d in range(10)))


def _type_of(field: str) -> str:
    return {"node": "Account", "invoiceRun": "InvoiceRun"}.get(field, field.capitalize())


def _real(bad: BadWorld, field: str) -> str:
    """The ID of a row the field reads."""
    key = {"node": "account", "invoice": "postedInvoice"}.get(field, field)
    return bad.world.run_posted if field == "invoiceRun" else bad[key]


def _row(bad: BadWorld, field: str) -> int:
    return builders.row_of(_real(bad, field))


def _other_padding(value: str) -> str:
    """The same bytes in base64 padded otherwise (one '=' more, or none)."""
    return value.rstrip("=") if value.endswith("=") else value + "="


async def test_the_real_ids_of_those_rows_do_resolve(
    app_client: httpx.AsyncClient, bad: BadWorld
) -> None:
    """The control for the cases above: the same rows, by their real IDs."""
    api = Api(app_client, bad.world.users["ADMIN"].token)
    for field in READS_BY_ID:
        value = _real(bad, field)
        body = await api.post(f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}", {"id": value})
        assert body == {"data": {field: {"id": value}}}, field


async def test_a_cursor_beyond_an_int_column_is_an_empty_page(
    app_client: httpx.AsyncClient, bad: BadWorld
) -> None:
    """A cursor past every id the column can hold pages past everything (no error)."""
    import base64

    after = base64.urlsafe_b64encode(f"c:{2**31 + 5}".encode()).decode()
    api = Api(app_client, bad.world.users["ADMIN"].token)
    body = await api.post(
        "query($after: String) { accounts(first: 5, after: $after) { edges { cursor } } "
        "invoiceRuns(first: 5, after: $after) { edges { cursor } } "
        "invoices(first: 5, after: $after) { edges { cursor } } }",
        {"after": after},
    )
    assert "errors" not in body, body
    assert body["data"]["accounts"]["edges"] == []
    # newest first: every row is before it
    assert len(body["data"]["invoiceRuns"]["edges"]) == 2
    assert len(body["data"]["invoices"]["edges"]) == 4


async def test_dates_at_the_bounds_are_taken(app_client: httpx.AsyncClient, bad: BadWorld) -> None:
    """2000-01-01 and today + 10 years (2036-02-16 at UTC+14) are inside the bounds.
    (The queries write nothing, so the shared world stays as it was.)"""
    api = Api(app_client, bad.world.users["ADMIN"].token)
    before = await snapshot()
    for day in ("2000-01-01", "2036-02-16"):
        data = await api.data(
            "query($d: Date!) { receivablesAging(asOf: $d) { asOf } "
            "upcomingRenewals(asOf: $d) { edges { cursor } } }",
            {"d": day},
        )
        assert data["receivablesAging"]["asOf"] == day
    body = await api.post(
        "query($contract: ID!, $line: ID!) { amendmentPreview(input: {contractId: $contract, "
        'effectiveDate: "2036-02-16", changes: [{contractLineId: $line, quantity: 3}]}) '
        "{ userErrors { code field } } }",
        {"contract": bad["contract"], "line": bad["contractLine"]},
    )
    # inside the date bounds, so the services decide: after the contract's end
    assert body["data"]["amendmentPreview"]["userErrors"] == [
        {"code": "OUT_OF_RANGE", "field": ["effectiveDate"]}
    ]
    assert_unchanged(before, await snapshot())


BODIES: dict[str, tuple[str | None, bytes, int, str]] = {
    "invalid-utf-8": (
        "application/json",
        b'{"query": "{ me { id } }", "x": "\xff\xfe"}',
        400,
        "not UTF-8",
    ),
    "latin-1": (
        "application/json",
        '{"query": "{ me { name } }", "n": "café"}'.encode("latin-1"),
        400,
        "not UTF-8",
    ),
    "not-json": ("application/json", b"{ me { id } }", 400, "not JSON"),
    "empty": ("application/json", b"", 400, "not JSON"),
    "json-array": ("application/json", b'[{"query": "{ me { id } }"}]', 400, "JSON object"),
    "json-number": ("application/json", b"42", 400, "JSON object"),
    "json-string": ("application/json", b'"{ me { id } }"', 400, "JSON object"),
    "json-null": ("application/json", b"null", 400, "JSON object"),
    "query-not-a-string": ("application/json", b'{"query": 5}', 400, "query must be a string"),
    "no-query": ("application/json", b'{"variables": {}}', 400, "query must be a string"),
    "variables-a-list": (
        "application/json",
        b'{"query": "{ me { id } }", "variables": [1]}',
        400,
        "variables must be an object",
    ),
    "operation-name-a-number": (
        "application/json",
        b'{"query": "{ me { id } }", "operationName": 1}',
        400,
        "operationName",
    ),
    "lone-surrogate": (
        "application/json",
        b'{"query": "query($n: String) { me { id } }", "variables": {"n": "\\ud800"}}',
        400,
        "surrogate",
    ),
    "deep-json": (
        "application/json",
        b'{"query": "{ me { id } }", "v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        400,
        "not JSON",
    ),
    "text-plain": ("text/plain", b'{"query": "{ me { id } }"}', 415, "application/json"),
    "form": (
        "application/x-www-form-urlencoded",
        b"query=%7B%20me%20%7B%20id%20%7D%20%7D",
        415,
        "application/json",
    ),
    "graphql": ("application/graphql", b"{ me { id } }", 415, "application/json"),
    "no-content-type": (None, b'{"query": "{ me { id } }"}', 415, "application/json"),
}


@pytest.mark.parametrize("name", sorted(BODIES))
async def test_a_body_that_is_not_a_utf8_json_object_is_a_4xx(
    app_client: httpx.AsyncClient, bad: BadWorld, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    content_type, content, status, words = BODIES[name]
    headers = {"Authorization": f"Bearer {bad.world.users['ADMIN'].token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = await snapshot()
    response = await app_client.post("/graphql", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert words in response.text
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert_unchanged(before, await snapshot())


async def test_free_text_takes_line_breaks_and_tabs(
    app_client: httpx.AsyncClient, bad: BadWorld
) -> None:
    """A hold's reason is free text: tab, line feed and carriage return are kept (the
    hold is released again, so the shared world is as it was but for the two rows)."""
    api = Api(app_client, bad.world.users["ADMIN"].token)
    data = await api.data(
        """mutation($target: ID!, $reason: String!) { placeBillingHold(input: {scope: CONTRACT,
             targetId: $target, reason: $reason}) { hold { id reason } userErrors { code } } }""",
        {"target": bad["contract"], "reason": "customer asked:\r\n\tno invoices in March"},
    )
    hold = data["placeBillingHold"]["hold"]
    assert hold["reason"] == "customer asked:\r\n\tno invoices in March"
    released = await api.data(
        """mutation($id: ID!) { releaseBillingHold(input: {holdId: $id}) {
             hold { id } userErrors { code } } }""",
        {"id": hold["id"]},
    )
    assert released["releaseBillingHold"]["userErrors"] == []


async def test_a_viewer_with_bad_input_is_forbidden_not_told_what_is_wrong(
    app_client: httpx.AsyncClient, bad: BadWorld
) -> None:
    """The role is refused before the input: a VIEWER may write nothing at all."""
    api = Api(app_client, bad.world.users["VIEWER"].token)
    before = await snapshot()
    body = await api.post(
        contract_doc('startDate: "9999-12-31", lines: [{productId: $product, quantity: 1}]'),
        with_product(bad),
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert_unchanged(before, await snapshot())

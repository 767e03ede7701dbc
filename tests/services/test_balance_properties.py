"""One balance: after any sequence of postings, payments (back-dated and post-dated),
credits and drafts on accounts in time zones far apart, ``Account.balance`` is the total
``receivablesAging`` shows for the account as of its today, and each currency's totals
are the sums of its accounts' (billing-semantics section 12).

Checked through the GraphQL schema (executed in-process, as the API serves it: the
balance DataLoader, the aging report with and without ``asOf``) and against the
definition of section 9 computed here from the rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbit import clock
from orbit.api.context import Context
from orbit.api.schema import build_schema
from orbit.db.models import Account, Invoice, InvoiceStatus, Payment, Product
from orbit.engine.enums import ChargeType
from orbit.services.contracts import LineInput
from orbit.services.errors import DomainError
from orbit.services.ids import encode
from orbit.services.invoices import cancel_invoice, credit_invoice, post_invoice
from orbit.services.receivables import record_payment
from tests.services import factory
from tests.services.conftest import _empty
from tests.services.factory import SYSTEM

#: examples per run, whatever the profile: each one builds and checks a book in the
#: database (about half a second); ORBIT_BALANCE_EXAMPLES raises it for a longer search
EXAMPLES = int(os.environ.get("ORBIT_BALANCE_EXAMPLES", "120"))

#: (currency, time zone, payment terms): UTC+14 and UTC-11 are 25 hours apart, so at
#: most moments two of these accounts are on different days
ACCOUNTS = (
    ("USD", "Pacific/Kiritimati", 0),
    ("USD", "Pacific/Pago_Pago", 30),
    ("JPY", "Asia/Tokyo", 15),
    ("EUR", "UTC", 45),
)
MINOR = {"USD": Decimal("0.01"), "EUR": Decimal("0.01"), "JPY": Decimal(1)}

SCHEMA = build_schema()

BALANCES = """
query { accounts(first: 100) { edges { node { id currency balance { amount currency } } } } }
"""
AGING = """
query($asOf: Date) { receivablesAging(asOf: $asOf) { asOf accounts(first: 100) {
  edges { node { account { id } total { amount } unappliedCredit { amount }
                 buckets { amount { amount } } } }
  totalsByCurrency { currency total { amount } unappliedCredit { amount }
                     buckets { label amount { amount } } } } } }
"""


@dataclass(frozen=True)
class Charge:
    """A one-time line of ``units`` minor units, dated ``back`` days before today,
    billed; posted unless ``draft``."""

    account: int
    units: int
    back: int
    draft: bool


@dataclass(frozen=True)
class Pay:
    """A payment of ``units`` minor units received ``shift`` days from today (after
    today when positive: the API accepts post-dated payments)."""

    account: int
    units: int
    shift: int


@dataclass(frozen=True)
class Credit:
    """``creditInvoice`` of the ``pick``-th posted invoice (modulo their number)."""

    pick: int
    rebill: bool


@dataclass(frozen=True)
class PostOrCancel:
    """Post (or cancel) the ``pick``-th draft."""

    pick: int
    post: bool


@dataclass(frozen=True)
class Wait:
    hours: int


account_index = st.integers(0, len(ACCOUNTS) - 1)
steps = st.one_of(
    st.builds(Charge, account_index, st.integers(1, 50_000), st.integers(0, 120), st.booleans()),
    st.builds(Pay, account_index, st.integers(1, 60_000), st.integers(-40, 40)),
    st.builds(Credit, st.integers(0, 50), st.booleans()),
    st.builds(PostOrCancel, st.integers(0, 50), st.booleans()),
    st.builds(Wait, st.integers(1, 24 * 45)),
)


async def execute(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(None, None, SYSTEM)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    data: dict[str, Any] = result.data
    return data


def amount(money: dict[str, Any]) -> Decimal:
    return Decimal(str(money["amount"]))


async def by_definition(account: Account) -> Decimal:
    """Section 9, as of the account's today: posted documents less payments, each
    counted once it is dated on or before today."""
    today = clock.today(account.timezone)
    documents = await Invoice.filter(
        account_id=account.id, status=InvoiceStatus.POSTED, posted_on__lte=today
    ).values_list("total", flat=True)
    paid = await Payment.filter(account_id=account.id, received_on__lte=today).values_list(
        "amount", flat=True
    )
    return sum(documents, Decimal(0)) - sum(paid, Decimal(0))


async def check(accounts: list[Account]) -> None:
    served = {
        edge["node"]["id"]: amount(edge["node"]["balance"])
        for edge in (await execute(BALANCES))["accounts"]["edges"]
    }
    ids = {encode("Account", a.id): a for a in accounts}
    assert set(served) == set(ids)
    for gid, account in ids.items():
        assert served[gid] == await by_definition(account), account.timezone

    # the default report ages each account as of its own today
    reports = [(None, set(ids))]
    # and a report as of a date ages every account as of that date
    for day in sorted({clock.today(a.timezone) for a in accounts}):
        reports.append((day, {g for g, a in ids.items() if clock.today(a.timezone) == day}))
    for as_of, compared in reports:
        report = (await execute(AGING, {"asOf": as_of and as_of.isoformat()}))["receivablesAging"]
        rows = report["accounts"]
        totals = {edge["node"]["account"]["id"]: edge["node"] for edge in rows["edges"]}
        for gid in compared:
            row = totals.get(gid)
            total = amount(row["total"]) if row else Decimal(0)  # absent: nothing open
            assert served[gid] == total, (as_of, ids[gid].timezone)
            if row:
                parts = sum((amount(b["amount"]) for b in row["buckets"]), Decimal(0))
                assert parts + amount(row["unappliedCredit"]) == total
        for currency in rows["totalsByCurrency"]:
            members = [
                node for gid, node in totals.items() if ids[gid].currency == currency["currency"]
            ]
            assert amount(currency["total"]) == sum(
                (amount(n["total"]) for n in members), Decimal(0)
            )
            assert amount(currency["unappliedCredit"]) == sum(
                (amount(n["unappliedCredit"]) for n in members), Decimal(0)
            )
            buckets = sum((amount(b["amount"]) for b in currency["buckets"]), Decimal(0))
            assert buckets + amount(currency["unappliedCredit"]) == amount(currency["total"])
        assert {c["currency"] for c in rows["totalsByCurrency"]} == {
            ids[gid].currency for gid in totals
        }


async def perform(step: Any, accounts: list[Account], item: Product) -> None:
    if isinstance(step, Wait):
        clock.pin(clock.now() + timedelta(hours=step.hours))
        return
    if isinstance(step, Credit | PostOrCancel):
        status = InvoiceStatus.POSTED if isinstance(step, Credit) else InvoiceStatus.DRAFT
        documents = await Invoice.filter(status=status, document_type="INVOICE").order_by("id")
        if not documents:
            return
        chosen = documents[step.pick % len(documents)]
        try:
            if isinstance(step, Credit):
                await credit_invoice(SYSTEM, chosen.id, rebill=step.rebill)
            elif step.post:
                await post_invoice(SYSTEM, chosen.id)
            else:
                await cancel_invoice(SYSTEM, chosen.id)
        except DomainError:
            pass  # e.g. an invoice credited before: refused, nothing written
        return
    account = accounts[step.account]
    value = step.units * MINOR[account.currency]
    today = clock.today(account.timezone)
    if isinstance(step, Pay):
        received = today + timedelta(days=step.shift)
        await record_payment(SYSTEM, account.id, value, received, "property")
        return
    day = today - timedelta(days=step.back)
    await factory.contract(
        account,
        item,
        day,
        lines=[LineInput(product_id=item.id, quantity=1, unit_price=value)],
    )
    draft = await factory.bill(account, day, invoice_date=day)
    if draft is not None and not step.draft:
        await post_invoice(SYSTEM, draft.id)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)).map(
        lambda moment: moment.replace(tzinfo=UTC)
    ),
    sequence=st.lists(steps, min_size=1, max_size=12),
)
async def test_balance_is_the_aging_total_of_every_account_whatever_happened(
    start: datetime, sequence: list[Any]
) -> None:
    await _empty()
    clock.pin(start)
    try:
        accounts = [
            await factory.account(
                name=f"{currency} {zone}",
                currency=currency,
                timezone=zone,
                payment_term_days=terms,
                billing_day_of_month=1,
            )
            for currency, zone, terms in ACCOUNTS
        ]
        item = await factory.product("1", charge_type=ChargeType.ONE_TIME, name="Service")
        for step in sequence:
            await perform(step, accounts, item)
            await check(accounts)
        # and later, once every post-dated payment has come due
        clock.pin(clock.now() + timedelta(days=45))
        await check(accounts)
    finally:
        clock.pin(None)


async def test_a_post_dated_payment_changes_neither_until_its_day() -> None:
    """The example the issue reported: a payment dated after today made the API's
    balance and the aging disagree."""
    clock.pin(datetime(2026, 3, 10, 12, tzinfo=UTC))
    (account,) = [await factory.account(currency="USD", timezone="UTC", payment_term_days=30)]
    item = await factory.product("1", charge_type=ChargeType.ONE_TIME, name="Service")
    await perform(Charge(0, 10_000, 0, draft=False), [account], item)
    await perform(Pay(0, 4_000, 5), [account], item)
    await check([account])
    (served,) = (await execute(BALANCES))["accounts"]["edges"]
    assert amount(served["node"]["balance"]) == Decimal("100.00")
    clock.pin(datetime(2026, 3, 15, 0, 1, tzinfo=UTC))
    await check([account])
    (served,) = (await execute(BALANCES))["accounts"]["edges"]
    assert amount(served["node"]["balance"]) == Decimal("60.00")

"""The demo data set: the variety it promises, whatever the date it is loaded on;
loading it twice changes nothing; and its numbers add up.

The demo is loaded once for most of this module, on DEMO_NOW; the tests that
load it on other dates, or load it again with force, reload it afterwards.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orbit import clock
from orbit.db.models import (
    Account,
    Application,
    BillingHold,
    Contract,
    ContractLine,
    DocumentType,
    HoldSource,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceStatus,
    Order,
    OrderProduct,
    OrderStatus,
    OrderType,
    Payment,
    PaymentStatus,
    Product,
    Role,
    ScheduleLine,
    User,
)
from orbit.engine.enums import BillingFrequency, BillingType, ChargeType, ContractStatus
from orbit.services.access import Actor, create_user
from orbit.services.ids import encode
from tests.api.conftest import Api, assert_unchanged, snapshot, wipe
from tests.support import TestDatabase

#: a month end after a short month, for most of this module
DEMO_NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
#: other days to load it on: a leap day, a run day at a year's end, and today (None)
OTHER_DAYS = [date(2028, 2, 29), date(2026, 12, 1), None]

_state: dict[str, Any] = {"token": None, "summary": None}


async def load(now: datetime | None) -> str:
    """Wipe, load the demo as of ``now`` (None: the real clock), make an admin."""
    from orbit.demo import load_demo

    _state["token"] = None
    await wipe()
    clock.pin(now)
    summary = await load_demo()
    _, token = await create_user(Actor.system(), "check@example.com", "Check", Role.ADMIN)
    _state.update(token=token, summary=summary)
    return summary


@pytest.fixture
async def demo(database: TestDatabase) -> AsyncIterator[str]:
    """The demo as of DEMO_NOW, loaded once and kept while tests only read it."""
    if _state["token"] is None or await Account.all().count() != 20:
        await load(DEMO_NOW)
    clock.pin(DEMO_NOW)
    yield _state["summary"]
    clock.pin(None)


@pytest.fixture(autouse=True)
async def clean(database: TestDatabase) -> AsyncIterator[None]:
    """Replaces the suite's per-test wipe: this module manages its data itself."""
    yield
    clock.pin(None)


@pytest.fixture
async def admin(app_client: httpx.AsyncClient, demo: str) -> Api:
    return Api(app_client, _state["token"])


def today() -> date:
    return clock.today()


# --------------------------------------------------------------------------------------
# Variety
# --------------------------------------------------------------------------------------


async def assert_variety() -> None:
    """What the demo promises, on whatever date it was loaded."""
    from orbit.services.renewals import upcoming_renewals

    now = today()
    accounts = await Account.all()
    assert len(accounts) == 20
    assert Counter(a.currency for a in accounts) == {
        "USD": 7,
        "EUR": 5,
        "GBP": 3,
        "JPY": 3,
        "BHD": 1,
        "AUD": 1,
    }
    users = {u.id: u for u in await User.all()}
    managers = {u.id for u in users.values() if u.role is Role.ACCOUNT_MANAGER}
    assert len(managers) == 4
    assert [u.role for u in users.values()].count(Role.FINANCE) == 1
    assert {a.owner_id for a in accounts} == managers | {None}

    statuses = Counter(c.status for c in await Contract.all())
    assert set(statuses) == set(ContractStatus), statuses
    assert statuses[ContractStatus.RENEWED] == 2
    assert statuses[ContractStatus.CANCELLED] == 2

    posted = await Invoice.filter(status=InvoiceStatus.POSTED)
    invoices = [i for i in posted if i.document_type is DocumentType.INVOICE]
    assert len(invoices) > 100
    paid = Counter(i.payment_status for i in invoices)
    assert paid[PaymentStatus.PAID] > 50
    assert paid[PaymentStatus.PARTIALLY_PAID] >= 2
    assert paid[PaymentStatus.UNPAID] >= 5
    overdue = [i for i in invoices if i.due_date < now and i.open_balance > 0]
    assert len({i.account_id for i in overdue}) >= 3
    assert any(now - i.due_date > timedelta(days=90) for i in overdue)
    notes = [i for i in posted if i.document_type is DocumentType.CREDIT_NOTE]
    assert {(n.reverses_id is not None, n.rebill) for n in notes} == {
        (True, True),
        (True, False),
        (False, None),
    }  # rebilled, not rebilled, from a run
    assert not await Invoice.filter(status=InvoiceStatus.DRAFT).exists()

    holds = await BillingHold.all().select_related("account")
    active = [
        h
        for h in holds
        if h.released_at is None
        and (h.release_on is None or h.release_on > clock.today(h.account.timezone))
    ]
    assert {h.source for h in active} == {HoldSource.MANUAL, HoldSource.PURCHASE_ORDER_RULE}
    assert all(h.release_on is not None for h in active if h.source is HoldSource.MANUAL)
    assert any(h.released_at is not None for h in holds)  # one was released, caught up
    assert all(
        h.account.requires_purchase_order
        for h in active
        if h.source is HoldSource.PURCHASE_ORDER_RULE
    )

    renewals = await upcoming_renewals(Actor.system(), 90)
    assert len(renewals) >= 4
    assert all(r.contract.owner_id in managers for r in renewals)
    assert len({r.contract.owner_id for r in renewals}) >= 2
    assert {r.contract.auto_renew for r in renewals} == {True, False}
    assert all(now <= r.end_date <= now + timedelta(days=90) for r in renewals)


async def test_the_demo_has_the_promised_variety(demo: str) -> None:
    await assert_variety()
    assert demo.startswith(
        "loaded demo data: 20 accounts (1 AUD, 1 BHD, 5 EUR, 3 GBP, 3 JPY, 7 USD), 23 contracts ("
    )
    assert demo.endswith("5 demo users (no tokens)") and "orb_" not in demo


async def test_the_catalog(demo: str) -> None:
    products = await Product.all()
    kinds = {
        (p.charge_type, p.billing_frequency, p.billing_type, p.pricing_term_months)
        for p in products
        if p.charge_type is ChargeType.RECURRING
    }
    assert (ChargeType.RECURRING, BillingFrequency.MONTHLY, BillingType.ADVANCE, 1) in kinds
    assert (ChargeType.RECURRING, BillingFrequency.ANNUAL, BillingType.ADVANCE, 12) in kinds
    assert (ChargeType.RECURRING, BillingFrequency.QUARTERLY, BillingType.ADVANCE, 3) in kinds
    assert (ChargeType.RECURRING, BillingFrequency.MONTHLY, BillingType.ARREARS, 1) in kinds
    assert any(p.charge_type is ChargeType.ONE_TIME for p in products)
    # every product is sold
    assert {line.product_id for line in await ContractLine.all()} == {p.id for p in products}


async def test_amendments_of_every_kind(demo: str) -> None:
    orders = await Order.filter(type=OrderType.AMENDMENT, status=OrderStatus.ACTIVATED)
    kinds = set()
    for order in orders:
        ops = await OrderProduct.filter(order_id=order.id)
        lines = await ContractLine.filter(contract_id=order.contract_id)
        new_lines = [ln for ln in lines if ln.start_date == order.effective_date]
        cancelled = [ln for ln in lines if ln.cancelled]
        if any(op.quantity < 0 for op in ops):
            kinds.add("quantity down")
        if any(
            op.quantity > 0 and op.contract_line_id not in {ln.id for ln in new_lines} for op in ops
        ):
            kinds.add("quantity up")
        if new_lines:
            kinds.add("new product")
        if cancelled and new_lines:
            kinds.add("swap")
    assert kinds == {"quantity up", "quantity down", "new product", "swap"}
    # mid-period: effective on a day that is not the contract's billing day
    assert any(o.effective_date.day not in (1, 15) for o in orders)


async def test_contract_histories(demo: str) -> None:
    renewed = await Contract.filter(status=ContractStatus.RENEWED)
    for old in renewed:
        new = await Contract.get(renewal_of_id=old.id)
        assert new.start_date == old.end_date + timedelta(days=1)
        assert new.status is ContractStatus.ACTIVE
    (expired,) = await Contract.filter(status=ContractStatus.EXPIRED)
    assert expired.end_date is not None and expired.end_date < today()
    assert not expired.auto_renew
    # its last arrears line was billed after it ended
    last = await Invoice.filter(account_id=expired.account_id).order_by("-invoice_date").first()
    assert last is not None and last.invoice_date > expired.end_date
    cancelled = await Contract.filter(status=ContractStatus.CANCELLED)
    mid_term = [
        c
        for c in cancelled
        if await Order.filter(contract_id=c.id, status=OrderStatus.ACTIVATED).exists()
    ]
    assert len(mid_term) == 1 and mid_term[0].term_months == 24
    assert await ScheduleLine.filter(account_id=mid_term[0].account_id, is_credit=True).exists()
    lost = [c for c in cancelled if c not in mid_term]
    assert len(lost) == 1
    assert await Order.filter(contract_id=lost[0].id, status=OrderStatus.CANCELLED).exists()
    (draft,) = await Contract.filter(status=ContractStatus.DRAFT)
    assert draft.start_date > today()


# --------------------------------------------------------------------------------------
# Loading twice
# --------------------------------------------------------------------------------------


async def test_loading_again_changes_nothing(demo: str) -> None:
    from orbit.demo import load_demo

    before = await snapshot()
    summary = await load_demo()
    assert summary.startswith("skipped")
    assert_unchanged(before, await snapshot())


# --------------------------------------------------------------------------------------
# The numbers add up
# --------------------------------------------------------------------------------------


async def assert_documents_add_up() -> None:
    documents = await Invoice.all()
    lines = defaultdict(list)
    for line in await InvoiceLine.all():
        lines[line.invoice_id].append(line)
    applications = await Application.all()
    applied_to: dict[int, Decimal] = defaultdict(Decimal)
    applied_from_note: dict[int, Decimal] = defaultdict(Decimal)
    applied_from_payment: dict[int, Decimal] = defaultdict(Decimal)
    for app in applications:
        applied_to[app.invoice_id] += app.amount
        if app.credit_note_id:
            applied_from_note[app.credit_note_id] += app.amount
        if app.payment_id:
            applied_from_payment[app.payment_id] += app.amount
    for doc in documents:
        assert doc.total == sum((ln.amount for ln in lines[doc.id]), Decimal(0)), doc.number
        assert doc.status is InvoiceStatus.POSTED
        if doc.document_type is DocumentType.INVOICE:
            assert doc.total >= 0
            assert doc.open_balance == doc.total - applied_to[doc.id], doc.number
            assert 0 <= doc.open_balance <= doc.total
            expected = (
                PaymentStatus.PAID
                if doc.open_balance == 0
                else PaymentStatus.UNPAID
                if doc.open_balance == doc.total
                else PaymentStatus.PARTIALLY_PAID
            )
            assert doc.payment_status is expected, doc.number
        else:
            assert doc.total < 0
            assert doc.open_balance == doc.total + applied_from_note[doc.id]
    for payment in await Payment.all():
        assert payment.amount > 0
        assert payment.unapplied == payment.amount - applied_from_payment[payment.id]
        assert payment.unapplied >= 0
    # no schedule line is billed twice
    billing = Counter(
        line.schedule_line_id for doc_lines in lines.values() for line in doc_lines if line.bills
    )
    assert not [line for line, n in billing.items() if n > 1]
    # gapless numbers per document type
    for prefix in ("INV", "CN"):
        numbers = sorted(d.number for d in documents if d.number and d.number.startswith(prefix))
        assert numbers == [f"{prefix}-{n:06d}" for n in range(1, len(numbers) + 1)]


async def assert_self_consistent() -> None:
    from orbit.services.billing import invoice_preview
    from orbit.services.receivables import aging, balance

    await assert_documents_add_up()
    assert {r.status.value for r in await InvoiceRun.all()} == {"COMPLETED"}
    _, rows = await aging(Actor.system())
    for row in rows:
        account = row.account
        totals = await Invoice.filter(
            account_id=account.id, status=InvoiceStatus.POSTED
        ).values_list("total", flat=True)
        paid = await Payment.filter(account_id=account.id).values_list("amount", flat=True)
        owed = sum(totals, Decimal(0)) - sum(paid, Decimal(0))
        assert await balance(account) == owed
        if clock.today(account.timezone) == clock.today():
            assert row.total == owed, account.name
        # the runs billed everything that came due by the last run (held lines aside)
        last_run = (
            await InvoiceRun.filter(accounts__account_id=account.id)
            .order_by("-target_date")
            .first()
        )
        if last_run is not None:
            preview = await invoice_preview(account, last_run.target_date)
            assert preview.lines == [], (account.name, [d.row.due_date for d in preview.lines])


async def test_the_numbers_add_up(demo: str) -> None:
    await assert_self_consistent()


async def test_balances_over_the_api(admin: Api, demo: str) -> None:
    """Every account's balance is its posted totals less its payments."""
    query = """query($id: ID!) { account(id: $id) { currency balance { amount currency }
                 invoices(status: [POSTED], first: 100) { edges { node { total { amount } } } }
                 payments(first: 100) { edges { node { amount { amount } } } } } }"""
    for account in await Account.all():
        data = (await admin.data(query, {"id": encode("Account", account.id)}))["account"]
        posted = sum(Decimal(e["node"]["total"]["amount"]) for e in data["invoices"]["edges"])
        paid = sum(Decimal(e["node"]["amount"]["amount"]) for e in data["payments"]["edges"])
        assert Decimal(data["balance"]["amount"]) == posted - paid, account.name
        assert data["balance"]["currency"] == account.currency


async def test_the_workers_find_nothing_to_do(demo: str) -> None:
    """The demo is left as the workers would leave it."""
    from orbit.services.holds import accounts_with_overdue_candidates, hold_rules
    from orbit.services.renewals import process_renewals

    before = await snapshot()
    assert await process_renewals() == (0, 0)
    assert (await hold_rules()).overdue_days is None  # the overdue rule is off
    assert await accounts_with_overdue_candidates()  # ... though some accounts are overdue
    assert_unchanged(before, await snapshot())


async def test_amounts_the_fixed_data_determines(demo: str) -> None:
    """Whatever the date, these follow from the prices and quantities."""
    from orbit.services.renewals import annual_recurring_value

    async def arv(name: str) -> Decimal:
        contract = await Contract.get(account__name=name, status=ContractStatus.ACTIVE)
        return await annual_recurring_value(contract, today())

    assert await arv("Northwind Analytics, Inc.") == Decimal("36900.00")  # 55 x 45, 40 x 15
    assert await arv("Sakura Precision K.K.") == Decimal("5796000")  # 50 x 6800, 65 x 2200
    assert await arv("Gulf Pearl Trading W.L.L.") == Decimal("3105.000")  # 15 x 17.250
    # the setup fee is on the first invoice, with the first month
    gulf = await Invoice.filter(account__name="Gulf Pearl Trading W.L.L.").order_by("id")
    assert [i.total for i in gulf[:2]] == [Decimal("1208.750"), Decimal("258.750")]
    # the expired contract's last invoice: its last month of storage, in arrears
    quill = await Invoice.filter(account__name="Quill & Co.").order_by("-id").first()
    assert quill is not None and quill.total == Decimal("125.00")


# --------------------------------------------------------------------------------------
# Loading on other dates, and again with force (each reloads the demo afterwards)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", OTHER_DAYS, ids=lambda d: str(d or "today"))
async def test_the_variety_whatever_the_date(database: TestDatabase, day: date | None) -> None:
    now = None if day is None else datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    try:
        await load(now)
        await assert_variety()
        await assert_self_consistent()
    finally:
        _state["token"] = None  # the next test reloads DEMO_NOW's demo


async def test_force_adds_a_second_book_beside_the_first(demo: str) -> None:
    from orbit.demo import load_demo

    try:
        products, users = await Product.all().count(), await User.all().count()
        summary = await load_demo(force=True)
        assert summary.startswith("loaded demo data: 20 accounts")
        assert await Account.all().count() == 40
        assert await Product.all().count() == products  # the catalog is reused
        assert await User.all().count() == users
        await assert_documents_add_up()
    finally:
        _state["token"] = None


async def test_a_load_that_fails_leaves_nothing(
    database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo is written in one transaction: a failure leaves no half-loaded demo
    (which the next start would skip)."""
    import orbit.demo
    from orbit.demo import load_demo

    async def broken(replay: object) -> None:
        raise RuntimeError("the worker's renewal job failed")

    _state["token"] = None
    await wipe()
    before = await snapshot()
    monkeypatch.setattr(orbit.demo, "_finish", broken)
    clock.pin(DEMO_NOW)
    with pytest.raises(RuntimeError):
        await load_demo()
    assert_unchanged(before, await snapshot())

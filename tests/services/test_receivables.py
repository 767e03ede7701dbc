"""Payments, the order credits are applied in, balances and the receivables aging."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from orbit.db.models import Account, Application, Invoice, Payment, PaymentStatus
from orbit.engine.enums import ChargeType
from orbit.services.errors import Code
from orbit.services.invoices import credit_invoice, post_invoice
from orbit.services.receivables import BUCKETS, aging, balance, record_payment
from tests.services import factory
from tests.services.factory import SYSTEM, d, refused

BUCKET_LABELS = [label for label, _, _ in BUCKETS]


async def charge(
    account: Account, amount: str, invoice_date: date, posted_on: date | None = None
) -> Invoice:
    """A posted invoice of ``amount`` (a one-time line) dated ``invoice_date``."""
    factory.pin_today(posted_on or invoice_date)
    item = await factory.product("1.00", charge_type=ChargeType.ONE_TIME, name="Service")
    quantity = Decimal(amount)
    assert quantity == int(quantity)
    await factory.contract(account, item, invoice_date, quantity=int(quantity))
    invoice = await factory.bill(account, invoice_date, invoice_date=invoice_date)
    assert invoice is not None and invoice.total == quantity
    return await post_invoice(SYSTEM, invoice.id)


async def test_a_payment_is_recorded_and_applied() -> None:
    acme = await factory.account(billing_day_of_month=1)
    invoice = await charge(acme, "120", date(2026, 3, 1))
    payment = await record_payment(SYSTEM, acme.id, Decimal("50.5"), date(2026, 3, 5), " wire ")
    assert (payment.amount, payment.unapplied, payment.currency, payment.reference) == (
        Decimal("50.50"),
        Decimal("0"),
        "USD",
        "wire",
    )
    assert payment.fully_applied is True
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.open_balance, invoice.payment_status) == (
        Decimal("69.50"),
        PaymentStatus.PARTIALLY_PAID,
    )
    await record_payment(SYSTEM, acme.id, Decimal("100"), date(2026, 3, 6), "wire 2")
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.open_balance, invoice.payment_status) == (Decimal("0"), PaymentStatus.PAID)
    assert (await Payment.filter(reference="wire 2").first()).unapplied == Decimal("30.50")


@pytest.mark.parametrize(
    ("currency", "amount", "code"),
    [
        ("USD", "0", Code.INVALID),
        ("USD", "-5.00", Code.INVALID),
        ("USD", "10.001", Code.INVALID),
        ("JPY", "1000.5", Code.INVALID),
        ("BHD", "1.2345", Code.INVALID),
        ("USD", "Infinity", Code.INVALID),
    ],
    ids=["zero", "negative", "usd-three-decimals", "jpy-decimals", "bhd-four-decimals", "infinite"],
)
async def test_record_payment_refuses_bad_amounts(currency: str, amount: str, code: Code) -> None:
    acme = await factory.account(currency=currency)
    await refused(record_payment(SYSTEM, acme.id, Decimal(amount), date(2026, 3, 1), "x"), code)


async def test_record_payment_refuses_unknown_accounts_and_blank_references() -> None:
    acme = await factory.account()
    await refused(
        record_payment(SYSTEM, 999_999, Decimal(1), date(2026, 3, 1), "x"), Code.NOT_FOUND
    )
    await refused(record_payment(SYSTEM, acme.id, Decimal(1), date(2026, 3, 1), " "), Code.INVALID)


@pytest.mark.parametrize(
    ("currency", "amount"), [("JPY", "1500"), ("BHD", "1.234"), ("JPY", "1500.000")]
)
async def test_amounts_exact_in_the_currency_are_accepted(currency: str, amount: str) -> None:
    acme = await factory.account(currency=currency)
    payment = await record_payment(SYSTEM, acme.id, Decimal(amount), date(2026, 3, 1), "x")
    assert payment.amount == Decimal(amount) and payment.currency == currency
    assert await balance(acme) == -Decimal(amount)


async def test_credits_are_applied_oldest_first_to_invoices_by_due_date() -> None:
    acme = await factory.account(billing_day_of_month=1)
    # a standalone credit note posted 03-07: an invoice of 40 paid, then credited
    paid = await charge(acme, "40", date(2026, 3, 1))
    await record_payment(SYSTEM, acme.id, Decimal(40), date(2026, 3, 1), "p0")
    factory.pin_today(date(2026, 3, 7))
    _, note = await credit_invoice(SYSTEM, paid.id, rebill=False)
    # two payments with no open invoice: the later-recorded one is older
    await record_payment(SYSTEM, acme.id, Decimal(50), date(2026, 3, 10), "p1")
    await record_payment(SYSTEM, acme.id, Decimal(30), date(2026, 3, 5), "p2")
    assert await Application.all().count() == 1  # only p0

    # posted in one order, due in another: INV-000002 due 03-31, INV-000003 due 03-25
    later = await charge(acme, "70", date(2026, 3, 1), posted_on=date(2026, 3, 20))
    assert later.number == "INV-000002"
    sooner = await charge(acme, "50", date(2026, 2, 23), posted_on=date(2026, 3, 21))
    assert (later.due_date, sooner.due_date) == (d("2026-03-31"), d("2026-03-25"))

    sources = {p.id: p.reference for p in await Payment.all()}
    made = [
        (sources[a.payment_id] if a.payment_id else "note", a.invoice_id, a.amount, a.applied_on)
        for a in await Application.all().order_by("id")
    ]
    assert made[1:] == [
        # posting INV-000002 (70, 03-20): p2 (03-05) 30, the note (03-07) 40
        ("p2", later.id, Decimal("30"), d("2026-03-20")),
        ("note", later.id, Decimal("40"), d("2026-03-20")),
        # posting INV-000003 (50, 03-21): p1 (03-10) 50
        ("p1", sooner.id, Decimal("50"), d("2026-03-21")),
    ]
    assert made[0] == ("p0", paid.id, Decimal("40"), d("2026-03-01"))
    assert await Application.filter(credit_note_id=note.id).count() == 1


async def test_open_invoices_are_paid_by_due_date_then_posted_date_then_number() -> None:
    acme = await factory.account(billing_day_of_month=1, payment_term_days=10)
    first = await charge(acme, "10", date(2026, 3, 5), posted_on=date(2026, 3, 9))  # due 03-15
    second = await charge(acme, "20", date(2026, 3, 1), posted_on=date(2026, 3, 9))  # due 03-11
    third = await charge(acme, "30", date(2026, 3, 5), posted_on=date(2026, 3, 8))  # due 03-15
    fourth = await charge(acme, "40", date(2026, 3, 5), posted_on=date(2026, 3, 9))  # due 03-15
    assert [i.number for i in (first, second, third, fourth)] == [
        "INV-000001",
        "INV-000002",
        "INV-000003",
        "INV-000004",
    ]
    factory.pin_today(date(2026, 3, 12))
    await record_payment(SYSTEM, acme.id, Decimal(65), date(2026, 3, 12), "wire")
    applied = await Application.all().order_by("id").values_list("invoice_id", "amount")
    # due 03-11 first; then of the 03-15 ones the one posted 03-08; then INV-000001
    assert applied == [
        (second.id, Decimal("20")),
        (third.id, Decimal("30")),
        (first.id, Decimal("10")),
        (fourth.id, Decimal("5")),
    ]
    dates = await Application.all().values_list("applied_on", flat=True)
    assert set(dates) == {d("2026-03-12")}


async def test_an_application_is_dated_the_later_of_credit_and_posting() -> None:
    acme = await factory.account(billing_day_of_month=1)
    await record_payment(SYSTEM, acme.id, Decimal(5), date(2026, 3, 1), "early")
    invoice = await charge(acme, "10", date(2026, 3, 3), posted_on=date(2026, 3, 4))
    await record_payment(SYSTEM, acme.id, Decimal(5), date(2026, 3, 9), "late")
    dates = (
        await Application.filter(invoice_id=invoice.id)
        .order_by("id")
        .values_list("applied_on", flat=True)
    )
    assert dates == [d("2026-03-04"), d("2026-03-09")]


async def test_balance_is_posted_documents_less_payments() -> None:
    acme = await factory.account(billing_day_of_month=1)
    assert await balance(acme) == Decimal(0)
    invoice = await charge(acme, "100", date(2026, 3, 1))
    draft_item = await factory.product("7.00", charge_type=ChargeType.ONE_TIME)
    await factory.contract(acme, draft_item, date(2026, 3, 2))
    assert await factory.bill(acme, date(2026, 3, 2)) is not None  # a draft: not counted
    factory.pin_today(date(2026, 3, 5))
    await record_payment(SYSTEM, acme.id, Decimal(30), date(2026, 3, 5), "x")
    assert await balance(acme) == Decimal("70")
    await credit_invoice(SYSTEM, invoice.id, rebill=False)
    assert await balance(acme) == Decimal("-30")  # the customer has credit


async def test_a_payment_dated_after_today_counts_from_its_date() -> None:
    """Today is 03-02; a payment received 03-05 is applied at once (dated 03-05) but
    counts, in the balance as in the aging, from 03-05 on: both say 100.00 until then."""
    acme = await factory.account(billing_day_of_month=1, payment_term_days=30)
    await charge(acme, "100", date(2026, 3, 1))
    factory.pin_today(date(2026, 3, 2))
    await record_payment(SYSTEM, acme.id, Decimal(30), date(2026, 3, 5), "post-dated cheque")
    (application,) = await Application.all()
    assert (application.amount, application.applied_on) == (Decimal(30), d("2026-03-05"))

    assert await balance(acme) == Decimal(100)
    assert await aging_of(acme, date(2026, 3, 2)) == (
        {"CURRENT": Decimal(100), "1-30": 0, "31-60": 0, "61-90": 0, "91+": 0},
        Decimal(0),
        Decimal(100),
    )
    assert (await aging_of(acme, date(2026, 3, 5)))[2] == Decimal(70)
    factory.pin_today(date(2026, 3, 4))
    assert await balance(acme) == Decimal(100)
    factory.pin_today(date(2026, 3, 5))
    assert await balance(acme) == Decimal(70)


async def test_a_payment_dated_after_today_with_nothing_open_is_credit_from_its_date() -> None:
    acme = await factory.account()
    factory.pin_today(date(2026, 3, 2))
    await record_payment(SYSTEM, acme.id, Decimal("12.50"), date(2026, 3, 3), "early")
    assert await balance(acme) == Decimal(0)
    assert await aging_of(acme, date(2026, 3, 2)) == (
        dict.fromkeys(BUCKET_LABELS, Decimal(0)),
        Decimal(0),
        Decimal(0),
    )
    factory.pin_today(date(2026, 3, 3))
    assert await balance(acme) == Decimal("-12.50")
    assert await aging_of(acme, date(2026, 3, 3)) == (
        dict.fromkeys(BUCKET_LABELS, Decimal(0)),
        Decimal("-12.50"),
        Decimal("-12.50"),
    )


async def test_balances_are_computed_for_many_accounts_in_three_statements() -> None:
    """One batch of accounts, each in its own time zone, costs three statements; each
    account's balance is the one it has alone."""
    from datetime import UTC, datetime

    from orbit import clock
    from orbit.services.receivables import balances
    from tests.api.conftest import Statements

    clock.pin(datetime(2026, 3, 4, 23, 30, tzinfo=UTC))  # 03-05 in Tokyo, 03-04 in UTC
    zones = ["UTC", "Asia/Tokyo", "America/Los_Angeles"] * 4
    accounts = [await factory.account(name=f"A{i}", timezone=tz) for i, tz in enumerate(zones)]
    for i, account in enumerate(accounts):
        await record_payment(SYSTEM, account.id, Decimal(i + 1), date(2026, 3, 5), f"p{i}")
    alone = {a.id: await balance(a) for a in accounts}
    with Statements() as counted:
        together = await balances(accounts)
    assert together == alone
    assert len(counted) == 3, counted.sql
    assert [together[a.id] for a in accounts[:3]] == [0, Decimal(-2), 0]


async def aging_of(account: Account, as_of: date) -> tuple[dict[str, Decimal], Decimal, Decimal]:
    _, report = await aging(SYSTEM, as_of)
    (entry,) = [e for e in report if e.account.id == account.id]
    return dict(entry.buckets), entry.unapplied_credit, entry.total


async def test_receivables_aging_by_days_past_due() -> None:
    acme = await factory.account(billing_day_of_month=1, payment_term_days=0)
    as_of = date(2026, 6, 30)
    # days past due as of 06-30 -> amount (powers of two: each bucket's sum is unique)
    for past_due, amount in [
        (0, 1),
        (1, 2),
        (30, 4),
        (31, 8),
        (60, 16),
        (61, 32),
        (90, 64),
        (91, 128),
    ]:
        due = as_of - timedelta(days=past_due)
        await charge(acme, str(amount), due)
    buckets, unapplied, total = await aging_of(acme, as_of)
    assert buckets == {
        "CURRENT": Decimal(1),
        "1-30": Decimal(6),
        "31-60": Decimal(24),
        "61-90": Decimal(96),
        "91+": Decimal(128),
    }
    assert (unapplied, total) == (Decimal(0), Decimal(255))

    # later events do not change the report as of 06-30
    factory.pin_today(date(2026, 7, 2))
    await record_payment(SYSTEM, acme.id, Decimal(500), date(2026, 7, 2), "late")
    await charge(acme, "256", date(2026, 7, 1), posted_on=date(2026, 7, 2))
    assert await aging_of(acme, as_of) == (buckets, Decimal(0), Decimal(255))
    # as of 07-02: 500.00 paid the oldest 255.00 and 245.00 of the new 256.00 (due 07-01)
    buckets, unapplied, total = await aging_of(acme, date(2026, 7, 2))
    assert buckets == {"CURRENT": 0, "1-30": Decimal(11), "31-60": 0, "61-90": 0, "91+": 0}
    assert (unapplied, total) == (Decimal(0), Decimal(11))


async def test_aging_shows_unapplied_credit_apart() -> None:
    acme = await factory.account(billing_day_of_month=1, payment_term_days=30)
    await charge(acme, "100", date(2026, 3, 1))  # due 03-31
    factory.pin_today(date(2026, 4, 15))
    await record_payment(SYSTEM, acme.id, Decimal(40), date(2026, 4, 15), "part")
    await record_payment(SYSTEM, acme.id, Decimal(75), date(2026, 4, 20), "more")
    assert await aging_of(acme, date(2026, 4, 14)) == (
        {"CURRENT": 0, "1-30": Decimal(100), "31-60": 0, "61-90": 0, "91+": 0},
        Decimal(0),
        Decimal(100),
    )
    assert await aging_of(acme, date(2026, 4, 15)) == (
        {"CURRENT": 0, "1-30": Decimal(60), "31-60": 0, "61-90": 0, "91+": 0},
        Decimal(0),
        Decimal(60),
    )
    assert await aging_of(acme, date(2026, 4, 20)) == (
        {"CURRENT": 0, "1-30": 0, "31-60": 0, "61-90": 0, "91+": 0},
        Decimal(-15),
        Decimal(-15),
    )


async def test_aging_without_a_date_ages_each_account_as_of_its_own_today() -> None:
    """At 23:30 UTC on 14 May it is already 15 May in Tokyo: an invoice posted there
    today is in the default report, beside the payment received the day before."""
    from datetime import UTC, datetime

    from orbit import clock
    from orbit.services import runs
    from orbit.services.invoices import post_run

    clock.pin(datetime(2026, 5, 14, 23, 30, tzinfo=UTC))
    seat = await factory.product("1000")
    tokyo = await factory.account(
        name="Tokyo KK", currency="JPY", timezone="Asia/Tokyo", billing_day_of_month=1
    )
    await factory.contract(tokyo, seat, date(2026, 5, 1))
    run = await runs.start_run(SYSTEM, runs.RunRequest(target_date=date(2026, 5, 1)))
    await runs.run_inline(run.id)
    (invoice,) = await post_run(SYSTEM, run.id)
    await record_payment(SYSTEM, tokyo.id, Decimal("400"), date(2026, 5, 14), "wire")

    report_date, (row,) = await aging(SYSTEM)

    assert invoice.posted_on == date(2026, 5, 15)
    assert report_date == date(2026, 5, 14)
    assert row.buckets["CURRENT"] == Decimal("600")
    assert row.unapplied_credit == 0
    assert row.total == await balance(tokyo) == Decimal("600")

"""Billing holds: scopes, releaseOn, the purchase-order and overdue rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from orbit import clock
from orbit.db.models import BillingHold, ContractLine, DocumentType, HoldSource
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract
from orbit.services.contracts import LineInput, set_purchase_order_number
from orbit.services.errors import Code
from orbit.services.holds import (
    HoldInput,
    HoldScope,
    place_hold,
    release_due_manual_holds,
    release_hold,
    update_hold_rules,
)
from orbit.services.invoices import post_invoice
from orbit.services.receivables import record_payment
from tests.services import factory
from tests.services.conftest import Bill
from tests.services.factory import SYSTEM, d, refused


class TwoContracts:
    """Contract A (seats 30.00 + support 5.00) and contract B (seats 30.00), from 03-01."""

    async def build(self) -> TwoContracts:
        factory.pin_today(date(2026, 3, 1))
        self.account = await factory.account(billing_day_of_month=1)
        self.seats = await factory.product("30.00")
        self.support = await factory.product("5.00", name="Support")
        self.a, self.order_a = await factory.contract(
            self.account,
            self.seats,
            date(2026, 3, 1),
            lines=[LineInput(self.seats.id, 1), LineInput(self.support.id, 1)],
        )
        self.b, self.order_b = await factory.contract(self.account, self.seats, date(2026, 3, 1))
        self.seats_a, _ = await factory.order_products(self.order_a)
        return self


@pytest.fixture
async def two() -> TwoContracts:
    return await TwoContracts().build()


@pytest.mark.parametrize(
    ("scope", "billed"),
    [
        (HoldScope.ACCOUNT, None),
        (HoldScope.CONTRACT, "30.00"),  # B only
        (HoldScope.ORDER, "30.00"),  # B only
        (HoldScope.ORDER_PRODUCT, "35.00"),  # A's support and B
    ],
)
async def test_a_hold_holds_what_it_covers(
    bill: Bill, two: TwoContracts, scope: HoldScope, billed: str | None
) -> None:
    target = {
        HoldScope.ACCOUNT: two.account.id,
        HoldScope.CONTRACT: two.a.id,
        HoldScope.ORDER: two.order_a.id,
        HoldScope.ORDER_PRODUCT: two.seats_a.id,
    }[scope]
    hold = await place_hold(SYSTEM, HoldInput(scope, target, "customer asked"))
    assert (hold.source, hold.account_id, hold.reason) == (
        HoldSource.MANUAL,
        two.account.id,
        "customer asked",
    )
    invoice = await bill(two.account, date(2026, 3, 1))
    if billed is None:
        assert invoice is None
    else:
        assert invoice is not None and invoice.total == Decimal(billed)
    # a hold never changes amounts: after release everything held is billed as it was
    await release_hold(SYSTEM, hold.id)
    rest = await bill(two.account, date(2026, 3, 1))
    assert rest is not None and rest.total == Decimal("65.00") - Decimal(billed or 0)


async def test_a_hold_ends_on_its_release_date_without_a_worker(
    bill: Bill, two: TwoContracts
) -> None:
    await place_hold(
        SYSTEM, HoldInput(HoldScope.CONTRACT, two.b.id, "trial", release_on=date(2026, 4, 1))
    )
    assert (await bill(two.account, date(2026, 3, 1))).total == Decimal("35.00")
    factory.pin_today(date(2026, 3, 31))
    assert (await bill(two.account, date(2026, 3, 31))) is None
    factory.pin_today(date(2026, 4, 1))
    invoice = await bill(two.account, date(2026, 4, 1))
    # B's held March, then April for both contracts
    assert invoice is not None and invoice.total == Decimal("95.00")
    hold = await BillingHold.get(contract_id=two.b.id)
    assert hold.released_at is None
    assert await release_due_manual_holds() == 1
    assert (await BillingHold.get(id=hold.id)).released_at is not None
    assert await release_due_manual_holds() == 0


async def test_release_on_is_judged_in_the_accounts_time_zone() -> None:
    clock.pin(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))  # already March 2 in Auckland
    acme = await factory.account(billing_day_of_month=1, timezone="Pacific/Auckland")
    await refused(
        place_hold(SYSTEM, HoldInput(HoldScope.ACCOUNT, acme.id, "x", release_on=date(2026, 3, 2))),
        Code.OUT_OF_RANGE,
    )
    hold = await place_hold(
        SYSTEM, HoldInput(HoldScope.ACCOUNT, acme.id, "x", release_on=date(2026, 3, 3))
    )
    assert hold.release_on == d("2026-03-03")


@pytest.mark.parametrize(
    ("scope", "target", "reason", "release_on", "code"),
    [
        (HoldScope.ACCOUNT, 999_999, "x", None, Code.NOT_FOUND),
        (HoldScope.CONTRACT, 999_999, "x", None, Code.NOT_FOUND),
        (HoldScope.ORDER, 999_999, "x", None, Code.NOT_FOUND),
        (HoldScope.ORDER_PRODUCT, 999_999, "x", None, Code.NOT_FOUND),
        (HoldScope.ACCOUNT, None, "x", None, Code.NOT_FOUND),
        (HoldScope.ACCOUNT, "ACCOUNT", "  ", None, Code.INVALID),
        (HoldScope.ACCOUNT, "ACCOUNT", "x", date(2026, 3, 1), Code.OUT_OF_RANGE),
        (HoldScope.ACCOUNT, "ACCOUNT", "x", date(2026, 2, 1), Code.OUT_OF_RANGE),
    ],
    ids=[
        "unknown-account",
        "unknown-contract",
        "unknown-order",
        "unknown-order-product",
        "no-target",
        "blank-reason",
        "release-today",
        "release-in-the-past",
    ],
)
async def test_place_hold_refuses_bad_input(
    two: TwoContracts,
    scope: HoldScope,
    target: object,
    reason: str,
    release_on: date | None,
    code: Code,
) -> None:
    target_id = two.account.id if target == "ACCOUNT" else target
    await refused(
        place_hold(
            SYSTEM,
            HoldInput(
                scope,
                target_id,
                reason,  # type: ignore[arg-type]
                release_on=release_on,
            ),
        ),
        code,
    )


async def test_a_released_hold_cannot_be_released_again(two: TwoContracts) -> None:
    hold = await place_hold(SYSTEM, HoldInput(HoldScope.ACCOUNT, two.account.id, "x"))
    await release_hold(SYSTEM, hold.id)
    await refused(release_hold(SYSTEM, hold.id), Code.INVALID_STATE)
    await refused(release_hold(SYSTEM, 999_999), Code.NOT_FOUND)


async def test_a_hold_past_its_release_date_cannot_be_released(two: TwoContracts) -> None:
    hold = await place_hold(
        SYSTEM, HoldInput(HoldScope.ACCOUNT, two.account.id, "x", release_on=date(2026, 3, 5))
    )
    factory.pin_today(date(2026, 3, 5))
    await refused(release_hold(SYSTEM, hold.id), Code.INVALID_STATE)


async def test_a_purchase_order_hold_cannot_be_released_by_hand_and_lets_credits_out(
    bill: Bill,
) -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1, requires_purchase_order=True)
    seats = await factory.product("30.00")
    big = await factory.product("100.00", name="Platform")
    contract, _ = await factory.contract(
        acme, seats, date(2026, 3, 1), quantity=2, purchase_order_number="PO-1"
    )
    assert (await bill(acme, date(2026, 3, 1))).total == Decimal("60.00")
    line = await ContractLine.get(contract_id=contract.id)
    # one order: seats 2 -> 1 (negative lines) and a new platform line (positive)
    _, order, plan = await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id,
            date(2026, 3, 16),
            [
                ChangeInput(quantity=1, contract_line_id=line.id),
                ChangeInput(quantity=1, product_id=big.id),
            ],
        ),
    )
    assert plan.total is not None and plan.total > 0
    hold = await BillingHold.get(order_id=order.id)
    assert hold.source is HoldSource.PURCHASE_ORDER_RULE
    await refused(release_hold(SYSTEM, hold.id), Code.INVALID_STATE)

    invoice = await bill(acme, date(2026, 4, 1))
    # April at two seats (60.00); the reduction's -16/31 x 30.00 and -30.00 go out; the
    # platform's lines are held
    assert invoice is not None and invoice.total == Decimal("14.52")
    assert invoice.document_type is DocumentType.INVOICE

    await set_purchase_order_number(SYSTEM, order.id, "PO-2")
    platform = await bill(acme, date(2026, 4, 1))
    assert platform is not None and platform.total == Decimal("151.61")  # 51.61 + 100.00


async def test_the_overdue_rule_holds_billing_until_the_invoice_is_paid(bill: Bill) -> None:
    factory.pin_today(date(2026, 3, 1))
    await update_hold_rules(SYSTEM, 10)
    acme = await factory.account(billing_day_of_month=1, payment_term_days=30)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 3, 1), quantity=2)
    first = await bill(acme, date(2026, 3, 1))
    assert first is not None
    await post_invoice(SYSTEM, first.id)  # due 03-31

    factory.pin_today(date(2026, 4, 10))  # 10 days past due
    assert await bill(acme, date(2026, 4, 1)) is None
    hold = await BillingHold.get(account_id=acme.id)
    assert (hold.source, hold.scope, hold.released_at) == (
        HoldSource.OVERDUE_RULE,
        HoldScope.ACCOUNT,
        None,
    )
    await refused(release_hold(SYSTEM, hold.id), Code.INVALID_STATE)

    # a credit still goes out while the rule holds the account
    line = await ContractLine.get(contract_id=contract.id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id, date(2026, 3, 21), [ChangeInput(quantity=0, contract_line_id=line.id)]
        ),
    )
    note = await bill(acme, date(2026, 4, 10))
    assert note is not None
    # -round(60 x 11/31) for March 21-31, credited on E since it is past the new end
    assert (note.document_type, note.total) == (DocumentType.CREDIT_NOTE, Decimal("-21.29"))
    await post_invoice(SYSTEM, note.id)
    await record_payment(SYSTEM, acme.id, Decimal("38.71"), date(2026, 4, 10), "wire")
    assert (await BillingHold.get(id=hold.id)).released_at is not None


async def test_a_manual_hold_holds_credits_too(bill: Bill) -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 3, 1))
    assert await bill(acme, date(2026, 3, 1)) is not None
    line = await ContractLine.get(contract_id=contract.id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id, date(2026, 3, 21), [ChangeInput(quantity=0, contract_line_id=line.id)]
        ),
    )
    hold = await place_hold(SYSTEM, HoldInput(HoldScope.CONTRACT, contract.id, "audit"))
    assert await bill(acme, date(2026, 4, 1)) is None
    await release_hold(SYSTEM, hold.id)
    note = await bill(acme, date(2026, 4, 1))
    assert note is not None and note.total == Decimal("-10.65")

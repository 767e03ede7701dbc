"""Renewal, expiry and hold-rule jobs with one poisoned contract or account: the
database refuses its write (a real database error), the failure is recorded on it
(an audit event with the message, once per distinct failure) and every other
contract or account is processed. Transient faults are attempted again and clear,
or are given up after bounded tries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from arq import Retry

from orbit import clock
from orbit.db.connection import dialect
from orbit.db.models import Account, AuditEvent, BillingHold, Contract, HoldSource
from orbit.engine.enums import ContractStatus
from orbit.services import contracts as contract_services
from orbit.services import faults
from orbit.services.holds import (
    RELEASE_FAILED,
    RULE_FAILED,
    HoldInput,
    HoldScope,
    apply_overdue_rule,
    place_hold,
    release_due_manual_holds,
    update_hold_rules,
)
from orbit.services.ids import global_id
from orbit.services.invoices import post_invoice
from orbit.services.renewals import FAILED_ACTION, process_renewals
from tests.services import factory
from tests.services.factory import SYSTEM
from tests.services.poison import Poison, locked
from workers import jobs

RENEWAL_DAY = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
async def poison() -> AsyncIterator[Poison]:
    made = Poison()
    yield made
    await made.cleanup()


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "FIRST_PAUSE", 0.0)


async def failures(action: str, entity: Any) -> list[str]:
    events = await AuditEvent.filter(action=action, entity_id=global_id(entity)).order_by("id")
    return [json.loads(e.details)["error"] for e in events]


class Book:
    """Three auto-renew contracts that renew on 06-30 and three that expire that day."""

    renewing: list[Contract]
    expiring: list[Contract]

    async def build(self, first_quantity: int = 1) -> Book:
        factory.pin_today(date(2026, 1, 1))
        seats = await factory.product("30.00")
        self.renewing, self.expiring = [], []
        for n in range(3):
            account = await factory.account(billing_day_of_month=1, name=f"Renews {n}")
            contract, _ = await factory.contract(
                account,
                seats,
                date(2025, 7, 1),
                auto_renew=True,
                quantity=first_quantity if n == 0 else 1,
            )
            self.renewing.append(contract)
        for n in range(3):
            account = await factory.account(billing_day_of_month=1, name=f"Expires {n}")
            contract, _ = await factory.contract(account, seats, date(2025, 6, 30))
            self.expiring.append(contract)
        clock.pin(RENEWAL_DAY)
        return self


async def status(contract: Contract) -> ContractStatus:
    return (await Contract.get(id=contract.id)).status


async def test_a_poisoned_renewal_and_a_poisoned_expiry_stop_only_their_contracts(
    poison: Poison,
) -> None:
    book = await Book().build()
    bad_renewal, bad_expiry = book.renewing[1], book.expiring[0]
    refused_renewal = await poison.refuse("contracts", f"{{new}}renewal_of_id = {bad_renewal.id}")
    refused_expiry = await poison.refuse(
        "contracts", f"{{new}}id = {bad_expiry.id} AND {{new}}status = 'EXPIRED'"
    )

    assert await process_renewals() == (2, 2)

    assert [await status(c) for c in book.renewing] == [
        ContractStatus.RENEWED,
        ContractStatus.ACTIVE,
        ContractStatus.RENEWED,
    ]
    assert [await status(c) for c in book.expiring] == [
        ContractStatus.ACTIVE,
        ContractStatus.EXPIRED,
        ContractStatus.EXPIRED,
    ]
    assert not await Contract.filter(renewal_of_id=bad_renewal.id).exists()
    (renewal_error,) = await failures(FAILED_ACTION, bad_renewal)
    (expiry_error,) = await failures(FAILED_ACTION, bad_expiry)
    assert refused_renewal in renewal_error and refused_expiry in expiry_error
    if dialect() == "postgres":
        assert "SQLSTATE 23514" in renewal_error

    # the next hour: tried again, failing the same way, recorded once
    assert await process_renewals() == (0, 0)
    assert len(await failures(FAILED_ACTION, bad_renewal)) == 1
    assert len(await failures(FAILED_ACTION, bad_expiry)) == 1

    # once the data is right, they renew and expire like the others
    await poison.cleanup()
    assert await process_renewals() == (1, 1)
    assert await status(bad_renewal) is ContractStatus.RENEWED
    assert await status(bad_expiry) is ContractStatus.EXPIRED


async def test_an_uplift_that_would_overflow_fails_its_contract_only() -> None:
    """The reported bug: an uplifted price beyond NUMERIC(20,6) stopped the renewals of
    every contract, every hour. The renewal is now refused before anything is written
    (the uplifted price is bounded), recorded on its contract, and the contract stays
    ACTIVE: a refused renewal is not a contract that does not renew, so it never
    expires by itself."""
    book = await Book().build(first_quantity=1_000_000)
    bad = book.renewing[0]
    # 30.00 x (1 + 10^11 %) = 3 x 10^10 a seat, which fits; x 10^6 seats a month does not
    await Contract.filter(id=bad.id).update(renewal_uplift_percent=Decimal("100000000000"))

    assert await process_renewals() == (2, 3)

    assert await status(bad) is ContractStatus.ACTIVE
    assert [await status(c) for c in book.renewing[1:]] == [ContractStatus.RENEWED] * 2
    (error,) = await failures(FAILED_ACTION, bad)
    assert "above the limit of 1,000,000,000" in error

    # the day after its end: still ACTIVE, still failing, recorded once
    clock.pin(RENEWAL_DAY + timedelta(days=1))
    assert await process_renewals() == (0, 0)
    assert await status(bad) is ContractStatus.ACTIVE
    assert len(await failures(FAILED_ACTION, bad)) == 1


async def test_a_transient_fault_in_a_renewal_is_attempted_again_and_clears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    book = await Book().build()
    fail = _fail_renewal_of(monkeypatch, book.renewing[1], locked(2))
    assert await process_renewals() == (3, 3)
    assert fail.calls == 3
    assert await AuditEvent.filter(action=FAILED_ACTION).count() == 0


async def test_a_transient_fault_in_a_renewal_that_never_clears_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    book = await Book().build()
    bad = book.renewing[1]
    fail = _fail_renewal_of(monkeypatch, bad, locked(None))
    ctx: dict[str, Any] = {}
    for job_try in range(1, jobs.RULE_TRIES):
        with pytest.raises(Retry):
            await jobs.renew_and_expire({**ctx, "job_try": job_try})
    # the last try: the contract's failure is recorded and the others proceed
    # (the expiring ones expired on the first try)
    assert await jobs.renew_and_expire({**ctx, "job_try": jobs.RULE_TRIES}) == (1, 0)
    assert fail.calls == jobs.RULE_TRIES * faults.ATTEMPTS
    assert await status(bad) is ContractStatus.ACTIVE
    assert [await status(c) for c in book.renewing] == [
        ContractStatus.RENEWED,
        ContractStatus.ACTIVE,
        ContractStatus.RENEWED,
    ]
    assert [await status(c) for c in book.expiring] == [ContractStatus.EXPIRED] * 3
    (error,) = await failures(FAILED_ACTION, bad)
    assert error.startswith("gave up after repeated connection or concurrency faults")
    assert "database is locked" in error


def _fail_renewal_of(monkeypatch: pytest.MonkeyPatch, contract: Contract, fail: Any) -> Any:
    renew = contract_services.renew_contract

    async def renew_contract(actor: Any, contract_id: int, *args: Any, **kwargs: Any) -> Any:
        if contract_id == contract.id:
            fail()
        return await renew(actor, contract_id, *args, **kwargs)

    monkeypatch.setattr(contract_services, "renew_contract", renew_contract)
    return fail


# --- hold rules ---------------------------------------------------------------


async def overdue_accounts(count: int) -> list[Account]:
    """Accounts with a posted invoice 10 days past due on 04-10; the rule is 10 days."""
    factory.pin_today(date(2026, 3, 1))
    await update_hold_rules(SYSTEM, 10)
    seats = await factory.product("30.00")
    accounts = []
    for n in range(count):
        account = await factory.account(
            billing_day_of_month=1, payment_term_days=30, name=f"Late {n}"
        )
        await factory.contract(account, seats, date(2026, 3, 1))
        invoice = await factory.bill(account, date(2026, 3, 1))
        assert invoice is not None
        await post_invoice(SYSTEM, invoice.id)
        accounts.append(account)
    factory.pin_today(date(2026, 4, 10))
    return accounts


async def held(account: Account) -> bool:
    return await BillingHold.filter(
        account_id=account.id, source=HoldSource.OVERDUE_RULE, released_at=None
    ).exists()


async def test_a_poisoned_account_does_not_stop_the_overdue_rule(poison: Poison) -> None:
    accounts = await overdue_accounts(4)
    bad = accounts[1]
    name = await poison.refuse("billing_holds", f"{{new}}account_id = {bad.id}")

    assert await apply_overdue_rule() == 3
    assert [await held(a) for a in accounts] == [True, False, True, True]
    (error,) = await failures(RULE_FAILED, bad)
    assert name in error
    # the hourly job, run through the worker's function, records it once
    assert await jobs.apply_hold_rules({"job_try": 1}) == 0
    assert len(await failures(RULE_FAILED, bad)) == 1

    await poison.cleanup()
    assert await jobs.apply_hold_rules({"job_try": 1}, bad.id) == 1
    assert await held(bad)


async def test_a_transient_fault_in_the_overdue_rule_clears_or_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orbit.services import holds

    accounts = await overdue_accounts(3)
    bad = accounts[2]
    judge = holds.evaluate_overdue_rule
    fail = locked(2)

    async def evaluate(account: Account, *args: Any) -> Any:
        if account.id == bad.id:
            fail()
        return await judge(account, *args)

    monkeypatch.setattr(holds, "evaluate_overdue_rule", evaluate)
    assert await apply_overdue_rule() == 3
    assert fail.calls == 3

    # never clears: the job retries, boundedly, then records the account
    await BillingHold.all().delete()
    fail = locked(None)
    for job_try in range(1, jobs.RULE_TRIES):
        with pytest.raises(Retry):
            await jobs.apply_hold_rules({"job_try": job_try})
    # the first two were held on the first try; the last records the third
    assert await jobs.apply_hold_rules({"job_try": jobs.RULE_TRIES}) == 0
    assert fail.calls == jobs.RULE_TRIES * faults.ATTEMPTS
    assert [await held(a) for a in accounts] == [True, True, False]
    (error,) = await failures(RULE_FAILED, bad)
    assert "database is locked" in error


async def test_a_poisoned_hold_does_not_stop_the_release_of_the_others(poison: Poison) -> None:
    factory.pin_today(date(2026, 3, 1))
    placed = []
    for n in range(3):
        account = await factory.account(name=f"Held {n}")
        placed.append(
            await place_hold(
                SYSTEM,
                HoldInput(HoldScope.ACCOUNT, account.id, "until the 5th", date(2026, 3, 5)),
            )
        )
    bad = placed[0]
    name = await poison.refuse(
        "billing_holds", f"{{new}}id = {bad.id} AND {{new}}released_at IS NOT NULL"
    )
    factory.pin_today(date(2026, 3, 10))

    assert await jobs.release_due_holds({"job_try": 1}) == 2
    released = {h.id: h.released_at for h in await BillingHold.all()}
    assert released[bad.id] is None
    assert all(released[h.id] is not None for h in placed[1:])
    (error,) = await failures(RELEASE_FAILED, bad)
    assert name in error
    assert await release_due_manual_holds() == 0
    assert len(await failures(RELEASE_FAILED, bad)) == 1

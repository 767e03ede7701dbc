"""Billing holds: manual holds, the purchase-order rule and the overdue rule.

A hold is active while it is not released and its ``release_on`` date (in the
account's time zone) has not come. Holds are judged when an account is
billed, so a late worker never lets a held line through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Protocol

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import (
    Account,
    BillingHold,
    Contract,
    DocumentType,
    HoldRules,
    HoldScope,
    HoldSource,
    Invoice,
    InvoiceStatus,
    Order,
    OrderProduct,
)
from orbit.db.models.billing import OPEN
from orbit.engine.invoicing import HoldInForce
from orbit.services import validation as check
from orbit.services.access import Actor, Permission
from orbit.services.audit import record
from orbit.services.errors import Code, DomainError, NotFound
from orbit.services.faults import isolated, record_failure

RULE_SOURCES = (HoldSource.OVERDUE_RULE, HoldSource.PURCHASE_ORDER_RULE)


def is_active(hold: BillingHold, today: date) -> bool:
    return hold.released_at is None and (hold.release_on is None or hold.release_on > today)


class Holdable(Protocol):
    """What a hold's scope is judged on: an order product's place in its account."""

    id: int
    contract_id: int
    order_id: int


def hold_in_force(hold: BillingHold) -> HoldInForce:
    """The engine's view of a stored hold: its scope, source and target."""
    target = {
        HoldScope.ACCOUNT: None,
        HoldScope.CONTRACT: hold.contract_id,
        HoldScope.ORDER: hold.order_id,
        HoldScope.ORDER_PRODUCT: hold.order_product_id,
    }[hold.scope]
    return HoldInForce(hold.scope, hold.source, target)


def holds_order_product(holds: Iterable[BillingHold], op: Holdable) -> bool:
    """Whether any of ``holds`` covers the order product."""
    return any(hold_in_force(h).covers_ids(op.contract_id, op.order_id, op.id) for h in holds)


async def active_holds(account: Account, today: date | None = None) -> list[BillingHold]:
    today = today or clock.today(account.timezone)
    return list(
        await BillingHold.filter(account_id=account.id, released_at=None).filter(
            Q(release_on=None) | Q(release_on__gt=today)
        )
    )


@dataclass
class HoldInput:
    scope: HoldScope
    target_id: int | None
    reason: str
    release_on: date | None = None


async def place_hold(actor: Actor, data: HoldInput) -> BillingHold:
    """A MANUAL hold on an account, contract, order or order product."""
    actor.require(Permission.MANUAL_HOLDS)
    reason = check.text(data.reason, "reason", 500)
    async with in_transaction():
        account_id, contract_id, order_id, op_id = await _target(actor, data.scope, data.target_id)
        account = await Account.get(id=account_id)
        if data.release_on is not None and data.release_on <= clock.today(account.timezone):
            raise DomainError(
                Code.OUT_OF_RANGE,
                "releaseOn must be after today (in the account's time zone)",
                ("releaseOn",),
            )
        hold = await BillingHold.create(
            account_id=account_id,
            scope=data.scope,
            source=HoldSource.MANUAL,
            reason=reason,
            contract_id=contract_id,
            order_id=order_id,
            order_product_id=op_id,
            release_on=data.release_on,
        )
        await record(actor, "hold.place", hold, {"scope": data.scope.value, "reason": reason})
    return hold


async def _target(
    actor: Actor, scope: HoldScope, target_id: int | None
) -> tuple[int, int | None, int | None, int | None]:
    """(account, contract, order, order product) ids of a hold's target."""
    missing = NotFound(scope.value.lower().replace("_", " "), ("targetId",))
    if target_id is None:
        raise missing
    if scope is HoldScope.ACCOUNT:
        account = await Account.get_or_none(id=target_id)
        if account is None or not actor.sees(account):
            raise missing
        return account.id, None, None, None
    if scope is HoldScope.CONTRACT:
        contract = await Contract.get_or_none(id=target_id).select_related("account")
        if contract is None or not actor.sees(contract.account):
            raise missing
        return contract.account_id, contract.id, None, None
    if scope is HoldScope.ORDER:
        order = await Order.get_or_none(id=target_id).select_related("account")
        if order is None or not actor.sees(order.account):
            raise missing
        return order.account_id, order.contract_id, order.id, None
    op = await OrderProduct.get_or_none(id=target_id)
    if op is None:
        raise missing
    account = await Account.get(id=op.account_id)
    if not actor.sees(account):
        raise missing
    return op.account_id, op.contract_id, op.order_id, op.id


async def get_hold(actor: Actor, hold_id: int) -> BillingHold:
    hold = await BillingHold.get_or_none(id=hold_id).select_related("account")
    if hold is None or not actor.sees(hold.account):
        raise NotFound("hold", ("holdId",))
    return hold


async def release_hold(actor: Actor, hold_id: int) -> BillingHold:
    actor.require(Permission.MANUAL_HOLDS)
    async with in_transaction():
        hold = await get_hold(actor, hold_id)
        if hold.source in RULE_SOURCES:
            raise DomainError(
                Code.INVALID_STATE,
                "a rule hold clears with its condition and cannot be released by hand",
                ("holdId",),
            )
        if not is_active(hold, clock.today(hold.account.timezone)):
            raise DomainError(Code.INVALID_STATE, "the hold is no longer active", ("holdId",))
        hold.released_at = clock.now()
        await hold.save(update_fields=["released_at"])
        await record(actor, "hold.release", hold)
    return hold


async def hold_rules() -> HoldRules:
    rules = await HoldRules.get_or_none(id=1)
    return rules or HoldRules(id=1, overdue_days=None)


async def update_hold_rules(actor: Actor, overdue_days: int | None) -> HoldRules:
    actor.require(Permission.HOLD_RULES)
    if overdue_days is not None:
        check.whole(overdue_days, "overdueDays", 0, 3650)
    async with in_transaction():
        rules = await HoldRules.filter(id=1).select_for_update().first()
        if rules is None:
            rules = await HoldRules.create(id=1, overdue_days=overdue_days)
        else:
            rules.overdue_days = overdue_days
            await rules.save(update_fields=["overdue_days"])
        await record(actor, "hold_rules.update", rules, {"overdueDays": overdue_days})
    return rules


async def overdue(account: Account, overdue_days: int, today: date) -> bool:
    """Whether the account has a posted invoice at least ``overdue_days`` past due that
    is not paid."""
    return await Invoice.filter(
        account_id=account.id,
        document_type=DocumentType.INVOICE,
        status=InvoiceStatus.POSTED,
        payment_status__in=OPEN,
        due_date__lte=today - timedelta(days=overdue_days),
    ).exists()


async def evaluate_overdue_rule(account: Account, today: date | None = None) -> bool | None:
    """Place or release the account's OVERDUE_RULE hold; run inside a transaction.

    Returns True when a hold was placed, False when one was released, None when
    nothing changed.
    """
    today = today or clock.today(account.timezone)
    rules = await hold_rules()
    active = await BillingHold.filter(
        account_id=account.id, source=HoldSource.OVERDUE_RULE, released_at=None
    ).first()
    should_hold = rules.overdue_days is not None and await overdue(
        account, rules.overdue_days, today
    )
    if should_hold and active is None:
        hold = await BillingHold.create(
            account_id=account.id,
            scope=HoldScope.ACCOUNT,
            source=HoldSource.OVERDUE_RULE,
            reason=f"an invoice is at least {rules.overdue_days} days past due",
        )
        await record(Actor.system(), "hold.place", hold, {"source": "OVERDUE_RULE"})
        return True
    if not should_hold and active is not None:
        active.released_at = clock.now()
        await active.save(update_fields=["released_at"])
        await record(Actor.system(), "hold.release", active, {"source": "OVERDUE_RULE"})
        return False
    return None


async def accounts_with_overdue_candidates() -> list[int]:
    """Accounts the overdue rule may need to hold or release."""
    holding = await BillingHold.filter(
        source=HoldSource.OVERDUE_RULE, released_at=None
    ).values_list("account_id", flat=True)
    owing = (
        await Invoice.filter(
            document_type=DocumentType.INVOICE, status=InvoiceStatus.POSTED, payment_status__in=OPEN
        )
        .distinct()
        .values_list("account_id", flat=True)
    )
    return sorted({int(a) for a in holding} | {int(a) for a in owing})


#: the audit actions recorded when a hold rule or a due release fails for one item
RULE_FAILED = "hold_rules.failed"
RELEASE_FAILED = "hold.release_failed"


async def apply_overdue_rule(
    account_ids: Iterable[int] | None = None, retry_transient: bool = False
) -> int:
    """Judge the overdue rule for these accounts (None: every account it may concern),
    each in its own transaction. Returns how many holds were placed or released.

    An account that fails is recorded (an audit event ``hold_rules.failed`` on the
    account, with the message, once per distinct failure) and logged, and the others
    are judged. A connection or concurrency fault is attempted again a few times; if
    it does not clear, ``TransientError`` is raised when ``retry_transient``, else it
    is recorded like any other failure.
    """
    ids = list(account_ids) if account_ids is not None else await accounts_with_overdue_candidates()
    changed = 0
    for account_id in ids:
        outcome = await isolated(
            partial(_judge_overdue_rule, account_id),
            partial(_record_account_failure, account_id),
            what=f"overdue rule of account {account_id}",
            retry_transient=retry_transient,
        )
        if outcome is not None:
            changed += 1
    return changed


async def _judge_overdue_rule(account_id: int) -> bool | None:
    async with in_transaction():
        account = await Account.filter(id=account_id).select_for_update().first()
        if account is None:
            return None
        return await evaluate_overdue_rule(account)


async def _record_account_failure(account_id: int, message: str) -> None:
    account = await Account.get_or_none(id=account_id)
    if account is not None:
        await record_failure(RULE_FAILED, account, message)


async def release_due_manual_holds(retry_transient: bool = False) -> int:
    """Mark released the manual holds whose releaseOn date has come (account time zone),
    each in its own transaction; a hold that fails is recorded (an audit event
    ``hold.release_failed`` on it) and the others are released. Transient faults are
    handled as by ``apply_overdue_rule``."""
    released = 0
    due = await BillingHold.filter(
        source=HoldSource.MANUAL, released_at=None, release_on__not_isnull=True
    ).select_related("account")
    for hold in due:
        done = await isolated(
            partial(_release_if_due, hold),
            partial(record_failure, RELEASE_FAILED, hold),
            what=f"release of hold {hold.id}",
            retry_transient=retry_transient,
        )
        released += done or 0
    return released


async def _release_if_due(hold: BillingHold) -> int:
    if hold.release_on is None or hold.release_on > clock.today(hold.account.timezone):
        return 0
    async with in_transaction():
        done = await BillingHold.filter(id=hold.id, released_at=None).update(
            released_at=clock.now()
        )
        if done:
            await record(Actor.system(), "hold.release", hold, {"releaseOn": hold.release_on})
    return int(done)

"""Billing-date controls on stored schedules: overrides and change of billing day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import (
    Account,
    Contract,
    OrderProduct,
    OrderStatus,
    ScheduleLine,
)
from orbit.engine.controls import (
    OverrideTarget,
    billing_day_change_start,
    contract_override_targets,
    first_unbilled,
    new_series_after_change,
    plan_bill_through,
    plan_join,
    plan_recut,
)
from orbit.engine.enums import ChargeType, ContractStatus
from orbit.engine.errors import EngineError
from orbit.engine.lines import StoredLine
from orbit.engine.schedule import DueState, effective_due_dates
from orbit.services import validation as check
from orbit.services.access import Actor, Permission
from orbit.services.accounts import lock_account
from orbit.services.audit import record
from orbit.services.contracts import get_contract
from orbit.services.errors import Code, DomainError, NotFound
from orbit.services.schedules import row_of, terms_of
from orbit.services.state import schedules_of


@dataclass
class OverrideInput:
    order_product_id: int | None = None
    contract_id: int | None = None
    next_billing_date: date | None = None
    bill_through_date: date | None = None
    clear: bool = False


def next_due(stored: Sequence[StoredLine]) -> date | None:
    """Effective due date of the first unbilled regular line."""
    states = [DueState(s.line.due, s.billed, s.line.is_credit, s.override) for s in stored]
    for item, effective in zip(stored, effective_due_dates(states), strict=True):
        if not item.billed and not item.line.is_credit:
            return effective
    return None


async def _targets(actor: Actor, data: OverrideInput) -> list[OrderProduct]:
    if (data.order_product_id is None) == (data.contract_id is None):
        raise DomainError(Code.INVALID, "give orderProductId or contractId", ("orderProductId",))
    if data.order_product_id is not None:
        op = await OrderProduct.get_or_none(id=data.order_product_id)
        account = await Account.get_or_none(id=op.account_id) if op else None
        if op is None or account is None or not actor.sees(account):
            raise NotFound("order product", ("orderProductId",))
        await lock_account(account.id)
        op = await OrderProduct.filter(id=op.id).select_for_update().first()
        assert op is not None
        order_status = (await op.order).status
        if order_status is not OrderStatus.ACTIVATED:
            raise DomainError(Code.INVALID_STATE, "the order is not activated", ("orderProductId",))
        return [op]
    assert data.contract_id is not None
    contract = await get_contract(actor, data.contract_id, lock=True)
    if contract.status is not ContractStatus.ACTIVE:
        raise DomainError(Code.INVALID_STATE, "the contract is not ACTIVE", ("contractId",))
    ops = (
        await OrderProduct.filter(
            contract_id=contract.id,
            order__status=OrderStatus.ACTIVATED,
            align_billing=True,
            charge_type=ChargeType.RECURRING,
        )
        .order_by("id")
        .select_for_update()
    )
    if data.clear:
        return list(ops)
    schedules = await schedules_of(ops)
    keys = contract_override_targets(
        [OverrideTarget(op.id, op.align_billing, next_due(schedules[op.id])) for op in ops]
    )
    return [op for op in ops if op.id in keys]


async def override_billing_dates(actor: Actor, data: OverrideInput) -> list[OrderProduct]:
    actor.require(Permission.BILLING_CONTROLS)
    if data.clear and (data.next_billing_date or data.bill_through_date):
        raise DomainError(Code.INVALID, "clear takes no dates", ("clear",))
    if not data.clear and data.next_billing_date is None and data.bill_through_date is None:
        raise DomainError(
            Code.INVALID, "give nextBillingDate, billThroughDate or clear", ("nextBillingDate",)
        )
    async with in_transaction():
        ops = await _targets(actor, data)
        if not ops:
            raise DomainError(Code.INVALID_STATE, "nothing left to bill", ("contractId",))
        for op in ops:
            if data.clear:
                await _clear(op)
            else:
                await _override(op, data)
        await record(
            actor,
            "billing_dates.override",
            ops[0],
            {
                "orderProducts": [op.id for op in ops],
                "nextBillingDate": data.next_billing_date,
                "billThroughDate": data.bill_through_date,
                "clear": data.clear,
            },
        )
    return ops


async def _schedule(op: OrderProduct) -> list[StoredLine]:
    return (await schedules_of([op]))[op.id]


async def _override(op: OrderProduct, data: OverrideInput) -> None:
    terms = terms_of(op)
    if data.bill_through_date is not None:
        stored = await _schedule(op)
        try:
            cut = plan_bill_through(terms, stored, data.bill_through_date)
        except EngineError as error:
            raise DomainError.from_engine(error) from None
        await ScheduleLine.filter(id=cut.replaced.key).update(removed=True)
        await ScheduleLine.bulk_create([row_of(op, cut.head), row_of(op, cut.tail)])
        if op.override_line_id == cut.replaced.key:
            op.override_line_id = None
            op.next_billing_date_override = None
        op.bill_through_override = data.bill_through_date
    if data.next_billing_date is not None:
        stored = await _schedule(op)
        index = first_unbilled(stored)
        if index is None:
            raise DomainError(
                Code.INVALID_STATE, "the order product is fully billed", ("orderProductId",)
            )
        op.override_line_id = int(stored[index].key)
        op.next_billing_date_override = data.next_billing_date
    await op.save()


async def _clear(op: OrderProduct) -> None:
    if op.bill_through_override is not None:
        stored = await _schedule(op)
        joined = plan_join(terms_of(op), stored, op.bill_through_override)
        if joined is not None:
            await ScheduleLine.filter(id__in=[s.key for s in joined.replaced]).update(removed=True)
            await ScheduleLine.bulk_create([row_of(op, joined.joined)])
    op.bill_through_override = None
    op.next_billing_date_override = None
    op.override_line_id = None
    await op.save()


async def change_billing_day(actor: Actor, contract_id: int, day: int) -> Contract:
    """Move a contract to billing day ``day`` from its next billing date on."""
    actor.require(Permission.BILLING_CONTROLS)
    check.billing_day(day)
    async with in_transaction():
        contract = await get_contract(actor, contract_id, lock=True)
        if contract.status is not ContractStatus.ACTIVE:
            raise DomainError(Code.INVALID_STATE, "the contract is not ACTIVE", ("contractId",))
        if day == contract.billing_day_of_month:
            raise DomainError(
                Code.INVALID, "the contract already bills on that day", ("billingDayOfMonth",)
            )
        account = contract.account
        today = clock.today(account.timezone)
        change_start = billing_day_change_start(today, contract.billing_day_of_month)
        series = new_series_after_change(today, contract.billing_day_of_month, day)
        ops = await OrderProduct.filter(
            contract_id=contract.id,
            order__status=OrderStatus.ACTIVATED,
            align_billing=True,
            charge_type=ChargeType.RECURRING,
        ).order_by("id")
        schedules = await schedules_of(ops)
        for op in ops:
            recut = plan_recut(terms_of(op), schedules[op.id], change_start, series)
            replaced = [int(s.key) for s in recut.replaced]
            if replaced:
                await ScheduleLine.filter(id__in=replaced).update(removed=True)
                await ScheduleLine.bulk_create([row_of(op, line) for line in recut.lines])
            if op.override_line_id in replaced:
                op.override_line_id = None
                op.next_billing_date_override = None
            if replaced and op.bill_through_override is not None:
                op.bill_through_override = None
            op.billing_day_of_month = day
            op.series_anchor = series.anchor
            await op.save()
        old_day = contract.billing_day_of_month
        contract.billing_day_of_month = day
        contract.series_anchor = series.anchor
        await contract.save(update_fields=["billing_day_of_month", "series_anchor"])
        await record(
            actor,
            "contract.change_billing_day",
            contract,
            {"from": old_day, "to": day, "from_date": change_start},
        )
    return contract

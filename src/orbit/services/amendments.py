"""Amendments and contract cancellation: preview (the quote) and apply.

Apply re-plans inside the transaction, with the contract locked, and stores
exactly the plan it computed: the quote is the invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import (
    Account,
    Contract,
    ContractLine,
    Order,
    OrderProduct,
    OrderStatus,
    OrderType,
    Product,
    ScheduleLine,
)
from orbit.engine.amendments import (
    AmendmentPlan,
    Change,
    ContractLineState,
    ContractState,
    OrderProductState,
    ProductInfo,
    default_through,
    plan_amendment,
    plan_cancellation,
)
from orbit.engine.enums import BillingFrequency, BillingType, ChargeType, ContractStatus
from orbit.engine.errors import EngineError
from orbit.engine.schedule import extend_schedule, schedule_total
from orbit.engine.terminations import Termination
from orbit.services import validation as check
from orbit.services.access import Actor, Permission
from orbit.services.audit import record
from orbit.services.contracts import (
    account_exposure,
    get_contract,
    hold_for_purchase_order,
    store_schedule,
)
from orbit.services.errors import Code, DomainError, NotFound
from orbit.services.schedules import parts_text, rational_text, row_of, terms_of
from orbit.services.state import horizon, schedules_of

MAX_CHANGES = 100


@dataclass
class ChangeInput:
    quantity: int
    contract_line_id: int | None = None
    product_id: int | None = None
    unit_price: Decimal | None = None
    billing_frequency: BillingFrequency | None = None
    billing_type: BillingType | None = None
    #: the ID as given, when it did not decode to one of ours
    bad_line_id: bool = False
    bad_product_id: bool = False


@dataclass
class AmendmentInput:
    contract_id: int
    effective_date: date
    changes: Sequence[ChangeInput]
    align_billing: bool = True
    purchase_order_number: str | None = None


@dataclass(frozen=True)
class Preview:
    contract: Contract
    plan: AmendmentPlan


async def contract_state(contract: Contract, account: Account) -> ContractState:
    """The engine's view of a contract: lines, activated order products, schedules."""
    lines = await ContractLine.filter(contract_id=contract.id).order_by("id")
    products = {p.id: p for p in await Product.filter(id__in=[ln.product_id for ln in lines])}
    ops = await OrderProduct.filter(
        contract_id=contract.id, order__status=OrderStatus.ACTIVATED
    ).order_by("id")
    schedules = await schedules_of(ops)
    latest = (
        await Order.filter(
            contract_id=contract.id, type=OrderType.AMENDMENT, status=OrderStatus.ACTIVATED
        )
        .order_by("-effective_date")
        .first()
    )
    line_states = []
    for line in lines:
        line_states.append(
            ContractLineState(
                key=line.id,
                product=product_info(products[line.product_id]),
                charge_type=line.charge_type,
                unit_price=line.unit_price,
                pricing_term_months=line.pricing_term_months,
                frequency=line.billing_frequency,
                billing_type=line.billing_type,
                order_products=tuple(
                    OrderProductState(op.id, terms_of(op), tuple(schedules[op.id]))
                    for op in ops
                    if op.contract_line_id == line.id
                ),
                cancelled=line.cancelled,
            )
        )
    return ContractState(
        currency=account.currency,
        status=contract.status,
        start=contract.start_date,
        end=contract.end_date,
        billing_day=contract.billing_day_of_month,
        anchor=contract.series_anchor,
        lines=tuple(line_states),
        latest_amendment=latest.effective_date if latest else None,
        policy=account.proration_policy,
        treatment=account.partial_period_treatment,
    )


def product_info(product: Product) -> ProductInfo:
    return ProductInfo(
        product.id,
        product.charge_type,
        product.list_price,
        product.pricing_term_months,
        product.billing_frequency,
        product.billing_type,
    )


async def _changes(contract: Contract, data: AmendmentInput) -> list[Change]:
    if len(data.changes) > MAX_CHANGES:
        raise DomainError(Code.INVALID, f"at most {MAX_CHANGES} changes", ("changes",))
    product_ids = [c.product_id for c in data.changes if c.product_id is not None]
    products = {p.id: p for p in await Product.filter(id__in=product_ids)}
    line_ids = [c.contract_line_id for c in data.changes if c.contract_line_id is not None]
    lines = {
        ln.id: ln for ln in await ContractLine.filter(contract_id=contract.id, id__in=line_ids)
    }
    exposures: list[tuple[Decimal, tuple[str, ...]]] = []
    result = []
    for index, item in enumerate(data.changes):
        path = ("changes", str(index))
        if item.bad_line_id:
            raise NotFound("contract line", (*path, "contractLineId"))
        if item.bad_product_id:
            raise NotFound("product", (*path, "productId"))
        product = None
        if item.product_id is not None:
            found = products.get(item.product_id)
            if found is None:
                raise NotFound("product", (*path, "productId"))
            product = product_info(found)
        price = item.unit_price
        if price is not None:
            price = check.unit_price(price, "unitPrice", (*path, "unitPrice"))
        check.whole(
            item.quantity, "quantity", -check.MAX_QUANTITY, check.MAX_QUANTITY, (*path, "quantity")
        )
        exposed = _exposure(
            item, price, product, lines.get(item.contract_line_id or 0), contract, data
        )
        if exposed is not None:
            exposures.append((exposed, (*path, "quantity")))
        result.append(
            Change(
                quantity=item.quantity,
                line=item.contract_line_id,
                product=product,
                unit_price=price,
                frequency=item.billing_frequency,
                billing_type=item.billing_type,
            )
        )
    check.within_exposure(await account_exposure(contract.account_id), exposures)
    return result


def _exposure(
    item: ChangeInput,
    price: Decimal | None,
    product: ProductInfo | None,
    line: ContractLine | None,
    contract: Contract,
    data: AmendmentInput,
) -> Decimal | None:
    """The most the change's new quantity could bill from the amendment to the end."""
    if product is not None:
        unit = product.list_price if price is None else price
        term, recurring = product.pricing_term_months, product.charge_type is ChargeType.RECURRING
    elif line is not None:
        unit = line.unit_price if price is None else price
        term, recurring = line.pricing_term_months, line.charge_type is ChargeType.RECURRING
    else:
        return None  # the engine refuses it
    start = max(contract.start_date, data.effective_date)
    return check.exposure(item.quantity, unit, term, start, contract.end_date, recurring)


async def _plan(
    contract: Contract, data: AmendmentInput | None, effective: date, through: date | None
) -> AmendmentPlan:
    """The plan, from what is stored: it writes nothing (a preview is a read). Evergreen
    lines beyond the stored horizon are computed in memory by the engine planner."""
    state = await contract_state(contract, contract.account)
    try:
        if data is None:
            return plan_cancellation(state, effective, through)
        changes = await _changes(contract, data)
        return plan_amendment(state, changes, effective, data.align_billing, through)
    except EngineError as error:
        raise DomainError.from_engine(error) from None


async def _store_ahead(contract: Contract, effective: date) -> None:
    """Before an amendment or cancellation is applied (never for a preview): store the
    evergreen schedules past the date being cut and the plan's horizon, so that every
    line the change removes or cuts is a stored row. The lines stored are exactly those
    the planner computes in memory, so the plan, and its total, do not change."""
    if contract.end_date is not None:
        return
    from orbit.services.billing import ensure_horizon

    ops = await OrderProduct.filter(
        contract_id=contract.id, end_date=None, order__status=OrderStatus.ACTIVATED
    )
    reach = max(effective, default_through(effective))
    await ensure_horizon(ops, reach, clock.today(contract.account.timezone))


async def preview_amendment(
    actor: Actor, data: AmendmentInput, through: date | None = None
) -> Preview:
    contract = await get_contract(actor, data.contract_id)
    return Preview(contract, await _plan(contract, data, data.effective_date, through))


async def preview_cancellation(
    actor: Actor, contract_id: int, effective: date, through: date | None = None
) -> Preview:
    contract = await get_contract(actor, contract_id)
    return Preview(contract, await _plan(contract, None, effective, through))


async def amend_contract(
    actor: Actor, data: AmendmentInput
) -> tuple[Contract, Order, AmendmentPlan]:
    """Create and activate the AMENDMENT order that the preview describes."""
    actor.require(Permission.MANAGE_CONTRACTS)
    po = (
        check.text(data.purchase_order_number, "purchaseOrderNumber", 100, required=False)
        if data.purchase_order_number is not None
        else None
    )
    async with in_transaction():
        contract = await get_contract(actor, data.contract_id, lock=True)
        await _store_ahead(contract, data.effective_date)
        plan = await _plan(contract, data, data.effective_date, None)
        order = await _apply(actor, contract, plan, data.align_billing, po or None)
        await record(actor, "contract.amend", contract, _summary(plan, order))
    return contract, order, plan


async def cancel_contract(
    actor: Actor, contract_id: int, effective: date
) -> tuple[Contract, Order, AmendmentPlan]:
    """End the whole contract the day before ``effective``."""
    actor.require(Permission.MANAGE_CONTRACTS)
    async with in_transaction():
        contract = await get_contract(actor, contract_id, lock=True)
        await _store_ahead(contract, effective)
        plan = await _plan(contract, None, effective, None)
        order = await _apply(actor, contract, plan, True, None)
        contract.status = ContractStatus.CANCELLED
        contract.end_date = plan.contract_end
        contract.notice_deadline = None
        await contract.save(update_fields=["status", "end_date", "notice_deadline"])
        await ContractLine.filter(contract_id=contract.id, cancelled=False).update(
            end_date=plan.contract_end, cancelled=True
        )
        await record(actor, "contract.cancel", contract, _summary(plan, order))
    return contract, order, plan


def _summary(plan: AmendmentPlan, order: Order) -> dict[str, object]:
    return {
        "order": order.number,
        "effectiveDate": plan.effective,
        "deltas": len(plan.deltas),
        "terminations": len(plan.terminations),
        "total": plan.total,
    }


async def _apply(
    actor: Actor, contract: Contract, plan: AmendmentPlan, align: bool, po: str | None
) -> Order:
    account = contract.account
    order = await Order.create(
        account_id=account.id,
        contract_id=contract.id,
        type=OrderType.AMENDMENT,
        status=OrderStatus.ACTIVATED,
        effective_date=plan.effective,
        purchase_order_number=po,
        align_billing=align,
        activated_at=clock.now(),
    )
    today = clock.today(account.timezone)
    total = Decimal(0)
    for delta in plan.deltas:
        terms = delta.terms
        if delta.line is None:
            line = await ContractLine.create(
                contract_id=contract.id,
                product_id=delta.product.key,
                charge_type=terms.charge_type,
                unit_price=terms.unit_price,
                pricing_term_months=terms.pricing_term_months,
                billing_frequency=terms.frequency,
                billing_type=terms.billing_type,
                start_date=terms.start,
                end_date=terms.end,
            )
            line_id = line.id
        else:
            line_id = int(delta.line.key)
        series = terms.series
        op = await OrderProduct.create(
            order=order,
            contract_line_id=line_id,
            account_id=account.id,
            contract_id=contract.id,
            product_id=delta.product.key,
            currency=account.currency,
            charge_type=terms.charge_type,
            quantity=terms.quantity,
            unit_price=terms.unit_price,
            pricing_term_months=terms.pricing_term_months,
            billing_frequency=terms.frequency,
            billing_type=terms.billing_type,
            start_date=terms.start,
            end_date=terms.end,
            billing_day_of_month=series.day if series else contract.billing_day_of_month,
            series_anchor=series.anchor if series else contract.series_anchor,
            proration_policy=terms.policy,
            partial_period_treatment=terms.treatment,
            align_billing=align,
        )
        lines = list(delta.schedule)
        through = None
        if terms.is_evergreen:
            through = max(horizon(terms.start, today), plan.through)
            lines = [ln for ln in lines if ln.start <= through]
            lines += extend_schedule(terms, lines, through)
        await store_schedule(op, lines, through)
        total += schedule_total(delta.schedule, plan.through)
    for item in plan.terminations:
        await _store_termination(int(item.order_product.key), item.termination)
        if item.line.key is not None and not plan.cancels_contract:
            await ContractLine.filter(id=item.line.key).update(
                cancelled=True, end_date=item.termination.cut
            )
    await hold_for_purchase_order(account, order, total)
    return order


async def _store_termination(op_id: int, termination: Termination) -> None:
    op = await OrderProduct.get(id=op_id)
    touched = [s.key for s in termination.removed if s.key is not None]
    if touched:
        await ScheduleLine.filter(id__in=touched).update(removed=True)
    if termination.cut_line is not None and termination.kept_line is not None:
        kept = termination.kept_line
        row = await ScheduleLine.get(id=termination.cut_line.key)
        await row.update_from_dict(
            {
                "period_end": kept.end,
                "due_date": kept.due,
                "amount": kept.amount,
                "value": rational_text(kept.value),
                "fraction": rational_text(kept.fraction),
                "parts": parts_text(kept),
            }
        ).save()
        touched.append(row.id)
    if termination.credit_line is not None:
        await ScheduleLine.bulk_create([row_of(op, termination.credit_line)])
    if op.override_line_id in touched:
        op.override_line_id = None
        op.next_billing_date_override = None
    if op.bill_through_override is not None and touched:
        op.bill_through_override = None
    op.end_date = termination.cut
    op.scheduled_through = None
    op.total_amount = sum(
        [
            Decimal(a)
            for a in await ScheduleLine.filter(order_product_id=op.id, removed=False).values_list(
                "amount", flat=True
            )
        ],
        Decimal(0),
    )
    await op.save()

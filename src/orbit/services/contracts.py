"""Contracts and their orders: creation, activation, cancellation of drafts,
purchase order numbers and renewals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tortoise.transactions import in_transaction

from orbit import clock
from orbit.db.models import (
    Account,
    BillingHold,
    Contract,
    ContractLine,
    HoldScope,
    HoldSource,
    Order,
    OrderProduct,
    OrderStatus,
    OrderType,
    Product,
    ScheduleLine,
)
from orbit.engine.calendar import first_on_or_after
from orbit.engine.enums import BillingFrequency, BillingType, ChargeType, ContractStatus
from orbit.engine.errors import EngineError
from orbit.engine.schedule import Line, build_schedule, schedule_total
from orbit.engine.terms import contract_term, renewal_term, uplifted_price
from orbit.services import validation as check
from orbit.services.access import Actor, Permission
from orbit.services.accounts import get_account, get_visible
from orbit.services.audit import record
from orbit.services.errors import Code, DomainError, NotFound
from orbit.services.schedules import row_of, terms_of
from orbit.services.state import horizon

MAX_LINES = 100


@dataclass
class LineInput:
    product_id: int
    quantity: int
    unit_price: Decimal | None = None
    billing_frequency: BillingFrequency | None = None
    billing_type: BillingType | None = None


@dataclass
class ContractInput:
    account_id: int
    start_date: date
    lines: Sequence[LineInput]
    term_months: int | None = None
    end_date: date | None = None
    billing_day_of_month: int | None = None
    auto_renew: bool = False
    renewal_term_months: int | None = None
    renewal_uplift_percent: Decimal = Decimal(0)
    renewal_notice_days: int = 60
    purchase_order_number: str | None = None
    activate: bool = True


async def get_contract(actor: Actor, contract_id: int, lock: bool = False) -> Contract:
    query = Contract.filter(id=contract_id).select_related("account")
    return await get_visible(actor, query, "contract", "contractId", lock)


async def get_order(actor: Actor, order_id: int, lock: bool = False) -> Order:
    query = Order.filter(id=order_id).select_related("account", "contract")
    return await get_visible(actor, query, "order", "orderId", lock)


def _notice_deadline(end: date | None, notice_days: int) -> date | None:
    return None if end is None else end - timedelta(days=notice_days)


async def create_contract(actor: Actor, data: ContractInput) -> tuple[Contract, Order]:
    """The contract, its lines and its NEW order (activated unless asked otherwise)."""
    actor.require(Permission.MANAGE_CONTRACTS)
    if not data.lines:
        raise DomainError(Code.INVALID, "a contract needs at least one line", ("lines",))
    if len(data.lines) > MAX_LINES:
        raise DomainError(Code.INVALID, f"at most {MAX_LINES} lines", ("lines",))
    check.in_bounds(data.start_date, "startDate")
    if data.end_date is not None:
        check.in_bounds(data.end_date, "endDate", start=data.start_date)
    if data.term_months is not None:
        check.whole(data.term_months, "termMonths", 1, check.MAX_TERM_MONTHS)
    if data.billing_day_of_month is not None:
        check.billing_day(data.billing_day_of_month)
    if data.renewal_term_months is not None:
        check.whole(data.renewal_term_months, "renewalTermMonths", 1, check.MAX_TERM_MONTHS)
    check.whole(data.renewal_notice_days, "renewalNoticeDays", 0, 3650)
    check.uplift(data.renewal_uplift_percent, "renewalUpliftPercent")
    for index, line in enumerate(data.lines):
        path = ("lines", str(index))
        if line.quantity < 1:
            raise DomainError(Code.INVALID, "quantity must be at least 1", (*path, "quantity"))
        check.whole(line.quantity, "quantity", 1, check.MAX_QUANTITY, (*path, "quantity"))
        if line.unit_price is not None:
            check.unit_price(line.unit_price, "unitPrice", (*path, "unitPrice"))
    po_number = _po(data.purchase_order_number)
    try:
        term = contract_term(data.start_date, data.term_months, data.end_date)
    except EngineError as error:
        raise DomainError.from_engine(error) from None

    async with in_transaction():
        account = await get_account(actor, data.account_id, lock=True)
        products = await _products([line.product_id for line in data.lines])
        await _within_exposure(
            account.id,
            [
                (
                    _line_exposure(line, products[line.product_id], term.start, term.end),
                    ("lines", str(index), "quantity"),
                )
                for index, line in enumerate(data.lines)
            ],
        )
        day = data.billing_day_of_month or account.billing_day_of_month or data.start_date.day
        if account.billing_day_of_month is None:
            account.billing_day_of_month = data.start_date.day
            await account.save(update_fields=["billing_day_of_month"])
        contract = await Contract.create(
            account=account,
            status=ContractStatus.DRAFT,
            start_date=term.start,
            end_date=term.end,
            term_months=term.term_months,
            anniversary_day=term.anniversary,
            billing_day_of_month=day,
            series_anchor=first_on_or_after(term.start, day),
            auto_renew=data.auto_renew,
            renewal_term_months=data.renewal_term_months,
            renewal_uplift_percent=data.renewal_uplift_percent,
            renewal_notice_days=data.renewal_notice_days,
            notice_deadline=_notice_deadline(term.end, data.renewal_notice_days),
            owner_id=account.owner_id,
        )
        order = await Order.create(
            account=account,
            contract=contract,
            type=OrderType.NEW,
            status=OrderStatus.DRAFT,
            effective_date=term.start,
            purchase_order_number=po_number,
        )
        for index, line in enumerate(data.lines):
            path = ("lines", str(index))
            product = products[line.product_id]
            await _add_line(account, contract, order, product, line, path)
        await record(
            actor, "contract.create", contract, {"order": order.number, "lines": len(data.lines)}
        )
        if data.activate:
            await _activate(actor, order, account, contract)
    return contract, order


def _po(number: str | None) -> str | None:
    if number is None:
        return None
    number = check.text(number, "purchaseOrderNumber", 100, required=False)
    return number or None


def _line_exposure(line: LineInput, product: Product, start: date, end: date | None) -> Decimal:
    """The most a new line could bill over the contract (see validation.exposure)."""
    price = product.list_price if line.unit_price is None else line.unit_price
    recurring = product.charge_type is ChargeType.RECURRING
    return check.exposure(line.quantity, price, product.pricing_term_months, start, end, recurring)


async def account_exposure(account_id: int) -> Decimal:
    """The most all of an account's order products (but those of cancelled orders)
    could ever bill, summed: what any document of the account stays under."""
    rows = (
        await OrderProduct.filter(account_id=account_id)
        .exclude(order__status=OrderStatus.CANCELLED)
        .values(
            "quantity", "unit_price", "pricing_term_months", "start_date", "end_date", "charge_type"
        )
    )
    return sum(
        (
            check.exposure(
                row["quantity"],
                row["unit_price"],
                row["pricing_term_months"],
                row["start_date"],
                row["end_date"],
                ChargeType(row["charge_type"]) is ChargeType.RECURRING,
            )
            for row in rows
        ),
        Decimal(0),
    )


async def _within_exposure(account_id: int, added: list[tuple[Decimal, tuple[str, ...]]]) -> None:
    """Refuse, INVALID at the field of the line that goes over, what would let the
    account bill more than validation.MAX_ACCOUNT_EXPOSURE."""
    check.within_exposure(await account_exposure(account_id), added)


async def _products(ids: Sequence[int]) -> dict[int, Product]:
    found = {p.id: p for p in await Product.filter(id__in=list(set(ids)))}
    for index, product_id in enumerate(ids):
        if product_id not in found:
            raise NotFound("product", ("lines", str(index), "productId"))
    return found


async def _add_line(
    account: Account,
    contract: Contract,
    order: Order,
    product: Product,
    line: LineInput,
    path: tuple[str, ...],
) -> OrderProduct:
    if line.quantity < 1:
        raise DomainError(Code.INVALID, "quantity must be at least 1", (*path, "quantity"))
    check.whole(line.quantity, "quantity", 1, check.MAX_QUANTITY, (*path, "quantity"))
    price = (
        product.list_price
        if line.unit_price is None
        else check.unit_price(line.unit_price, "unitPrice", (*path, "unitPrice"))
    )
    recurring = product.charge_type is ChargeType.RECURRING
    frequency = (line.billing_frequency if recurring else None) or product.billing_frequency
    billing_type = (line.billing_type if recurring else None) or product.billing_type
    contract_line = await ContractLine.create(
        contract=contract,
        product=product,
        charge_type=product.charge_type,
        unit_price=price,
        pricing_term_months=product.pricing_term_months,
        billing_frequency=frequency,
        billing_type=billing_type,
        start_date=contract.start_date,
        end_date=contract.end_date if recurring else contract.start_date,
    )
    return await OrderProduct.create(
        order=order,
        contract_line=contract_line,
        account_id=account.id,
        contract_id=contract.id,
        product_id=product.id,
        currency=account.currency,
        charge_type=product.charge_type,
        quantity=line.quantity,
        unit_price=price,
        pricing_term_months=product.pricing_term_months,
        billing_frequency=frequency,
        billing_type=billing_type,
        start_date=contract.start_date,
        end_date=contract.end_date if recurring else contract.start_date,
        billing_day_of_month=contract.billing_day_of_month,
        series_anchor=contract.series_anchor,
        proration_policy=account.proration_policy,
        partial_period_treatment=account.partial_period_treatment,
        align_billing=True,
    )


async def store_schedule(op: OrderProduct, lines: Sequence[Line], through: date | None) -> None:
    """Persist a freshly computed schedule and the order product's fixed total."""
    await ScheduleLine.bulk_create([row_of(op, line) for line in lines])
    op.scheduled_through = through
    op.total_amount = (
        None
        if op.end_date is None and op.charge_type is ChargeType.RECURRING
        else schedule_total(lines)
    )
    await op.save(update_fields=["scheduled_through", "total_amount"])


async def _activate(actor: Actor, order: Order, account: Account, contract: Contract) -> None:
    """Copy the billing settings in force onto the order products and store their
    schedules; hold the order when a purchase order is required and missing."""
    today = clock.today(account.timezone)
    total = Decimal(0)
    for op in await OrderProduct.filter(order_id=order.id):
        op.proration_policy = account.proration_policy
        op.partial_period_treatment = account.partial_period_treatment
        op.billing_day_of_month = contract.billing_day_of_month
        op.series_anchor = contract.series_anchor
        await op.save()
        terms = terms_of(op)
        through = horizon(op.start_date, today) if terms.is_evergreen else None
        lines = build_schedule(terms, through)
        await store_schedule(op, lines, through)
        total += schedule_total(lines)
    order.status = OrderStatus.ACTIVATED
    order.activated_at = clock.now()
    await order.save(update_fields=["status", "activated_at"])
    if order.type in (OrderType.NEW, OrderType.RENEWAL) and contract.status is ContractStatus.DRAFT:
        contract.status = ContractStatus.ACTIVE
        await contract.save(update_fields=["status"])
    await hold_for_purchase_order(account, order, total)
    await record(actor, "order.activate", order, {"total": total})


async def hold_for_purchase_order(account: Account, order: Order, total: Decimal) -> None:
    if account.requires_purchase_order and not order.purchase_order_number and total > 0:
        await BillingHold.create(
            account_id=account.id,
            scope=HoldScope.ORDER,
            source=HoldSource.PURCHASE_ORDER_RULE,
            reason="purchase order number required",
            contract_id=order.contract_id,
            order_id=order.id,
        )


async def activate_order(actor: Actor, order_id: int) -> Order:
    actor.require(Permission.MANAGE_CONTRACTS)
    async with in_transaction():
        order = await get_order(actor, order_id, lock=True)
        if order.status is not OrderStatus.DRAFT:
            raise DomainError(
                Code.INVALID_STATE, f"the order is {order.status.value}, not DRAFT", ("orderId",)
            )
        account, contract = order.account, order.contract
        await _activate(actor, order, account, contract)
    return order


async def cancel_order(actor: Actor, order_id: int) -> Order:
    """Cancel a DRAFT order, and its DRAFT contract for a NEW order."""
    actor.require(Permission.MANAGE_CONTRACTS)
    async with in_transaction():
        order = await get_order(actor, order_id, lock=True)
        if order.status is not OrderStatus.DRAFT:
            raise DomainError(
                Code.INVALID_STATE, "only a DRAFT order can be cancelled", ("orderId",)
            )
        order.status = OrderStatus.CANCELLED
        await order.save(update_fields=["status"])
        contract = order.contract
        if order.type is OrderType.NEW and contract.status is ContractStatus.DRAFT:
            contract.status = ContractStatus.CANCELLED
            await contract.save(update_fields=["status"])
        await record(actor, "order.cancel", order)
    return order


async def set_purchase_order_number(actor: Actor, order_id: int, number: str) -> Order:
    """Record the order's purchase order number; releases its purchase-order hold."""
    actor.require(Permission.MANAGE_CONTRACTS)
    value = check.text(number, "purchaseOrderNumber", 100)
    async with in_transaction():
        order = await get_order(actor, order_id, lock=True)
        if order.status is OrderStatus.CANCELLED:
            raise DomainError(Code.INVALID_STATE, "the order is cancelled", ("orderId",))
        order.purchase_order_number = value
        await order.save(update_fields=["purchase_order_number"])
        released = await BillingHold.filter(
            order_id=order.id, source=HoldSource.PURCHASE_ORDER_RULE, released_at=None
        ).update(released_at=clock.now())
        await record(
            actor,
            "order.set_purchase_order_number",
            order,
            {"purchaseOrderNumber": value, "holdsReleased": released},
        )
    return order


async def renew_contract(
    actor: Actor,
    contract_id: int,
    term_months: int | None = None,
    uplift_percent: Decimal | None = None,
) -> tuple[Contract, Order]:
    """A new contract from the day after the end date, with an activated RENEWAL order."""
    actor.require(Permission.MANAGE_CONTRACTS)
    if term_months is not None:
        check.whole(term_months, "termMonths", 1, check.MAX_TERM_MONTHS)
    if uplift_percent is not None:
        check.uplift(uplift_percent, "upliftPercent")
    async with in_transaction():
        old = await get_contract(actor, contract_id, lock=True)
        if old.status is not ContractStatus.ACTIVE:
            raise DomainError(
                Code.INVALID_STATE,
                f"only an ACTIVE contract renews; this one is {old.status.value}",
                ("contractId",),
            )
        if old.end_date is None:
            raise DomainError(
                Code.INVALID_STATE, "an evergreen contract does not renew", ("contractId",)
            )
        if await Contract.filter(renewal_of_id=old.id).exists():
            raise DomainError(
                Code.INVALID_STATE, "the contract is already renewed", ("contractId",)
            )
        renewing = await renewing_lines(old)
        if not renewing:
            raise DomainError(
                Code.INVALID_STATE,
                "no recurring line is in effect on the end date: nothing to renew",
                ("contractId",),
            )
        account = old.account
        anniversary = old.anniversary_day or (old.end_date + timedelta(days=1)).day
        term = renewal_term(
            old.end_date, anniversary, old.renewal_term_months, old.term_months, term_months
        )
        uplift = old.renewal_uplift_percent if uplift_percent is None else uplift_percent
        prices = _renewed_prices(renewing, uplift, account.currency)
        await _within_exposure(
            account.id,
            [
                (
                    check.exposure(
                        line.quantity,
                        prices[line.contract_line_id],
                        line.pricing_term_months,
                        term.start,
                        term.end,
                    ),
                    ("upliftPercent",),
                )
                for line in renewing
            ],
        )
        new = await Contract.create(
            account_id=account.id,
            status=ContractStatus.DRAFT,
            start_date=term.start,
            end_date=term.end,
            term_months=term.term_months,
            anniversary_day=anniversary,
            billing_day_of_month=old.billing_day_of_month,
            series_anchor=first_on_or_after(term.start, old.billing_day_of_month),
            auto_renew=old.auto_renew,
            renewal_term_months=old.renewal_term_months,
            renewal_uplift_percent=old.renewal_uplift_percent,
            renewal_notice_days=old.renewal_notice_days,
            notice_deadline=_notice_deadline(term.end, old.renewal_notice_days),
            renewal_of_id=old.id,
            owner_id=account.owner_id,
        )
        order = await Order.create(
            account=account,
            contract=new,
            type=OrderType.RENEWAL,
            status=OrderStatus.DRAFT,
            effective_date=term.start,
        )
        for line in renewing:
            product = await Product.get(id=line.product_id)
            await _add_line(
                account,
                new,
                order,
                product,
                LineInput(
                    product_id=product.id,
                    quantity=line.quantity,
                    unit_price=prices[line.contract_line_id],
                    billing_frequency=line.billing_frequency,
                    billing_type=line.billing_type,
                ),
                ("contractId",),
            )
        old.status = ContractStatus.RENEWED
        await old.save(update_fields=["status"])
        await record(actor, "contract.renew", old, {"renewal": new.number, "uplift": uplift})
        await _activate(actor, order, account, new)
    return new, order


def _renewed_prices(
    lines: Sequence[LineInEffect], uplift: Decimal, currency: str
) -> dict[int, Decimal]:
    """Each renewing line's uplifted price; INVALID at upliftPercent when one would be
    above validation.MAX_UNIT_PRICE (uplifts compound, renewal after renewal)."""
    prices = {}
    for line in lines:
        price = uplifted_price(line.unit_price, uplift, currency)
        if price > check.MAX_UNIT_PRICE:
            raise DomainError(
                Code.INVALID,
                f"the uplift of {uplift}% would raise a unit price to {price}, above the "
                f"limit of {check.MAX_UNIT_PRICE:,}",
                ("upliftPercent",),
            )
        prices[line.contract_line_id] = price
    return prices


@dataclass(frozen=True)
class LineInEffect:
    contract_line_id: int
    product_id: int
    charge_type: ChargeType
    quantity: int
    unit_price: Decimal
    pricing_term_months: int
    billing_frequency: BillingFrequency
    billing_type: BillingType


async def lines_in_effect(contract: Contract, on: date) -> list[LineInEffect]:
    """The contract's lines with the quantities their activated order products give on
    ``on`` (lines at quantity 0 included)."""
    lines = await ContractLine.filter(contract_id=contract.id).order_by("id")
    ops = await OrderProduct.filter(
        contract_id=contract.id, order__status=OrderStatus.ACTIVATED
    ).values("contract_line_id", "quantity", "start_date", "end_date")
    quantities: dict[int, int] = {}
    for op in ops:
        if op["start_date"] <= on and (op["end_date"] is None or on <= op["end_date"]):
            quantities[op["contract_line_id"]] = (
                quantities.get(op["contract_line_id"], 0) + op["quantity"]
            )
    return [
        LineInEffect(
            line.id,
            line.product_id,
            line.charge_type,
            quantities.get(line.id, 0),
            line.unit_price,
            line.pricing_term_months,
            line.billing_frequency,
            line.billing_type,
        )
        for line in lines
    ]


async def renewing_lines(contract: Contract) -> list[LineInEffect]:
    """The recurring lines with quantity >= 1 in effect on the contract's end date."""
    assert contract.end_date is not None
    return [
        line
        for line in await lines_in_effect(contract, contract.end_date)
        if line.charge_type is ChargeType.RECURRING and line.quantity >= 1
    ]

"""Queries and mutations on contracts, orders, amendments and billing-date controls."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry

from orbit.api.common import UserError, user_errors
from orbit.api.context import Info
from orbit.api.contracts.previews import AmendmentPreview, AmendmentPreviewResult, plan_view
from orbit.api.contracts.types import Contract, Order, OrderProduct
from orbit.api.errors import BadInput
from orbit.api.ids import require_id, row_id
from orbit.api.mutations import Result, run
from orbit.db import models as db
from orbit.engine.amendments import AmendmentPlan
from orbit.engine.enums import BillingFrequency, BillingType
from orbit.services import amendments as amending
from orbit.services import contracts as service
from orbit.services import controls
from orbit.services.access import Actor, Permission
from orbit.services.errors import AccessDenied, DomainError, Problem

MAX_ITEMS = 100


def _limit(items: list[Any] | None, name: str) -> None:
    if items is not None and len(items) > MAX_ITEMS:
        raise BadInput(f"{name} takes at most {MAX_ITEMS} items")


@strawberry.input
class ContractLineInput:
    product_id: strawberry.ID
    quantity: int
    unit_price: Decimal | None = strawberry.field(
        default=None, description="Defaults to the product's list price."
    )
    billing_frequency: BillingFrequency | None = None
    billing_type: BillingType | None = None


@strawberry.input
class CreateContractInput:
    account_id: strawberry.ID
    start_date: date
    term_months: int | None = strawberry.field(
        default=None,
        description="Give termMonths or endDate (inclusive); omit both for an evergreen contract.",
    )
    end_date: date | None = None
    billing_day_of_month: int | None = strawberry.field(
        default=None, description="Defaults to the account's billing day of month."
    )
    auto_renew: bool = False
    renewal_term_months: int | None = None
    renewal_uplift_percent: Decimal = Decimal("0")
    renewal_notice_days: int = 60
    purchase_order_number: str | None = None
    lines: list[ContractLineInput]
    activate: bool = strawberry.field(
        default=True,
        description="Activate the NEW order at once; otherwise contract and order stay DRAFT.",
    )


@strawberry.input
class AmendmentChangeInput:
    contract_line_id: strawberry.ID | None = strawberry.field(
        default=None, description="Change an existing line's quantity (0 cancels the line)."
    )
    quantity: int
    product_id: strawberry.ID | None = strawberry.field(
        default=None, description="Or add a product as a new line."
    )
    unit_price: Decimal | None = None
    billing_frequency: BillingFrequency | None = None
    billing_type: BillingType | None = None


@strawberry.input
class AmendContractInput:
    contract_id: strawberry.ID
    effective_date: date
    changes: list[AmendmentChangeInput]
    align_billing: bool = strawberry.field(
        default=True,
        description="Bill amendment lines on the contract's billing dates (default) or on "
        "their own.",
    )
    purchase_order_number: str | None = None


@strawberry.input
class RenewContractInput:
    contract_id: strawberry.ID
    term_months: int | None = None
    uplift_percent: Decimal | None = None


@strawberry.input
class CancelContractInput:
    contract_id: strawberry.ID
    effective_date: date


@strawberry.input
class OrderInput:
    order_id: strawberry.ID


@strawberry.input
class SetPurchaseOrderNumberInput:
    order_id: strawberry.ID
    purchase_order_number: str


@strawberry.input
class OverrideBillingDatesInput:
    order_product_id: strawberry.ID | None = strawberry.field(
        default=None, description="One order product, or every aligned order product of a contract."
    )
    contract_id: strawberry.ID | None = None
    next_billing_date: date | None = strawberry.field(
        default=None, description="Bill the next unbilled line on this date instead (one time)."
    )
    bill_through_date: date | None = strawberry.field(
        default=None, description="Cut the next unbilled line at this date (one time)."
    )
    clear: bool = strawberry.field(default=False, description="Clear both overrides.")


@strawberry.input
class ChangeBillingDayInput:
    contract_id: strawberry.ID
    billing_day_of_month: int


@strawberry.type
class ContractPayload:
    contract: Contract | None
    order: Order | None
    user_errors: list[UserError]


@strawberry.type
class OrderPayload:
    order: Order | None
    user_errors: list[UserError]


@strawberry.type
class AmendContractPayload:
    contract: Contract | None
    order: Order | None
    preview: AmendmentPreview | None
    user_errors: list[UserError]


@strawberry.type
class OverrideBillingDatesPayload:
    order_products: list[OrderProduct]
    user_errors: list[UserError]


async def _contract_payload(result: Result) -> ContractPayload:
    contract = await db.Contract.get(id=result["contract"])
    order = await db.Order.get(id=result["order"]) if result.get("order") else None
    return ContractPayload(
        contract=Contract.of(contract), order=Order.of(order) if order else None, user_errors=[]
    )


def _contract_failed(problems: list[Problem]) -> ContractPayload:
    return ContractPayload(contract=None, order=None, user_errors=user_errors(problems))


async def _order_payload(result: Result) -> OrderPayload:
    return OrderPayload(order=Order.of(await db.Order.get(id=result["order"])), user_errors=[])


def _order_failed(problems: list[Problem]) -> OrderPayload:
    return OrderPayload(order=None, user_errors=user_errors(problems))


async def _amend_payload(result: Result) -> AmendContractPayload:
    contract = await db.Contract.get(id=result["contract"])
    order = await db.Order.get(id=result["order"])
    return AmendContractPayload(
        contract=Contract.of(contract),
        order=Order.of(order),
        preview=AmendmentPreview.of(result["preview"]),
        user_errors=[],
    )


def _amend_failed(problems: list[Problem]) -> AmendContractPayload:
    return AmendContractPayload(
        contract=None, order=None, preview=None, user_errors=user_errors(problems)
    )


def applied(contract: db.Contract, order: db.Order, plan: AmendmentPlan) -> Result:
    """What an applied amendment or cancellation returns (and replays)."""
    return {
        "contract": contract.id,
        "order": order.id,
        "preview": plan_view(plan, contract.id, contract.account.currency),
    }


def amendment_input(input: AmendContractInput) -> amending.AmendmentInput:
    _limit(input.changes, "changes")
    changes = []
    for change in input.changes:
        line_id = row_id(change.contract_line_id, "ContractLine")
        product_id = row_id(change.product_id, "Product")
        changes.append(
            amending.ChangeInput(
                quantity=change.quantity,
                contract_line_id=line_id,
                product_id=product_id,
                unit_price=change.unit_price,
                billing_frequency=change.billing_frequency,
                billing_type=change.billing_type,
                bad_line_id=change.contract_line_id is not None and line_id is None,
                bad_product_id=change.product_id is not None and product_id is None,
            )
        )
    return amending.AmendmentInput(
        contract_id=require_id(input.contract_id, "Contract", ("contractId",)),
        effective_date=input.effective_date,
        changes=changes,
        align_billing=input.align_billing,
        purchase_order_number=input.purchase_order_number,
    )


async def _preview(info: Info, make: Any) -> AmendmentPreviewResult:
    actor = info.context.require(Permission.READ)
    try:
        preview = await make(actor)
    except DomainError as error:
        return AmendmentPreviewResult(preview=None, user_errors=user_errors(error.problems))
    except AccessDenied as denied:
        from orbit.api.errors import Forbidden

        raise Forbidden(str(denied)) from None
    view = plan_view(preview.plan, preview.contract.id, preview.contract.account.currency)
    return AmendmentPreviewResult(preview=AmendmentPreview.of(view), user_errors=[])


@strawberry.type
class ContractQueries:
    @strawberry.field
    async def contract(self, info: Info, id: strawberry.ID) -> Contract | None:
        info.context.require(Permission.READ)
        row = await info.context.loaders.contract.load(row_id(id, "Contract") or 0)
        if row is None or await info.context.visible_account(row.account_id) is None:
            return None
        return Contract.of(row)

    @strawberry.field
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        info.context.require(Permission.READ)
        row = await info.context.loaders.order.load(row_id(id, "Order") or 0)
        if row is None or await info.context.visible_account(row.account_id) is None:
            return None
        return Order.of(row)

    @strawberry.field(
        description="Exactly what amendContract would create now. through bounds evergreen "
        "totals (default: effective date + 12 months - 1 day)."
    )
    async def amendment_preview(
        self, info: Info, input: AmendContractInput, through: date | None = None
    ) -> AmendmentPreviewResult:
        async def make(actor: Actor) -> amending.Preview:
            return await amending.preview_amendment(actor, amendment_input(input), through)

        return await _preview(info, make)

    @strawberry.field
    async def cancel_contract_preview(
        self, info: Info, input: CancelContractInput, through: date | None = None
    ) -> AmendmentPreviewResult:
        async def make(actor: Actor) -> amending.Preview:
            contract_id = require_id(input.contract_id, "Contract", ("contractId",))
            return await amending.preview_cancellation(
                actor, contract_id, input.effective_date, through
            )

        return await _preview(info, make)


@strawberry.type
class ContractMutations:
    @strawberry.mutation(description="Creates the contract and its NEW order.")
    async def create_contract(
        self, info: Info, input: CreateContractInput, idempotency_key: str | None = None
    ) -> ContractPayload:
        _limit(input.lines, "lines")

        async def work(actor: Actor) -> Result:
            lines = [
                service.LineInput(
                    product_id=require_id(
                        line.product_id, "Product", ("lines", str(i), "productId")
                    ),
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    billing_frequency=line.billing_frequency,
                    billing_type=line.billing_type,
                )
                for i, line in enumerate(input.lines)
            ]
            contract, order = await service.create_contract(
                actor,
                service.ContractInput(
                    account_id=require_id(input.account_id, "Account", ("accountId",)),
                    start_date=input.start_date,
                    lines=lines,
                    term_months=input.term_months,
                    end_date=input.end_date,
                    billing_day_of_month=input.billing_day_of_month,
                    auto_renew=input.auto_renew,
                    renewal_term_months=input.renewal_term_months,
                    renewal_uplift_percent=input.renewal_uplift_percent,
                    renewal_notice_days=input.renewal_notice_days,
                    purchase_order_number=input.purchase_order_number,
                    activate=input.activate,
                ),
            )
            return {"contract": contract.id, "order": order.id}

        return await run(
            info,
            "createContract",
            work,
            _contract_payload,
            _contract_failed,
            idempotency_key,
            input,
        )

    @strawberry.mutation
    async def activate_order(self, info: Info, input: OrderInput) -> OrderPayload:
        async def work(actor: Actor) -> Result:
            order_id = require_id(input.order_id, "Order", ("orderId",))
            return {"order": (await service.activate_order(actor, order_id)).id}

        return await run(info, "activateOrder", work, _order_payload, _order_failed)

    @strawberry.mutation(
        description="Cancels a DRAFT order (and its DRAFT contract, for a NEW order)."
    )
    async def cancel_order(self, info: Info, input: OrderInput) -> OrderPayload:
        async def work(actor: Actor) -> Result:
            order_id = require_id(input.order_id, "Order", ("orderId",))
            return {"order": (await service.cancel_order(actor, order_id)).id}

        return await run(info, "cancelOrder", work, _order_payload, _order_failed)

    @strawberry.mutation
    async def set_purchase_order_number(
        self, info: Info, input: SetPurchaseOrderNumberInput
    ) -> OrderPayload:
        async def work(actor: Actor) -> Result:
            order_id = require_id(input.order_id, "Order", ("orderId",))
            order = await service.set_purchase_order_number(
                actor, order_id, input.purchase_order_number
            )
            return {"order": order.id}

        return await run(info, "setPurchaseOrderNumber", work, _order_payload, _order_failed)

    @strawberry.mutation(
        description="Creates and activates an AMENDMENT order that is exactly amendmentPreview's "
        "result."
    )
    async def amend_contract(
        self, info: Info, input: AmendContractInput, idempotency_key: str | None = None
    ) -> AmendContractPayload:
        async def work(actor: Actor) -> Result:
            return applied(*await amending.amend_contract(actor, amendment_input(input)))

        return await run(
            info, "amendContract", work, _amend_payload, _amend_failed, idempotency_key, input
        )

    @strawberry.mutation
    async def cancel_contract(
        self, info: Info, input: CancelContractInput, idempotency_key: str | None = None
    ) -> AmendContractPayload:
        async def work(actor: Actor) -> Result:
            contract_id = require_id(input.contract_id, "Contract", ("contractId",))
            return applied(
                *await amending.cancel_contract(actor, contract_id, input.effective_date)
            )

        return await run(
            info, "cancelContract", work, _amend_payload, _amend_failed, idempotency_key, input
        )

    @strawberry.mutation
    async def renew_contract(
        self, info: Info, input: RenewContractInput, idempotency_key: str | None = None
    ) -> ContractPayload:
        async def work(actor: Actor) -> Result:
            contract_id = require_id(input.contract_id, "Contract", ("contractId",))
            contract, order = await service.renew_contract(
                actor, contract_id, input.term_months, input.uplift_percent
            )
            return {"contract": contract.id, "order": order.id}

        return await run(
            info, "renewContract", work, _contract_payload, _contract_failed, idempotency_key, input
        )

    @strawberry.mutation
    async def override_billing_dates(
        self, info: Info, input: OverrideBillingDatesInput
    ) -> OverrideBillingDatesPayload:
        async def work(actor: Actor) -> Result:
            op_id = (
                require_id(input.order_product_id, "OrderProduct", ("orderProductId",))
                if input.order_product_id is not None
                else None
            )
            contract_id = (
                require_id(input.contract_id, "Contract", ("contractId",))
                if input.contract_id is not None
                else None
            )
            ops = await controls.override_billing_dates(
                actor,
                controls.OverrideInput(
                    order_product_id=op_id,
                    contract_id=contract_id,
                    next_billing_date=input.next_billing_date,
                    bill_through_date=input.bill_through_date,
                    clear=input.clear,
                ),
            )
            return {"orderProducts": [op.id for op in ops]}

        async def build(result: Result) -> OverrideBillingDatesPayload:
            rows = await db.OrderProduct.filter(id__in=result["orderProducts"]).order_by("id")
            return OverrideBillingDatesPayload(
                order_products=[OrderProduct.of(r) for r in rows], user_errors=[]
            )

        return await run(
            info,
            "overrideBillingDates",
            work,
            build,
            lambda problems: OverrideBillingDatesPayload(
                order_products=[], user_errors=user_errors(problems)
            ),
        )

    @strawberry.mutation
    async def change_billing_day_of_month(
        self, info: Info, input: ChangeBillingDayInput
    ) -> ContractPayload:
        async def work(actor: Actor) -> Result:
            contract_id = require_id(input.contract_id, "Contract", ("contractId",))
            contract = await controls.change_billing_day(
                actor, contract_id, input.billing_day_of_month
            )
            return {"contract": contract.id, "order": None}

        return await run(info, "changeBillingDayOfMonth", work, _contract_payload, _contract_failed)

"""Amendment and cancellation previews: exactly what the mutation will create."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry

from orbit.api import lookups
from orbit.api.common import Money, UserError
from orbit.api.context import Info
from orbit.api.contracts.types import Contract, ContractLine, OrderProduct
from orbit.api.refs import ProductRef
from orbit.engine.amendments import AmendmentPlan
from orbit.engine.money import round_fraction
from orbit.engine.schedule import Line, build_schedule


def line_view(line: Line) -> dict[str, Any]:
    return {
        "periodStart": line.start.isoformat(),
        "periodEnd": line.end.isoformat(),
        "dueDate": line.due.isoformat(),
        "fraction": str(round_fraction(line.fraction)),
        "amount": str(line.amount),
        "isCredit": line.is_credit,
    }


def plan_view(plan: AmendmentPlan, contract_id: int, currency: str) -> dict[str, Any]:
    """A plain (JSON-able) record of a plan, for the payload and for idempotent replays."""
    return {
        "contractId": contract_id,
        "currency": currency,
        "effectiveDate": plan.effective.isoformat(),
        "through": plan.through.isoformat(),
        "total": None if plan.total is None else str(plan.total),
        "changes": [
            {
                "productId": int(d.product.key),
                "contractLineId": None if d.line is None else int(d.line.key),
                "quantityBefore": d.quantity_before,
                "quantityAfter": d.quantity_after,
                "unitPrice": str(d.terms.unit_price),
                "startDate": d.terms.start.isoformat(),
                "endDate": d.terms.end.isoformat() if d.terms.end else None,
                "total": None if d.total is None else str(d.total),
                "schedule": [line_view(line) for line in d.schedule],
                "evergreen": d.terms.is_evergreen,
                "terms": d.terms,
            }
            for d in plan.deltas
        ],
        "terminations": [
            {
                "contractLineId": int(t.line.key),
                "orderProductId": int(t.order_product.key),
                "endDate": t.termination.cut.isoformat(),
                "removedLines": [
                    line_view(s.line)
                    for s in t.termination.removed_or_cut
                    if s.line.start <= plan.through or not t.order_product.terms.is_evergreen
                ],
                "keptLine": line_view(t.termination.kept_line) if t.termination.kept_line else None,
                "creditLines": [line_view(t.termination.credit_line)]
                if t.termination.credit_line
                else [],
                "totalChange": str(t.termination.total_change),
            }
            for t in plan.terminations
        ],
    }


@strawberry.type(
    description="A preview line: a schedule line that does not exist yet, or one an amendment "
    "removes."
)
class ScheduleLinePreview:
    period_start: date
    period_end: date
    due_date: date
    fraction: Decimal
    amount: Money
    is_credit: bool

    @classmethod
    def of(cls, view: dict[str, Any], currency: str) -> ScheduleLinePreview:
        return cls(
            period_start=date.fromisoformat(view["periodStart"]),
            period_end=date.fromisoformat(view["periodEnd"]),
            due_date=date.fromisoformat(view["dueDate"]),
            fraction=Decimal(view["fraction"]),
            amount=Money.of(Decimal(view["amount"]), currency),
            is_credit=view["isCredit"],
        )

    @classmethod
    def of_line(cls, line: Line, currency: str) -> ScheduleLinePreview:
        return cls.of(line_view(line), currency)


@strawberry.type
class AmendmentDelta:
    quantity_before: int
    quantity_after: int
    quantity_delta: int
    unit_price: Decimal
    start_date: date
    end_date: date | None
    total: Money | None = strawberry.field(description="Null for evergreen.")
    view: strawberry.Private[dict[str, Any]]
    currency: strawberry.Private[str]
    effective: strawberry.Private[date]

    @strawberry.field
    async def product(self, info: Info) -> ProductRef:
        return await lookups.product(info, self.view["productId"])

    @strawberry.field(description="Null for a product new to the contract.")
    async def contract_line(self, info: Info) -> ContractLine | None:
        if self.view["contractLineId"] is None:
            return None
        return await ContractLine.load(info, self.view["contractLineId"], self.effective)

    @strawberry.field
    def schedule(self, through: date | None = None) -> list[ScheduleLinePreview]:
        terms = self.view.get("terms")
        if (
            through is not None
            and self.view["evergreen"]
            and terms is not None
            and not isinstance(terms, dict)
        ):
            return [
                ScheduleLinePreview.of_line(line, self.currency)
                for line in build_schedule(terms, through)
            ]
        lines = self.view["schedule"]
        if through is not None:
            lines = [v for v in lines if date.fromisoformat(v["periodStart"]) <= through]
        return [ScheduleLinePreview.of(v, self.currency) for v in lines]


@strawberry.type
class AmendmentTermination:
    end_date: date
    removed_lines: list[ScheduleLinePreview] = strawberry.field(
        description="Unbilled lines removed or cut (as they stand before the amendment)."
    )
    kept_line: ScheduleLinePreview | None = strawberry.field(
        description="The cut line as it will stand, if any."
    )
    credit_lines: list[ScheduleLinePreview] = strawberry.field(
        description="Credit for days already billed after endDate."
    )
    total_change: Money = strawberry.field(description="Change of this order product's total.")
    view: strawberry.Private[dict[str, Any]]

    @strawberry.field
    async def contract_line(self, info: Info) -> ContractLine:
        line = await ContractLine.load(info, self.view["contractLineId"])
        assert line is not None
        return line

    @strawberry.field
    async def order_product(self, info: Info) -> OrderProduct:
        row = await info.context.loaders.order_product.load(self.view["orderProductId"])
        assert row is not None
        return OrderProduct.of(row)


@strawberry.type
class AmendmentPreview:
    effective_date: date
    changes: list[AmendmentDelta]
    terminations: list[AmendmentTermination]
    total: Money | None = strawberry.field(
        description="Change of the contract's lifetime billing; null for an evergreen contract."
    )
    contract_id: strawberry.Private[int]

    @strawberry.field
    async def contract(self, info: Info) -> Contract:
        row = await info.context.loaders.contract.load(self.contract_id)
        assert row is not None
        return Contract.of(row)

    @classmethod
    def of(cls, view: dict[str, Any]) -> AmendmentPreview:
        currency = view["currency"]
        effective = date.fromisoformat(view["effectiveDate"])

        def money(value: str | None) -> Money | None:
            return None if value is None else Money.of(Decimal(value), currency)

        return cls(
            effective_date=effective,
            contract_id=view["contractId"],
            total=money(view["total"]),
            changes=[
                AmendmentDelta(
                    quantity_before=c["quantityBefore"],
                    quantity_after=c["quantityAfter"],
                    quantity_delta=c["quantityAfter"] - c["quantityBefore"],
                    unit_price=Decimal(c["unitPrice"]),
                    start_date=date.fromisoformat(c["startDate"]),
                    end_date=date.fromisoformat(c["endDate"]) if c["endDate"] else None,
                    total=money(c["total"]),
                    view=c,
                    currency=currency,
                    effective=effective,
                )
                for c in view["changes"]
            ],
            terminations=[
                AmendmentTermination(
                    end_date=date.fromisoformat(t["endDate"]),
                    removed_lines=[ScheduleLinePreview.of(v, currency) for v in t["removedLines"]],
                    kept_line=ScheduleLinePreview.of(t["keptLine"], currency)
                    if t["keptLine"]
                    else None,
                    credit_lines=[ScheduleLinePreview.of(v, currency) for v in t["creditLines"]],
                    total_change=Money.of(Decimal(t["totalChange"]), currency),
                    view=t,
                )
                for t in view["terminations"]
            ],
        )


@strawberry.type
class AmendmentPreviewResult:
    preview: AmendmentPreview | None
    user_errors: list[UserError]

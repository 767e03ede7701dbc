"""Contract, ContractLine, Order, OrderProduct and ScheduleLine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction

import strawberry

from orbit import clock
from orbit.api import lookups
from orbit.api.common import Money, Node, from_row, price
from orbit.api.context import Info
from orbit.api.errors import BadInput
from orbit.api.ids import gid
from orbit.api.pagination import Page, PageInfo, edges_of, nested_page
from orbit.api.refs import AccountRef, BillingHoldRef, InvoiceRef, ProductRef
from orbit.db import models as db
from orbit.engine.calendar import ONE_DAY, add_months
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    ContractStatus,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.money import round_fraction
from orbit.engine.schedule import Line
from orbit.engine.terms import RecurringRate, annual_value
from orbit.services import holds as hold_service
from orbit.services.ids import encode
from orbit.services.schedules import schedule_ahead
from orbit.services.state import ScheduleEntry

MAX_YEARS_AHEAD = 10


def ahead_id(op_id: int, period_start: date) -> str:
    """The global ID of a schedule line not stored yet: ``ScheduleLine:<order product
    id>@<period start>``, stable while it stays unstored, and never resolved by ``node``
    (only a stored line's row id is)."""
    return encode("ScheduleLine", f"{op_id}@{period_start.isoformat()}")


def quantity_on(ops: Sequence[db.OrderProduct], line_id: int, on: date) -> int:
    return sum(
        op.quantity
        for op in ops
        if op.contract_line_id == line_id
        and op.start_date <= on
        and (op.end_date is None or on <= op.end_date)
    )


@strawberry.type
class ContractLine(Node):
    quantity: int = strawberry.field(
        description="Quantity in effect on the asOf date of the enclosing query (default today)."
    )
    unit_price: Decimal
    pricing_term_months: int
    billing_frequency: BillingFrequency
    billing_type: BillingType
    start_date: date
    end_date: date | None
    row: strawberry.Private[db.ContractLine]

    @classmethod
    def of(cls, row: db.ContractLine, quantity: int) -> ContractLine:
        return from_row(cls, row, quantity=quantity, unit_price=price(row.unit_price))

    @classmethod
    async def load(cls, info: Info, line_id: int, on: date | None = None) -> ContractLine | None:
        row = await info.context.loaders.contract_line.load(line_id)
        if row is None:
            return None
        ops = await info.context.loaders.activated_products_of_contract.load(row.contract_id)
        contract = await info.context.loaders.contract.load(row.contract_id)
        account = await info.context.loaders.account.load(contract.account_id) if contract else None
        when = on or clock.today(account.timezone if account else "UTC")
        return cls.of(row, quantity_on(ops, row.id, when))

    @strawberry.field
    async def product(self, info: Info) -> ProductRef:
        return await lookups.product(info, self.row.product_id)


@strawberry.type
class Contract(Node):
    status: ContractStatus
    start_date: date
    end_date: date | None = strawberry.field(
        description="Inclusive. Null for an evergreen contract."
    )
    term_months: int | None
    billing_day_of_month: int
    auto_renew: bool
    renewal_term_months: int | None
    renewal_uplift_percent: Decimal
    renewal_notice_days: int
    row: strawberry.Private[db.Contract]

    @classmethod
    def of(cls, row: db.Contract) -> Contract:
        return from_row(cls, row, renewal_uplift_percent=price(row.renewal_uplift_percent))

    @strawberry.field
    def number(self) -> str:
        return self.row.number

    @strawberry.field
    async def account(self, info: Info) -> AccountRef:
        return await lookups.account(info, self.row.account_id)

    @strawberry.field(
        description="The lines with their quantities in effect on asOf (default today)."
    )
    async def lines(self, info: Info, as_of: date | None = None) -> list[ContractLine]:
        rows = await info.context.loaders.lines_of_contract.load(self.row.id)
        ops = await info.context.loaders.activated_products_of_contract.load(self.row.id)
        account = await info.context.loaders.account.load(self.row.account_id)
        when = as_of or clock.today(account.timezone if account else "UTC")
        return [
            ContractLine.of(row, quantity_on(ops, row.id, when))
            for row in rows
            if not (row.cancelled and row.end_date is not None and row.end_date < when)
        ]

    @strawberry.field
    async def orders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> OrderConnection:
        loader = info.context.loaders.orders_of_contract
        return OrderConnection.of(await nested_page(loader, self.row.id, first, after))

    @strawberry.field
    async def renewal_of(self, info: Info) -> Contract | None:
        if self.row.renewal_of_id is None:
            return None
        row = await info.context.loaders.contract.load(self.row.renewal_of_id)
        return Contract.of(row) if row else None

    @strawberry.field
    async def renewed_by(self, info: Info) -> Contract | None:
        rows = await info.context.loaders.renewal_of.load(self.row.id)
        return Contract.of(rows[0]) if rows else None

    @strawberry.field(
        description="12 x the monthly rates of the recurring lines in effect on asOf "
        "(default today)."
    )
    async def annual_recurring_value(self, info: Info, as_of: date | None = None) -> Money:
        # as services.renewals.annual_recurring_value, from the request's loaders
        loaders = info.context.loaders
        account = await loaders.account.load(self.row.account_id)
        assert account is not None
        when = as_of or clock.today(account.timezone)
        lines = await loaders.lines_of_contract.load(self.row.id)
        ops = await loaders.activated_products_of_contract.load(self.row.id)
        rates = []
        for line in lines:
            quantity = quantity_on(ops, line.id, when)
            if line.charge_type is ChargeType.RECURRING and quantity != 0:
                rates.append(RecurringRate(quantity, line.unit_price, line.pricing_term_months))
        return Money.of(annual_value(rates, account.currency), account.currency)


@strawberry.type
class ContractEdge:
    cursor: str
    node: Contract


@strawberry.type
class ContractConnection:
    edges: list[ContractEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[db.Contract]) -> ContractConnection:
        return cls(edges=edges_of(page, ContractEdge, Contract.of), page_info=page.page_info)


@strawberry.type
class Order(Node):
    type: db.OrderType
    status: db.OrderStatus
    effective_date: date
    purchase_order_number: str | None
    row: strawberry.Private[db.Order]

    @classmethod
    def of(cls, row: db.Order) -> Order:
        return from_row(cls, row)

    @strawberry.field
    def number(self) -> str:
        return self.row.number

    @strawberry.field
    async def account(self, info: Info) -> AccountRef:
        return await lookups.account(info, self.row.account_id)

    @strawberry.field
    async def contract(self, info: Info) -> Contract:
        row = await info.context.loaders.contract.load(self.row.contract_id)
        assert row is not None
        return Contract.of(row)

    @strawberry.field
    async def products(self, info: Info) -> list[OrderProduct]:
        rows = await info.context.loaders.products_of_order.load(self.row.id)
        return [OrderProduct.of(row) for row in rows]

    @strawberry.field
    async def holds(self, info: Info, active_only: bool = True) -> list[BillingHoldRef]:
        from orbit.api.billing.types import BillingHold

        account = await info.context.loaders.account.load(self.row.account_id)
        today = clock.today(account.timezone if account else "UTC")
        rows = await info.context.loaders.holds_of_account.load(self.row.account_id)
        return [
            BillingHold.of(row, today)
            for row in rows
            if row.order_id == self.row.id
            and (not active_only or hold_service.is_active(row, today))
        ]


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[db.Order]) -> OrderConnection:
        return cls(edges=edges_of(page, OrderEdge, Order.of), page_info=page.page_info)


@strawberry.type(
    description="The billable unit: one product's quantity (or quantity change) over a date "
    "range, with its stored schedule."
)
class OrderProduct(Node):
    quantity: int = strawberry.field(description="Negative for a reduction.")
    unit_price: Decimal
    start_date: date
    end_date: date | None = strawberry.field(
        description="Null for evergreen; set by a termination."
    )
    billing_frequency: BillingFrequency
    billing_type: BillingType
    billing_day_of_month: int
    proration_policy: ProrationPolicy
    partial_period_treatment: PartialPeriodTreatment
    align_billing: bool = strawberry.field(
        description="Whether it bills on its contract's billing dates (amendments may opt out)."
    )
    next_billing_date_override: date | None
    bill_through_date_override: date | None
    row: strawberry.Private[db.OrderProduct]

    @classmethod
    def of(cls, row: db.OrderProduct) -> OrderProduct:
        return from_row(
            cls,
            row,
            unit_price=price(row.unit_price),
            bill_through_date_override=row.bill_through_override,
        )

    async def _entries(self, info: Info) -> list[ScheduleEntry]:
        return await info.context.loaders.schedule.load(self.row.id)

    @strawberry.field
    async def order(self, info: Info) -> Order:
        row = await info.context.loaders.order.load(self.row.order_id)
        assert row is not None
        return Order.of(row)

    @strawberry.field
    async def contract_line(self, info: Info) -> ContractLine:
        line = await ContractLine.load(info, self.row.contract_line_id)
        assert line is not None
        return line

    @strawberry.field
    async def product(self, info: Info) -> ProductRef:
        return await lookups.product(info, self.row.product_id)

    @strawberry.field(
        description="Effective due date of the next unbilled line, overrides included; null "
        "when fully billed."
    )
    async def next_billing_date(self, info: Info) -> date | None:
        summary = await info.context.loaders.billing_summary.load(self.row.id)
        return summary.next_due if summary else None

    @strawberry.field(description="End date of the last billed line.")
    async def billed_through_date(self, info: Info) -> date | None:
        summary = await info.context.loaders.billing_summary.load(self.row.id)
        return summary.billed_through if summary else None

    @strawberry.field
    async def on_hold(self, info: Info) -> bool:
        account = await info.context.loaders.account.load(self.row.account_id)
        today = clock.today(account.timezone if account else "UTC")
        rows = await info.context.loaders.holds_of_account.load(self.row.account_id)
        active = [r for r in rows if hold_service.is_active(r, today)]
        return hold_service.holds_order_product(active, self.row)

    @strawberry.field(description="Sum of the whole schedule; null for evergreen.")
    def total_amount(self) -> Money | None:
        if self.row.total_amount is None:
            return None
        return Money.of(self.row.total_amount, self.row.currency)

    @strawberry.field
    async def billed_amount(self, info: Info) -> Money:
        summary = await info.context.loaders.billing_summary.load(self.row.id)
        return Money.of(summary.billed_amount if summary else Decimal(0), self.row.currency)

    @strawberry.field(
        description="The stored schedule; evergreen schedules through the given date "
        "(default: one year ahead)."
    )
    async def schedule(self, info: Info, through: date | None = None) -> list[ScheduleLine]:
        entries = await self._entries(info)
        if self.row.end_date is not None or self.row.scheduled_through is None:
            return [ScheduleLine.of(e, self.row.currency) for e in entries]
        account = await info.context.loaders.account.load(self.row.account_id)
        today = clock.today(account.timezone if account else "UTC")
        through = through or add_months(today, 12) - ONE_DAY
        if through > add_months(today, 12 * MAX_YEARS_AHEAD):
            raise BadInput(f"through may be at most {MAX_YEARS_AHEAD} years ahead")
        # beyond the stored horizon the lines are computed here, never stored: a read
        # writes nothing
        ahead = schedule_ahead(
            self.row,
            [e.row for e in entries],
            {e.row.id for e in entries if e.billed},
            through,
        )
        lines = [
            ScheduleLine.of(e, self.row.currency) for e in entries if e.row.period_start <= through
        ]
        lines += [ScheduleLine.ahead(self.row, line, due) for line, due in ahead]
        return lines


@strawberry.type
class ScheduleLine(Node):
    period_start: date
    period_end: date
    due_date: date = strawberry.field(
        description="Effective due date (section 4 of the billing rules), overrides included."
    )
    fraction: Decimal = strawberry.field(
        description="Exact value / (monthly rate x frequency months), half-up to 10 places; "
        "negative on credit lines."
    )
    amount: Money
    is_credit: bool = strawberry.field(description="True for a credit line from a termination.")
    invoiced: bool
    invoice_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, entry: ScheduleEntry, currency: str) -> ScheduleLine:
        row = entry.row
        # a row not stored (an invoice preview beyond the stored horizon) has no row id
        line_id = (
            gid("ScheduleLine", row.id)
            if row.id is not None
            else ahead_id(row.order_product_id, row.period_start)
        )
        return cls(
            id=strawberry.ID(line_id),
            period_start=row.period_start,
            period_end=row.period_end,
            due_date=entry.effective_due,
            fraction=round_fraction(Fraction(row.fraction)),
            amount=Money.of(row.amount, currency),
            is_credit=row.is_credit,
            invoiced=entry.billed,
            invoice_id=entry.invoice_id,
        )

    @classmethod
    def ahead(cls, op: db.OrderProduct, line: Line, effective_due: date) -> ScheduleLine:
        """A line of an evergreen schedule beyond its stored horizon: computed, not stored
        (unbilled, and with an ID that no query resolves; see docs/api.md)."""
        return cls(
            id=strawberry.ID(ahead_id(op.id, line.start)),
            period_start=line.start,
            period_end=line.end,
            due_date=effective_due,
            fraction=round_fraction(line.fraction),
            amount=Money.of(line.amount, op.currency),
            is_credit=line.is_credit,
            invoiced=False,
            invoice_id=None,
        )

    @classmethod
    async def load(cls, info: Info, line_id: int) -> ScheduleLine | None:
        row = await info.context.loaders.schedule_line.load(line_id)
        if row is None:
            return None
        op = await info.context.loaders.order_product.load(row.order_product_id)
        assert op is not None
        for entry in await info.context.loaders.schedule.load(op.id):
            if entry.row.id == line_id:
                return cls.of(entry, op.currency)
        # a line removed by a termination or re-cut: shown as it was, unbilled
        return cls.of(ScheduleEntry(row, row.due_date, None), op.currency)

    @strawberry.field(description="The run document that bills this line now, if any.")
    async def invoice(self, info: Info) -> InvoiceRef | None:
        from orbit.api.billing.types import Invoice

        if self.invoice_id is None:
            return None
        row = await info.context.loaders.invoice.load(self.invoice_id)
        return Invoice.of(row) if row else None

"""Contracts, their lines, orders, order products and stored schedules, and holds."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from orbit.db.models._fields import amount as money
from orbit.db.models._fields import price, rational
from orbit.db.models.accounts import Account, Product
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    ContractStatus,
    HoldScope,
    HoldSource,
    PartialPeriodTreatment,
    ProrationPolicy,
)


class OrderType(str, Enum):
    NEW = "NEW"
    AMENDMENT = "AMENDMENT"
    RENEWAL = "RENEWAL"


class OrderStatus(str, Enum):
    DRAFT = "DRAFT"
    ACTIVATED = "ACTIVATED"
    CANCELLED = "CANCELLED"


class Contract(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="contracts", on_delete=fields.RESTRICT, db_index=True
    )
    status = fields.CharEnumField(ContractStatus, max_length=16)
    start_date = fields.DateField()
    end_date = fields.DateField(null=True)
    term_months = fields.SmallIntField(null=True)
    anniversary_day = fields.SmallIntField(null=True)
    billing_day_of_month = fields.SmallIntField()
    #: first date of the contract's billing series (moves with a change of billing day)
    series_anchor = fields.DateField()
    auto_renew = fields.BooleanField(default=False)
    renewal_term_months = fields.SmallIntField(null=True)
    renewal_uplift_percent = price(default=0)
    renewal_notice_days = fields.IntField(default=60)
    #: end_date - renewal_notice_days, kept for the renewals index
    notice_deadline = fields.DateField(null=True)
    renewal_of: fields.ForeignKeyNullableRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="renewals", null=True, on_delete=fields.RESTRICT
    )
    #: the account's owner, copied so upcoming renewals by owner are index-backed
    owner_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int
    renewal_of_id: int | None

    class Meta:
        table = "contracts"
        indexes = (
            Index(fields=("status", "end_date"), name="contracts_status_end"),
            Index(fields=("status", "notice_deadline"), name="contracts_status_notice"),
            Index(fields=("owner_id", "status", "end_date"), name="contracts_owner_end"),
            Index(fields=("owner_id", "status", "notice_deadline"), name="contracts_owner_notice"),
        )

    @property
    def number(self) -> str:
        return f"CTR-{self.id:06d}"


class ContractLine(Model):
    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="lines", on_delete=fields.RESTRICT, db_index=True
    )
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name=None, on_delete=fields.RESTRICT
    )
    charge_type = fields.CharEnumField(ChargeType, max_length=16)
    unit_price = price()
    pricing_term_months = fields.SmallIntField()
    billing_frequency = fields.CharEnumField(BillingFrequency, max_length=16)
    billing_type = fields.CharEnumField(BillingType, max_length=16)
    start_date = fields.DateField()
    end_date = fields.DateField(null=True)
    cancelled = fields.BooleanField(default=False)

    contract_id: int
    product_id: int

    class Meta:
        table = "contract_lines"


class Order(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="orders", on_delete=fields.RESTRICT, db_index=True
    )
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="orders", on_delete=fields.RESTRICT, db_index=True
    )
    type = fields.CharEnumField(OrderType, max_length=16)
    status = fields.CharEnumField(OrderStatus, max_length=16)
    effective_date = fields.DateField()
    purchase_order_number = fields.CharField(max_length=100, null=True)
    align_billing = fields.BooleanField(default=True)
    activated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int
    contract_id: int

    class Meta:
        table = "orders"

    @property
    def number(self) -> str:
        return f"ORD-{self.id:06d}"


class OrderProduct(Model):
    """The billable unit. Its billing settings are copied here at activation."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="products", on_delete=fields.RESTRICT, db_index=True
    )
    contract_line: fields.ForeignKeyRelation[ContractLine] = fields.ForeignKeyField(
        "models.ContractLine",
        related_name="order_products",
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    account_id = fields.IntField(db_index=True)
    contract_id = fields.IntField(db_index=True)
    product_id = fields.IntField()
    currency = fields.CharField(max_length=3)
    charge_type = fields.CharEnumField(ChargeType, max_length=16)
    quantity = fields.IntField()
    unit_price = price()
    pricing_term_months = fields.SmallIntField()
    billing_frequency = fields.CharEnumField(BillingFrequency, max_length=16)
    billing_type = fields.CharEnumField(BillingType, max_length=16)
    start_date = fields.DateField()
    end_date = fields.DateField(null=True)
    billing_day_of_month = fields.SmallIntField()
    series_anchor = fields.DateField()
    proration_policy = fields.CharEnumField(ProrationPolicy, max_length=32)
    partial_period_treatment = fields.CharEnumField(PartialPeriodTreatment, max_length=16)
    align_billing = fields.BooleanField(default=True)
    #: a one-time override of the due date of one line (bound to that line)
    next_billing_date_override = fields.DateField(null=True)
    override_line_id = fields.BigIntField(null=True)
    #: where a bill-through override cut the first unbilled line
    bill_through_override = fields.DateField(null=True)
    #: evergreen order products store their schedule through this date
    scheduled_through = fields.DateField(null=True)
    #: fixed at activation; null for evergreen
    total_amount: Decimal | None = money(null=True)

    order_id: int
    contract_line_id: int

    class Meta:
        table = "order_products"


class ScheduleLine(Model):
    """One stored line of an order product's schedule."""

    id = fields.BigIntField(primary_key=True)
    order_product: fields.ForeignKeyRelation[OrderProduct] = fields.ForeignKeyField(
        "models.OrderProduct", related_name="schedule_lines", on_delete=fields.RESTRICT
    )
    account_id = fields.IntField()
    period_start = fields.DateField()
    period_end = fields.DateField()
    #: the line's own due date; the effective one also depends on overrides and billing
    due_date = fields.DateField()
    amount = money()
    value = rational()
    fraction = rational()
    #: JSON list of period parts, when the line is not one simple part
    parts = fields.TextField(null=True)
    is_credit = fields.BooleanField(default=False)
    #: removed by a termination or replaced by a re-cut; kept for the documents
    #: that once billed it
    removed = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    order_product_id: int

    class Meta:
        table = "schedule_lines"
        indexes = (
            Index(fields=("order_product_id", "period_start"), name="schedule_lines_op"),
            Index(fields=("account_id", "period_start"), name="schedule_lines_account_start"),
        )


class BillingHold(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="holds", on_delete=fields.RESTRICT
    )
    scope = fields.CharEnumField(HoldScope, max_length=16)
    source = fields.CharEnumField(HoldSource, max_length=24)
    reason = fields.CharField(max_length=500)
    contract_id = fields.IntField(null=True)
    order_id = fields.IntField(null=True, db_index=True)
    order_product_id = fields.IntField(null=True)
    placed_at = fields.DatetimeField(auto_now_add=True)
    release_on = fields.DateField(null=True)
    released_at = fields.DatetimeField(null=True)

    account_id: int

    class Meta:
        table = "billing_holds"
        indexes = (Index(fields=("account_id", "released_at"), name="billing_holds_account"),)


class HoldRules(Model):
    """The single row of hold-rule settings."""

    id = fields.IntField(primary_key=True)
    overdue_days = fields.IntField(null=True)

    class Meta:
        table = "hold_rules"

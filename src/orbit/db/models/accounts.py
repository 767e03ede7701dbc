"""Accounts and the product catalog."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from orbit.db.models._fields import price
from orbit.db.models.access import User
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    PartialPeriodTreatment,
    ProrationPolicy,
)


class Account(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    currency = fields.CharField(max_length=3)
    billing_day_of_month = fields.SmallIntField(null=True)
    payment_term_days = fields.IntField(default=30)
    timezone = fields.CharField(max_length=64, default="UTC")
    proration_policy = fields.CharEnumField(ProrationPolicy, max_length=32)
    partial_period_treatment = fields.CharEnumField(PartialPeriodTreatment, max_length=16)
    requires_purchase_order = fields.BooleanField(default=False)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="owned_accounts",
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    owner_id: int | None

    class Meta:
        table = "accounts"


class Product(Model):
    id = fields.IntField(primary_key=True)
    sku = fields.CharField(max_length=100, unique=True)
    name = fields.CharField(max_length=200)
    charge_type = fields.CharEnumField(ChargeType, max_length=16)
    billing_frequency = fields.CharEnumField(BillingFrequency, max_length=16)
    billing_type = fields.CharEnumField(BillingType, max_length=16)
    list_price = price()
    pricing_term_months = fields.SmallIntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "products"

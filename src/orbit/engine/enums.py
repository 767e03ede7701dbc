"""The vocabulary of billing, shared by every layer (values match the API)."""

from __future__ import annotations

from enum import Enum


class BillingFrequency(str, Enum):
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    SEMIANNUAL = "SEMIANNUAL"
    ANNUAL = "ANNUAL"

    @property
    def months(self) -> int:
        return _MONTHS[self]


_MONTHS = {
    BillingFrequency.MONTHLY: 1,
    BillingFrequency.QUARTERLY: 3,
    BillingFrequency.SEMIANNUAL: 6,
    BillingFrequency.ANNUAL: 12,
}


class BillingType(str, Enum):
    ADVANCE = "ADVANCE"
    ARREARS = "ARREARS"


class ChargeType(str, Enum):
    ONE_TIME = "ONE_TIME"
    RECURRING = "RECURRING"


class ProrationPolicy(str, Enum):
    ACTUAL_DAYS = "ACTUAL_DAYS"
    MONTHLY_PLUS_DAILY = "MONTHLY_PLUS_DAILY"
    CALENDAR_MONTHLY_PLUS_DAILY = "CALENDAR_MONTHLY_PLUS_DAILY"


class PartialPeriodTreatment(str, Enum):
    SEPARATE = "SEPARATE"
    COMBINE = "COMBINE"


class ContractStatus(str, Enum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    RENEWED = "RENEWED"


class DocumentType(str, Enum):
    INVOICE = "INVOICE"
    CREDIT_NOTE = "CREDIT_NOTE"


class HoldScope(str, Enum):
    ACCOUNT = "ACCOUNT"
    CONTRACT = "CONTRACT"
    ORDER = "ORDER"
    ORDER_PRODUCT = "ORDER_PRODUCT"


class HoldSource(str, Enum):
    MANUAL = "MANUAL"
    OVERDUE_RULE = "OVERDUE_RULE"
    PURCHASE_ORDER_RULE = "PURCHASE_ORDER_RULE"

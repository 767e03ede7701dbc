"""The data model. One module per aggregate; everything is re-exported here."""

from orbit.db.models.access import ApiToken, AuditEvent, IdempotencyKey, Role, User
from orbit.db.models.accounts import Account, Product
from orbit.db.models.billing import (
    Application,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceRunAccount,
    InvoiceRunStatus,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    RunAccountStatus,
)
from orbit.db.models.contracts import (
    BillingHold,
    Contract,
    ContractLine,
    HoldRules,
    Order,
    OrderProduct,
    OrderStatus,
    OrderType,
    ScheduleLine,
)
from orbit.engine.enums import DocumentType, HoldScope, HoldSource

__all__ = [
    "Account",
    "ApiToken",
    "Application",
    "AuditEvent",
    "BillingHold",
    "Contract",
    "ContractLine",
    "DocumentSequence",
    "DocumentType",
    "HoldRules",
    "HoldScope",
    "HoldSource",
    "IdempotencyKey",
    "Invoice",
    "InvoiceLine",
    "InvoiceRun",
    "InvoiceRunAccount",
    "InvoiceRunStatus",
    "InvoiceStatus",
    "Order",
    "OrderProduct",
    "OrderStatus",
    "OrderType",
    "Payment",
    "PaymentStatus",
    "Product",
    "Role",
    "RunAccountStatus",
    "ScheduleLine",
    "User",
]

"""Lazy references between the domain packages' types (they refer to each other)."""

from __future__ import annotations

from typing import Annotated

import strawberry

_A = "orbit.api.accounts.types"
_C = "orbit.api.contracts.types"
_B = "orbit.api.billing.types"
_R = "orbit.api.receivables.types"

AccountRef = Annotated["Account", strawberry.lazy(_A)]
UserRef = Annotated["User", strawberry.lazy(_A)]
ProductRef = Annotated["Product", strawberry.lazy(_A)]
ContractRef = Annotated["Contract", strawberry.lazy(_C)]
ContractConnectionRef = Annotated["ContractConnection", strawberry.lazy(_C)]
ContractLineRef = Annotated["ContractLine", strawberry.lazy(_C)]
OrderRef = Annotated["Order", strawberry.lazy(_C)]
OrderConnectionRef = Annotated["OrderConnection", strawberry.lazy(_C)]
OrderProductRef = Annotated["OrderProduct", strawberry.lazy(_C)]
ScheduleLineRef = Annotated["ScheduleLine", strawberry.lazy(_C)]
InvoiceRef = Annotated["Invoice", strawberry.lazy(_B)]
InvoiceConnectionRef = Annotated["InvoiceConnection", strawberry.lazy(_B)]
InvoiceRunRef = Annotated["InvoiceRun", strawberry.lazy(_B)]
InvoicePreviewRef = Annotated["InvoicePreview", strawberry.lazy(_B)]
BillingHoldRef = Annotated["BillingHold", strawberry.lazy(_B)]
PaymentRef = Annotated["Payment", strawberry.lazy(_R)]
PaymentConnectionRef = Annotated["PaymentConnection", strawberry.lazy(_R)]
ApplicationRef = Annotated["Application", strawberry.lazy(_R)]

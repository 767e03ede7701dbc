"""Types every domain uses: Node, Money, UserError and the enums."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, TypeVar

import strawberry

from orbit.db.models import (
    DocumentType,
    HoldScope,
    HoldSource,
    InvoiceRunStatus,
    InvoiceStatus,
    OrderStatus,
    OrderType,
    PaymentStatus,
    Role,
)
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    ContractStatus,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.errors import Code, Problem
from orbit.engine.money import quantize
from orbit.services.ids import global_id
from orbit.services.renewals import RenewalWindow

T = TypeVar("T")

for _enum in (
    BillingFrequency,
    BillingType,
    ChargeType,
    ContractStatus,
    PartialPeriodTreatment,
    ProrationPolicy,
    DocumentType,
    HoldScope,
    HoldSource,
    InvoiceRunStatus,
    InvoiceStatus,
    OrderStatus,
    OrderType,
    PaymentStatus,
    Role,
    RenewalWindow,
):
    strawberry.enum(_enum)

ErrorCode = strawberry.enum(Code, name="ErrorCode")


@strawberry.interface(description="An object with a global, opaque ID.")
class Node:
    id: strawberry.ID


@strawberry.type(description="An amount in a currency, rounded to its minor unit.")
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        return cls(amount=quantize(amount, currency), currency=currency)


@strawberry.type(description="Why a mutation did not do what was asked; nothing was written.")
class UserError:
    code: Code
    field: list[str] | None
    message: str

    @classmethod
    def of(cls, problem: Problem) -> UserError:
        return cls(
            code=problem.code,
            field=list(problem.field) if problem.field else None,
            message=problem.message,
        )


def price(value: Decimal) -> Decimal:
    """A unit price shown with at least two decimals and no trailing noise."""
    two = value.quantize(Decimal("0.01"))
    return two if two == value else value.normalize()


def from_row(cls: type[T], row: Any, **given: Any) -> T:
    """A GraphQL object from its row: ``id`` is the row's global ID, ``row`` the row,
    every other field the row's attribute of the same name unless ``given``."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not field.init:
            continue
        if field.name in given:
            values[field.name] = given[field.name]
        elif field.name == "id":
            values["id"] = strawberry.ID(global_id(row))
        elif field.name == "row":
            values["row"] = row
        else:
            values[field.name] = getattr(row, field.name)
    return cls(**values)


def user_errors(problems: list[Problem]) -> list[UserError]:
    return [UserError.of(p) for p in problems]

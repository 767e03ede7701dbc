"""The spec's test vectors (data/schedules.json, a copy of spec/vectors/).

A ``new`` vector is an order product over the whole contract on the
contract's series. An ``amendment`` vector is the delta of an aligned
quantity change, planned here through ``plan_amendment`` on a one-line
contract so that the planner is exercised too.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from orbit.engine.amendments import Change, plan_amendment
from orbit.engine.enums import BillingFrequency, BillingType
from orbit.engine.money import minor_units
from orbit.engine.schedule import Alignment, Line, build_schedule
from tests.engine.support import (
    contract,
    day,
    effective_dues,
    load_vectors,
    product,
    stored,
    terms,
    with_line,
)

VECTORS = load_vectors()
AMENDMENTS = [v for v in VECTORS if v["kind"] == "amendment"]


def by_id(vector: dict) -> str:
    return vector["id"]


def contract_of(vector: dict):
    given = vector["input"]
    state = contract(
        given["contractStart"],
        given["contractEnd"],
        bdom=given["billingDayOfMonth"],
        currency=given["currency"],
        policy=given["prorationPolicy"],
        treatment=given["partialPeriodTreatment"],
    )
    item = product(
        price=given["unitPrice"],
        pricing_term=given["pricingTermMonths"],
        frequency=BillingFrequency(given["billingFrequency"]),
        billing=BillingType(given["billingType"]),
    )
    return with_line(state, "line", item, given["quantity"])


def original_terms(vector: dict):
    given = vector["input"]
    return terms(
        given["contractStart"],
        given["contractEnd"],
        bdom=given["billingDayOfMonth"],
        quantity=given["quantity"],
        price=given["unitPrice"],
        pricing_term=given["pricingTermMonths"],
        frequency=given["billingFrequency"],
        billing=given["billingType"],
        policy=given["prorationPolicy"],
        treatment=given["partialPeriodTreatment"],
        currency=given["currency"],
    )


def planned_delta(vector: dict):
    change = vector["input"]["amendment"]
    assert change["alignBilling"] is True
    plan = plan_amendment(
        contract_of(vector),
        [Change(change["newQuantity"], line="line")],
        day(change["effectiveDate"]),
    )
    (delta,) = plan.deltas
    assert plan.terminations == ()
    return delta


def schedule_of(vector: dict) -> list[Line]:
    if vector["kind"] == "new":
        return build_schedule(original_terms(vector))
    return list(planned_delta(vector).schedule)


def observed(lines: list[Line]) -> list[tuple]:
    due = effective_dues(stored(lines))
    return [
        (line.start, line.end, effective, line.fraction, line.amount)
        for line, effective in zip(lines, due, strict=True)
    ]


def expected(vector: dict) -> list[tuple]:
    return [
        (
            date.fromisoformat(line["periodStart"]),
            date.fromisoformat(line["periodEnd"]),
            date.fromisoformat(line["dueDate"]),
            Fraction(line["fraction"]),
            Decimal(line["amount"]),
        )
        for line in vector["lines"]
    ]


def test_the_vectors_file_holds_all_240_vectors_once() -> None:
    ids = [v["id"] for v in VECTORS]
    assert len(ids) == 240
    assert len(set(ids)) == 240
    assert {v["kind"] for v in VECTORS} == {"new", "amendment"}


@pytest.mark.parametrize("vector", VECTORS, ids=by_id)
def test_schedule_matches_vector(vector: dict) -> None:
    lines = schedule_of(vector)

    assert observed(lines) == expected(vector)
    digits = minor_units(vector["input"]["currency"])
    assert all(line.amount.as_tuple().exponent == -digits for line in lines)


@pytest.mark.parametrize("vector", AMENDMENTS, ids=by_id)
def test_amendment_vector_delta_is_the_aligned_quantity_change(vector: dict) -> None:
    """The planner's delta is exactly the vector's definition: quantity new - old
    from the effective date to the contract end, aligned on the contract."""
    given = vector["input"]
    change = given["amendment"]
    delta = planned_delta(vector)
    by_definition = replace(
        original_terms(vector),
        start=day(change["effectiveDate"]),
        quantity=change["newQuantity"] - given["quantity"],
        alignment=Alignment(given["billingDayOfMonth"], day(given["contractEnd"])),
    )

    assert delta.quantity_before == given["quantity"]
    assert delta.quantity_delta == change["newQuantity"] - given["quantity"]
    assert delta.terms == by_definition
    assert delta.total == sum(Decimal(line["amount"]) for line in vector["lines"])

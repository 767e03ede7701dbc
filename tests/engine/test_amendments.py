"""Amendments: quantity changes, new products, cancellations and swaps, their
validation and their totals (spec section 5)."""

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest

from orbit.engine.amendments import (
    Change,
    default_through,
    plan_amendment,
    plan_cancellation,
)
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ContractStatus,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.errors import Code, EngineError
from orbit.engine.series import BillingSeries
from tests.engine.support import (
    amounts,
    apply,
    calendar_months,
    contract,
    day,
    dues,
    fractions,
    lifetime,
    product,
    run,
    spans,
    total,
    with_line,
)

SEATS = product("seats", price="10.00")
SUPPORT = product("support", price="30.00", frequency=BillingFrequency.QUARTERLY)
SETUP = product("setup", price="500.00", one_time=True)


def seats_contract(**kwargs):
    """2026 on day 1 with 5 seats at 10.00 a month (50.00)."""
    state = contract("2026-01-01", "2026-12-31", bdom=1, **kwargs)
    return with_line(state, "seats", SEATS, 5)


def amend(state, *changes: Change, on: str, **kwargs):
    return plan_amendment(state, list(changes), day(on), **kwargs)


# --- validation ---------------------------------------------------------------


@pytest.fixture
def busy_contract():
    """The seats contract, plus a one-time setup line and a cancelled line, with
    an amendment already effective 2026-03-01."""
    state = seats_contract(latest_amendment="2026-03-01")
    state = with_line(state, "setup", SETUP, 1)
    return with_line(state, "old", product("old", price="20.00"), 2, cancelled=True)


def rejected(name: str, changes, code: Code, *field: str, on: str = "2026-04-15"):
    return pytest.param(changes, on, code, field, id=name)


INVALID, NOT_FOUND = Code.INVALID, Code.NOT_FOUND
FIRST, SECOND = ("changes", "0"), ("changes", "1")
LINE_ID = "contractLineId"

REJECTIONS = [
    rejected("negative-quantity", [Change(-1, line="seats")], INVALID, *FIRST, "quantity"),
    rejected("new-product-quantity-0", [Change(0, product=SUPPORT)], INVALID, *FIRST, "quantity"),
    rejected(
        "unit-price-on-a-line",
        [Change(6, line="seats", unit_price=Decimal("9.00"))],
        INVALID,
        *FIRST,
        "unitPrice",
    ),
    rejected(
        "frequency-on-a-line",
        [Change(6, line="seats", frequency=BillingFrequency.ANNUAL)],
        INVALID,
        *FIRST,
        "billingFrequency",
    ),
    rejected(
        "billing-type-on-a-line",
        [Change(6, line="seats", billing_type=BillingType.ARREARS)],
        INVALID,
        *FIRST,
        "billingType",
    ),
    rejected("unchanged-quantity", [Change(5, line="seats")], INVALID, *FIRST, "quantity"),
    rejected("one-time-line", [Change(2, line="setup")], INVALID, *FIRST, LINE_ID),
    rejected("cancelled-line", [Change(3, line="old")], INVALID, *FIRST, LINE_ID),
    rejected(
        "line-named-twice",
        [Change(6, line="seats"), Change(7, line="seats")],
        INVALID,
        *SECOND,
        LINE_ID,
    ),
    rejected("unknown-line", [Change(1, line="nope")], NOT_FOUND, *FIRST, LINE_ID),
    rejected("neither-line-nor-product", [Change(1)], INVALID, *FIRST),
    rejected("both-line-and-product", [Change(1, line="seats", product=SUPPORT)], INVALID, *FIRST),
    rejected(
        "negative-price",
        [Change(1, product=SUPPORT, unit_price=Decimal("-1.00"))],
        INVALID,
        *FIRST,
        "unitPrice",
    ),
    rejected("no-changes", [], INVALID, "changes"),
    rejected(
        "before-the-start",
        [Change(6, line="seats")],
        Code.OUT_OF_RANGE,
        "effectiveDate",
        on="2025-12-31",
    ),
    rejected(
        "after-the-end",
        [Change(6, line="seats")],
        Code.OUT_OF_RANGE,
        "effectiveDate",
        on="2027-01-01",
    ),
    rejected(
        "before-the-latest-amendment",
        [Change(6, line="seats")],
        Code.CONFLICT,
        "effectiveDate",
        on="2026-02-28",
    ),
]


@pytest.mark.parametrize(("changes", "effective", "code", "field"), REJECTIONS)
def test_amendments_are_rejected(busy_contract, changes, effective, code, field) -> None:
    with pytest.raises(EngineError) as raised:
        plan_amendment(busy_contract, changes, day(effective))

    assert [(p.code, p.field) for p in raised.value.problems] == [(code, field)]


@pytest.mark.parametrize(
    "status",
    [
        ContractStatus.DRAFT,
        ContractStatus.EXPIRED,
        ContractStatus.CANCELLED,
        ContractStatus.RENEWED,
    ],
)
def test_only_an_active_contract_can_change(status: ContractStatus) -> None:
    state = seats_contract(status=status)

    for plan in (
        lambda: amend(state, Change(6, line="seats"), on="2026-04-15"),
        lambda: plan_cancellation(state, day("2026-04-15")),
    ):
        with pytest.raises(EngineError) as raised:
            plan()
        assert raised.value.code is Code.INVALID_STATE


def test_every_problem_of_an_amendment_is_reported_at_once(busy_contract) -> None:
    with pytest.raises(EngineError) as raised:
        amend(busy_contract, Change(-1, line="seats"), Change(1, line="nope"), on="2026-04-15")

    assert [p.code for p in raised.value.problems] == [Code.INVALID, Code.NOT_FOUND]


def test_an_amendment_may_share_the_latest_amendments_date(busy_contract) -> None:
    plan = amend(busy_contract, Change(6, line="seats"), on="2026-03-01")

    assert plan.effective == day("2026-03-01")


def test_a_cancellation_is_checked_against_the_contract_dates() -> None:
    with pytest.raises(EngineError) as raised:
        plan_cancellation(seats_contract(), day("2027-01-01"))

    assert raised.value.code is Code.OUT_OF_RANGE


# --- quantity changes ---------------------------------------------------------


def test_a_reduction_is_a_negative_delta_coterming_with_the_contract() -> None:
    """5 -> 2 seats from 04-15: -3 x 10.00; 16/30 of April is -16.00, due on the
    next billing date, then -30.00 a month to December."""
    plan = amend(seats_contract(), Change(2, line="seats"), on="2026-04-15")

    (delta,) = plan.deltas
    assert (delta.quantity_before, delta.quantity_after, delta.quantity_delta) == (5, 2, -3)
    assert delta.terms.end == day("2026-12-31")
    assert spans(delta.schedule) == [("2026-04-15", "2026-04-30"), *calendar_months("2026-05", 8)]
    assert fractions(delta.schedule) == [Fraction(16, 30), *[1] * 8]
    assert amounts(delta.schedule) == ["-16.00", *["-30.00"] * 8]
    assert dues(delta.schedule)[:2] == ["2026-05-01", "2026-05-01"]
    assert plan.total == delta.total == Decimal("-256.00")


def test_a_delta_uses_the_line_price_and_the_contract_policy() -> None:
    state = contract(
        "2026-01-01",
        "2026-12-31",
        bdom=1,
        policy=ProrationPolicy.MONTHLY_PLUS_DAILY,
        treatment=PartialPeriodTreatment.COMBINE,
    )
    state = with_line(state, "seats", SEATS, 5, price="8.00")

    (delta,) = amend(state, Change(6, line="seats"), on="2026-04-15").deltas

    assert delta.terms.unit_price == Decimal("8.00")
    assert delta.terms.policy is ProrationPolicy.MONTHLY_PLUS_DAILY
    # 04-15..05-31 combined: 16 days * 12/365 + 1
    assert delta.schedule[0].fraction == Fraction(192, 365) + 1
    assert spans(delta.schedule)[0] == ("2026-04-15", "2026-05-31")


def test_the_quantity_before_counts_earlier_deltas() -> None:
    state = apply(
        seats_contract(), amend(seats_contract(), Change(8, line="seats"), on="2026-03-01")
    )

    (delta,) = amend(state, Change(6, line="seats"), on="2026-05-01").deltas

    assert delta.quantity_before == 8
    assert delta.quantity_delta == -2
    assert state.line("seats").quantity_on(day("2026-02-28")) == 5


# --- new products -------------------------------------------------------------


def test_a_new_product_is_a_new_line_at_list_price() -> None:
    """Quarterly support on the contract's quarterly series (Jan, Apr, Jul, Oct):
    04-15..06-30 is 77/91 of 90.00 = 76.15, due on the next billing date 05-01
    whatever the frequency."""
    plan = amend(seats_contract(), Change(1, product=SUPPORT), on="2026-04-15")

    (delta,) = plan.deltas
    assert delta.line is None and delta.quantity_before == 0
    assert delta.terms.series == BillingSeries(1, day("2026-01-01"), 3)
    assert spans(delta.schedule) == [
        ("2026-04-15", "2026-06-30"),
        ("2026-07-01", "2026-09-30"),
        ("2026-10-01", "2026-12-31"),
    ]
    assert amounts(delta.schedule) == ["76.15", "90.00", "90.00"]
    assert dues(delta.schedule) == ["2026-05-01", "2026-07-01", "2026-10-01"]
    assert plan.total == Decimal("256.15")


def test_a_new_product_may_set_its_price_frequency_and_billing_type() -> None:
    change = Change(
        2,
        product=SUPPORT,
        unit_price=Decimal("25.00"),
        frequency=BillingFrequency.MONTHLY,
        billing_type=BillingType.ARREARS,
    )

    (delta,) = amend(seats_contract(), change, on="2026-04-15").deltas

    assert delta.terms.unit_price == Decimal("25.00")
    assert delta.terms.frequency is BillingFrequency.MONTHLY
    assert amounts(delta.schedule)[:2] == ["26.67", "50.00"]
    assert dues(delta.schedule)[:2] == ["2026-05-01", "2026-06-01"]


def test_a_product_already_on_the_contract_gets_a_new_line() -> None:
    plan = amend(seats_contract(), Change(2, product=SEATS), on="2026-04-15")

    (delta,) = plan.deltas
    assert delta.line is None
    assert apply(seats_contract(), plan).line("seats").quantity_on(day("2026-05-01")) == 5


@pytest.mark.parametrize(
    ("effective", "due"),
    [
        ("2026-04-15", "2026-05-01"),
        ("2026-05-01", "2026-05-01"),
        ("2026-12-20", "2026-12-20"),
    ],  # the next billing date is after the contract's end
)
def test_a_one_time_product_in_an_amendment(effective: str, due: str) -> None:
    plan = amend(seats_contract(), Change(2, product=SETUP), on=effective)

    (delta,) = plan.deltas
    assert delta.terms.end == delta.terms.start == day(effective)
    assert spans(delta.schedule) == [(effective, effective)]
    assert dues(delta.schedule) == [due]
    assert plan.total == delta.total == Decimal("1000.00")


def test_unaligned_order_products_get_their_own_series() -> None:
    """alignBilling false: day 15 from 04-15, lines due on their own start."""
    plan = amend(seats_contract(), Change(1, product=SEATS), on="2026-04-15", align_billing=False)

    (delta,) = plan.deltas
    assert delta.terms.series == BillingSeries(15, day("2026-04-15"), 1)
    assert delta.terms.alignment is None
    assert spans(delta.schedule)[:2] == [("2026-04-15", "2026-05-14"), ("2026-05-15", "2026-06-14")]
    assert spans(delta.schedule)[-1] == ("2026-12-15", "2026-12-31")
    assert fractions(delta.schedule)[-1] == Fraction(17, 31)
    assert dues(delta.schedule)[0] == "2026-04-15"


def test_an_unaligned_one_time_product_is_due_on_its_start() -> None:
    plan = amend(seats_contract(), Change(1, product=SETUP), on="2026-04-15", align_billing=False)

    assert dues(plan.deltas[0].schedule) == ["2026-04-15"]


# --- cancellations and swaps --------------------------------------------------


def billed_through_april():
    state, _ = run(seats_contract(), "2026-04-01")
    return state


def test_a_swap_cancels_one_line_and_adds_a_product() -> None:
    """April is billed; from 04-15 seats are cancelled (credit 16/30 of 50.00 =
    -26.67, May to December removed: -400.00) and support is added (256.15)."""
    state = billed_through_april()

    plan = amend(state, Change(0, line="seats"), Change(1, product=SUPPORT), on="2026-04-15")

    (termination,) = (t.termination for t in plan.terminations)
    assert amounts([termination.credit_line]) == ["-26.67"]
    assert dues([termination.credit_line]) == ["2026-05-01"]
    assert total(s.line for s in termination.removed) == Decimal("400.00")
    assert amounts(plan.deltas[0].schedule) == ["76.15", "90.00", "90.00"]
    assert plan.total == Decimal("256.15") - Decimal("26.67") - Decimal("400.00")
    assert lifetime(apply(state, plan)) == lifetime(state) + plan.total


@pytest.mark.parametrize(
    ("contract_end", "effective", "due"),
    [
        ("2026-12-31", "2026-12-20", "2026-12-20"),  # 2027-01-01 is after the end
        ("2026-12-01", "2026-11-15", "2026-12-01"),  # the end is itself a billing date
    ],
)
def test_a_line_credit_is_due_on_the_next_billing_date_within_the_contract(
    contract_end: str, effective: str, due: str
) -> None:
    state = with_line(contract("2026-01-01", contract_end, bdom=1), "seats", SEATS, 5)
    state, _ = run(state, "2026-12-01")

    plan = amend(state, Change(0, line="seats"), on=effective)

    assert dues([plan.terminations[0].termination.credit_line]) == [due]


def test_cancelling_the_contract_credits_on_the_effective_date() -> None:
    """A setup fee added for 04-14 is over by the cut (04-14): only the seats are
    terminated."""
    state = billed_through_april()
    state = apply(state, amend(state, Change(1, product=SETUP), on="2026-04-14"))

    plan = plan_cancellation(state, day("2026-04-15"))

    assert plan.cancels_contract
    assert plan.contract_end == day("2026-04-14")
    assert plan.deltas == ()
    (termination,) = (t.termination for t in plan.terminations)
    assert dues([termination.credit_line]) == ["2026-04-15"]
    assert plan.total == Decimal("-426.67")


# --- evergreen contracts ------------------------------------------------------


def evergreen_seats():
    state = contract("2026-01-01", None, bdom=1)
    return with_line(state, "seats", SEATS, 5, stored_through="2028-12-01")


def test_an_evergreen_amendment_has_no_lifetime_total() -> None:
    """+2 seats from 04-15 (20.00 a month): previewed through 2027-04-14, the
    delta holds 04-15..04-30 (10.67) and twelve months (240.00)."""
    plan = amend(evergreen_seats(), Change(7, line="seats"), on="2026-04-15")

    (delta,) = plan.deltas
    assert plan.through == day("2027-04-14")
    assert plan.total is None and delta.total is None
    assert spans(delta.schedule)[-1] == ("2027-04-01", "2027-04-30")
    assert len(delta.schedule) == 13
    assert plan.bounded_total == Decimal("250.67")


def test_an_evergreen_preview_counts_lines_through_its_date() -> None:
    plan = amend(
        evergreen_seats(), Change(7, line="seats"), on="2026-04-15", through=day("2026-06-30")
    )

    assert plan.bounded_total == Decimal("10.67") + Decimal("40.00")


def test_cancelling_an_evergreen_line_counts_removed_lines_through_the_preview() -> None:
    """Billed through April; cancelled from 04-15: credit -26.67 due 05-01, and the
    lines of May 2026 to April 2027 (12 x 50.00) counted as removed."""
    state, _ = run(evergreen_seats(), "2026-04-01")

    plan = amend(state, Change(0, line="seats"), on="2026-04-15")

    (termination,) = (t.termination for t in plan.terminations)
    assert dues([termination.credit_line]) == ["2026-05-01"]
    assert plan.total is None
    assert plan.bounded_total == Decimal("-26.67") - 12 * Decimal("50.00")


def test_cancelling_an_evergreen_contract() -> None:
    state, _ = run(evergreen_seats(), "2026-04-01")

    plan = plan_cancellation(state, day("2026-04-15"), through=day("2026-06-30"))

    assert plan.total is None
    assert plan.contract_end == day("2026-04-14")
    assert plan.bounded_total == Decimal("-26.67") - Decimal("100.00")


def test_an_evergreen_line_is_terminated_beyond_its_stored_lines() -> None:
    """Lines stored through March only; cancelled from 06-15 with a preview through
    05-31: April to June are worked out to cut June at 06-14 (23.33 kept), and
    nothing starting by 05-31 changes."""
    state = with_line(
        contract("2026-01-01", None, bdom=1), "seats", SEATS, 5, stored_through="2026-03-01"
    )

    plan = amend(state, Change(0, line="seats"), on="2026-06-15", through=day("2026-05-31"))

    (termination,) = (t.termination for t in plan.terminations)
    assert spans([termination.kept_line]) == [("2026-06-01", "2026-06-14")]
    assert amounts([termination.kept_line]) == ["23.33"]
    assert termination.cut_line.key is None  # not stored yet
    assert plan.bounded_total == 0


@pytest.mark.parametrize(
    ("effective", "through"),
    [
        ("2026-04-15", "2027-04-14"),
        ("2026-01-31", "2027-01-30"),
        ("2024-02-29", "2025-02-27"),
        ("2026-12-01", "2027-11-30"),
    ],
)
def test_the_default_preview_runs_twelve_months(effective: str, through: str) -> None:
    assert default_through(day(effective)) == day(through)


# --- the preview total --------------------------------------------------------


def test_the_total_of_a_long_contract_counts_every_delta_line() -> None:
    """A three-year contract: +1 seat from 2026-02-01 adds 35 x 10.00 to its
    lifetime billing, not only the 12 months up to the evergreen preview date."""
    state = contract("2026-01-01", "2028-12-31", bdom=1)
    state = with_line(state, "seats", SEATS, 5)

    plan = amend(state, Change(6, line="seats"), on="2026-02-01")

    assert plan.deltas[0].total == Decimal("350.00")
    assert plan.total == Decimal("350.00")


def test_a_plan_does_not_mutate_the_contract() -> None:
    state = billed_through_april()
    before = replace(state)

    amend(state, Change(0, line="seats"), Change(1, product=SUPPORT), on="2026-04-15")

    assert state == before

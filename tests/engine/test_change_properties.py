"""Properties of changes to schedules: amendments, terminations, bill-through
cuts and changes of billing day (spec sections 4 to 6).

Each property runs under the loaded Hypothesis profile (500 examples with
HYPOTHESIS_PROFILE=ci).
"""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from orbit.engine.amendments import Change, plan_amendment
from orbit.engine.calendar import ONE_DAY, add_months
from orbit.engine.controls import (
    billing_day_change_start,
    new_series_after_change,
    plan_bill_through,
    plan_join,
    plan_recut,
)
from orbit.engine.enums import ProrationPolicy
from orbit.engine.money import round_money
from orbit.engine.proration import period_fraction
from orbit.engine.schedule import Line, build_schedule
from orbit.engine.terminations import Termination, terminate
from tests.engine.strategies import (
    Case,
    billing_days,
    billing_types,
    contracts,
    frequencies,
    order_products,
    pricing_terms,
    quantities,
)
from tests.engine.support import (
    apply,
    assert_contiguous,
    assert_rounded_cumulatively,
    contract,
    exact_total,
    lifetime,
    product,
    run,
    stored,
    total,
    unit,
    with_line,
)

# --- amendments ---------------------------------------------------------------


def one_line_contract(spec: dict):
    """The contract of ``spec`` with one line of ``spec["quantity"]`` units, its
    evergreen lines stored far enough ahead for any preview."""
    state = contract(
        spec["start"],
        spec["end"],
        bdom=spec["bdom"],
        currency=spec["currency"],
        policy=spec["policy"],
        treatment=spec["treatment"],
    )
    item = product(
        price=spec["price"],
        pricing_term=spec["pricing_term"],
        frequency=spec["frequency"],
        billing=spec["billing"],
    )
    return with_line(
        state, "line", item, spec["quantity"], stored_through=add_months(spec["effective"], 13)
    )


def other_quantity(spec: dict) -> st.SearchStrategy[int]:
    return quantities.filter(lambda q: q != spec["quantity"])


@given(contracts(), st.data())
def test_aligned_delta_lines_share_the_contract_boundaries(spec: dict, data) -> None:
    state = one_line_contract(spec)
    plan = plan_amendment(
        state, [Change(data.draw(other_quantity(spec)), line="line")], spec["effective"]
    )

    (delta,) = plan.deltas
    lines = list(delta.schedule)
    series = state.series(spec["frequency"])
    assert lines[0].start == spec["effective"]
    assert_contiguous(lines)
    for line in lines[1:]:
        assert series.is_boundary(line.start)
    for line in lines[:-1]:
        assert series.is_boundary(line.end + ONE_DAY)
    if spec["end"] is not None:
        assert lines[-1].end == spec["end"]


@given(contracts(), st.data())
def test_original_plus_delta_equals_the_schedule_for_the_new_quantity(spec, data) -> None:
    """Per period from the effective date: the original's days plus the delta are
    worth exactly the schedule built for the new quantity over the same days.
    The first period (when E falls inside it) values the original's days pro
    rata and the delta by the policy, so there only ACTUAL_DAYS adds up exactly.
    Amounts are each within a minor unit of their exact values, so where the
    original has a line over the same days, the amounts add up to within two."""
    state = one_line_contract(spec)
    new_quantity = data.draw(other_quantity(spec))
    plan = plan_amendment(state, [Change(new_quantity, line="line")], spec["effective"])
    (delta,) = plan.deltas
    direct = build_schedule(
        replace(delta.terms, quantity=new_quantity, alignment=None),
        plan.through if delta.terms.is_evergreen else None,
    )
    original = [s.line for s in state.line("line").order_products[0].lines]
    original_parts = {(p.start, p.end): p for line in original for p in line.parts}
    original_lines = {(line.start, line.end): line for line in original}

    assert [(x.start, x.end) for x in delta.schedule] == [(x.start, x.end) for x in direct]
    for ours, theirs in zip(delta.schedule, direct, strict=True):
        for part, whole in zip(ours.parts, theirs.parts, strict=True):
            assert (part.start, part.end, part.fraction) == (whole.start, whole.end, whole.fraction)
            same = original_parts.get((part.start, part.end))
            if same is not None:
                assert same.value + part.value == whole.value
            elif spec["policy"] is ProrationPolicy.ACTUAL_DAYS:
                days_before = sum(o.value_of(part.start, part.end) for o in original)
                assert days_before + part.value == whole.value
        alongside = original_lines.get((ours.start, ours.end))
        if alongside is not None:
            gap = alongside.amount + ours.amount - theirs.amount
            assert abs(gap) <= 2 * unit(spec["currency"])


@st.composite
def amendments(draw, spec: dict) -> list[Change]:
    """A quantity change, a cancellation, a new product, or a swap."""
    new_product = Change(
        draw(quantities),
        product=product(
            "new",
            price=str(spec["price"]),
            pricing_term=draw(pricing_terms),
            frequency=draw(frequencies),
            billing=draw(billing_types),
            one_time=draw(st.booleans()),
        ),
    )
    return draw(
        st.sampled_from(
            [
                [Change(draw(other_quantity(spec)), line="line")],
                [Change(0, line="line")],
                [new_product],
                [Change(0, line="line"), new_product],
            ]
        )
    )


@given(contracts(), st.data())
def test_the_quote_is_the_invoice(spec: dict, data) -> None:
    """Applied, an amendment changes what the contract bills over its life by
    exactly its preview's total (for an evergreen contract: the lines through
    the preview date), whatever was billed before it."""
    state = one_line_contract(spec)
    billed_by = spec["start"] + timedelta(days=data.draw(st.integers(-10, 500)))
    state, _ = run(state, billed_by)
    changes = data.draw(amendments(spec))
    plan = plan_amendment(state, changes, spec["effective"], align_billing=data.draw(st.booleans()))

    after = apply(state, plan)

    if spec["end"] is None:
        change = lifetime(after, plan.through) - lifetime(state, plan.through)
        assert plan.bounded_total == change
        assert plan.total is None
        return
    change = lifetime(after) - lifetime(state)
    assert change == sum(d.total for d in plan.deltas) + sum(
        t.termination.total_change for t in plan.terminations
    )
    assert plan.total == change
    if changes[0].line == "line" and changes[0].quantity:
        assert after.line("line").quantity_on(spec["effective"]) == changes[0].quantity


# --- terminations -------------------------------------------------------------


def terminated(lines: list[Line], billed: int, termination: Termination) -> list[Line]:
    """The schedule after the termination: kept lines, the cut line, the credit."""
    result = [line for n, line in enumerate(lines) if n < billed or line.end <= termination.cut]
    if termination.kept_line is not None:
        result.append(termination.kept_line)
    if termination.credit_line is not None:
        result.append(termination.credit_line)
    return result


def terminate_case(case: Case, data) -> tuple[list[Line], int, Termination]:
    terms = case.terms
    cut = data.draw(
        st.dates(terms.start - timedelta(days=40), case.last_day + timedelta(days=10)), label="cut"
    )
    through = max(case.through, cut + ONE_DAY) if terms.is_evergreen else None
    lines = build_schedule(terms, through)
    billed = data.draw(st.integers(0, len(lines)), label="billed")
    termination = terminate(terms, stored(lines, billed=billed), cut, cut + ONE_DAY, case.through)
    return lines, billed, termination


@given(order_products(quantity=st.integers(-40, 40)), st.data())
def test_a_termination_keeps_exactly_the_days_up_to_the_cut(case: Case, data) -> None:
    """After the termination the order product is worth exactly E_kept, the value
    of its days up to the cut: billed lines stay, the credit takes back their
    days after the cut. Its amounts then sum to round(E_kept) when nothing after
    the cut was billed, else to within a minor unit of it."""
    lines, billed, termination = terminate_case(case, data)
    cut, currency = termination.cut, case.terms.currency
    kept_value = sum((line.value_of(line.start, cut) for line in lines), Fraction(0))
    billed_after_cut = [line for line in lines[:billed] if line.end > cut]
    after = terminated(lines, billed, termination)

    assert exact_total(after) == kept_value
    regular = [line for line in after if not line.is_credit]
    assert_contiguous(regular)
    last_billed = lines[billed - 1].end if billed else case.terms.start - ONE_DAY
    if regular:
        assert regular[0].start == case.terms.start
        assert regular[-1].end == max(min(cut, lines[-1].end), last_billed)
    else:
        assert cut < case.terms.start and not billed
    if billed_after_cut:
        credited = sum(line.value_of(cut + ONE_DAY, line.end) for line in billed_after_cut)
        assert termination.credit_line.amount == -round_money(credited, currency)
        assert termination.credit_line.end == billed_after_cut[-1].end
        assert abs(Fraction(total(after)) - kept_value) <= Fraction(unit(currency))
    else:
        assert termination.credit_line is None
        assert total(after) == round_money(kept_value, currency)
    counted = [line for line in lines if case.through is None or line.start <= case.through]
    counted_after = [
        line
        for line in after
        if case.through is None or line.start <= case.through or line.is_credit
    ]
    assert termination.total_change == total(counted_after) - total(counted)


@given(order_products(evergreen=False, quantity=st.integers(-40, 40)), st.data())
def test_billed_plus_credit_matches_the_kept_line_within_a_minor_unit(case, data) -> None:
    """For the line holding the cut: billed then credited, or cut while unbilled,
    the customer pays the same to within one minor unit (the credit is rounded on
    its own, the kept line on from the lines before it)."""
    lines = build_schedule(case.terms)
    holding = data.draw(st.integers(0, len(lines) - 1), label="line")
    line = lines[holding]
    if line.start == line.end:
        return
    cut = data.draw(st.dates(line.start, line.end - ONE_DAY), label="cut")
    billed = data.draw(st.integers(holding + 1, len(lines)), label="billed")

    def end_at(billed: int) -> Termination:
        return terminate(case.terms, stored(lines, billed=billed), cut, cut + ONE_DAY)

    paid = total(lines[holding:billed]) + end_at(billed).credit_line.amount
    kept = end_at(holding).kept_line.amount
    assert abs(paid - kept) <= unit(case.terms.currency)


# --- bill-through cuts --------------------------------------------------------


@given(order_products(), st.data())
def test_a_bill_through_cut_and_its_join_keep_every_day_and_total(case: Case, data) -> None:
    terms = case.terms
    lines = build_schedule(terms, case.through)
    billed = data.draw(st.integers(0, len(lines) - 1), label="billed")
    line = lines[billed]
    if line.start == line.end:
        return
    through = data.draw(st.dates(line.start, line.end - ONE_DAY), label="through")

    cut = plan_bill_through(terms, stored(lines, billed=billed), through)

    after = [*lines[:billed], cut.head, cut.tail, *lines[billed + 1 :]]
    assert (cut.head.start, cut.head.end, cut.tail.end) == (line.start, through, line.end)
    assert_contiguous(after)
    assert cut.head.value == line.value_of(line.start, through)
    assert exact_total(after) == exact_total(lines)
    assert total(after) == total(lines)
    assert_rounded_cumulatively(after, terms.currency)

    join = plan_join(terms, stored(after, billed=billed), through)

    joined = join.joined
    assert (joined.start, joined.end, joined.due, joined.amount, joined.value, joined.fraction) == (
        line.start,
        line.end,
        line.due,
        line.amount,
        line.value,
        line.fraction,
    )


# --- change of billing day ----------------------------------------------------


def recut_case(case: Case, data):
    terms = case.terms
    lines = build_schedule(terms, case.through)
    billed = data.draw(st.integers(0, len(lines)), label="billed")
    today = data.draw(
        st.dates(terms.start - timedelta(days=90), case.last_day + timedelta(days=10)),
        label="today",
    )
    old_day, new_day = terms.series.day, data.draw(billing_days, label="new day")
    begin = billing_day_change_start(today, old_day)
    new_series = new_series_after_change(today, old_day, new_day)
    items = stored(lines, billed=billed)
    result = plan_recut(terms, items, begin, new_series)
    replaced = {s.key for s in result.replaced}
    after = [s.line for s in items if s.key not in replaced] + list(result.lines)
    start = max([begin, terms.start, *(line.end + ONE_DAY for line in lines[:billed])])
    return lines, billed, start, result, after


@given(order_products(evergreen=False), st.data())
def test_a_billing_day_change_keeps_every_day_and_total(case: Case, data) -> None:
    """Billed lines stay; the unbilled ones from C on are re-cut on the new series
    (a partial line up to its first boundary, then its periods, by the policy;
    the last line takes what is left), and nothing is lost, doubled or re-priced."""
    terms = case.terms
    lines, billed, start, result, after = recut_case(case, data)
    series = result.series

    assert series.months == terms.frequency.months
    assert all(n >= billed and lines[n].end >= start for n in (s.key[1] for s in result.replaced))
    assert (after[0].start, after[-1].end) == (terms.start, terms.end)
    assert_contiguous(after)
    assert exact_total(after) == exact_total(lines)
    assert total(after) == total(lines)
    assert_rounded_cumulatively(after, terms.currency)
    recut = [line for line in result.lines if line.start >= start]
    for n, line in enumerate(recut):
        assert line.start == start or series.is_boundary(line.start)
        assert line.end == terms.end or series.is_boundary(line.end + ONE_DAY)
        if n < len(recut) - 1:
            assert line.fraction == period_fraction(terms.policy, series, line.start, line.end)


@given(order_products(evergreen=True), st.data())
def test_an_evergreen_billing_day_change_ends_on_a_new_boundary(case: Case, data) -> None:
    terms = case.terms
    lines, _, start, result, after = recut_case(case, data)

    assert after[0].start == terms.start
    assert_contiguous(after)
    assert_rounded_cumulatively(after, terms.currency)
    if result.lines:
        assert after[-1].end >= lines[-1].end
        assert result.series.is_boundary(after[-1].end + ONE_DAY)
        for line in result.lines:
            if line.start >= start:
                assert line.fraction == period_fraction(
                    terms.policy, result.series, line.start, line.end
                )
    assert total(after) - total(lines) == sum(
        (line.amount for line in result.lines), Decimal(0)
    ) - sum((s.line.amount for s in result.replaced), Decimal(0))

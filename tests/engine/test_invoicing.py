"""What goes on an account's next document (spec sections 4, 6, 7 and 8).

Each property runs over books built by the engine itself: real schedules, some
of their lines billed, credited with or without rebill, terminated, cut by a
bill-through date or moved by a next-billing-date override, under holds of
every scope and source.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orbit.engine.calendar import ONE_DAY
from orbit.engine.controls import (
    billing_day_change_start,
    first_unbilled,
    new_series_after_change,
    plan_bill_through,
    plan_recut,
)
from orbit.engine.enums import DocumentType, HoldScope, HoldSource
from orbit.engine.invoicing import (
    AccountTerms,
    BillableProduct,
    CandidateLine,
    DocumentDraft,
    HoldInForce,
    draft_document,
    due_lines,
    is_overdue,
    line_description,
)
from orbit.engine.lines import StoredLine
from orbit.engine.schedule import Line, build_schedule
from orbit.engine.terminations import terminate
from tests.engine.strategies import dates, order_products

ACCOUNT = AccountTerms(1, "USD", 30)


@dataclass(frozen=True)
class Book:
    """An account's activated order products and their lines, as billing loads them."""

    products: tuple[BillableProduct, ...]
    lines: tuple[CandidateLine, ...]
    holds: tuple[HoldInForce, ...]

    def draft(
        self, target: date, holds: tuple[HoldInForce, ...] | None = None
    ) -> DocumentDraft | None:
        chosen = self.holds if holds is None else holds
        return draft_document(ACCOUNT, self.products, self.lines, chosen, target, target)

    def billing(self, draft: DocumentDraft) -> Book:
        """The book after ``draft`` was stored: its lines billed, its controls cleared."""
        billed = {d.line.key for d in draft.lines}
        products = tuple(
            p._replace(
                next_billing_override=None
                if p.key in draft.clears_next_billing
                else p.next_billing_override,
                override_line=None if p.key in draft.clears_next_billing else p.override_line,
                bill_through=None if p.key in draft.clears_bill_through else p.bill_through,
            )
            for p in self.products
        )
        lines = tuple(ln._replace(billed=ln.billed or ln.key in billed) for ln in self.lines)
        return Book(products, lines, self.holds)


def candidate(
    key: int, product: int, item: StoredLine | Line, billed: bool = False
) -> CandidateLine:
    line = item.line if isinstance(item, StoredLine) else item
    return CandidateLine(
        key, product, line.start, line.end, line.due, line.amount, line.is_credit, billed
    )


@st.composite
def books(draw: st.DrawFn) -> Book:
    keys: Iterator[int] = itertools.count(1)
    products: list[BillableProduct] = []
    lines: list[CandidateLine] = []
    for number in range(1, draw(st.integers(1, 4)) + 1):
        case = draw(order_products())
        stored = [StoredLine(next(keys), line) for line in build_schedule(case.terms, case.through)]
        # invoices billed a prefix of the schedule; some were credited with rebill (the
        # lines are unbilled again) or without (they stay billed, reversed)
        billed_count = draw(st.integers(0, len(stored)))
        stored = [
            replace(s, billed=i < billed_count and draw(st.integers(0, 4)) > 0)
            for i, s in enumerate(stored)
        ]
        extra: list[StoredLine] = []
        override_line, override, bill_through = None, None, None
        change = draw(st.sampled_from(["none", "terminate", "bill-through", "override", "re-cut"]))
        if change == "terminate":
            last = case.last_day
            cut = (
                case.terms.start
                - ONE_DAY
                + timedelta(days=draw(st.integers(0, (last - case.terms.start).days + 1)))
            )
            ended = terminate(case.terms, stored, cut, cut + ONE_DAY, case.through)
            gone = {s.key for s in ended.removed}
            stored = [s for s in stored if s.key not in gone]
            if ended.cut_line is not None and ended.kept_line is not None:
                stored = [
                    replace(s, line=ended.kept_line) if s.key == ended.cut_line.key else s
                    for s in stored
                ]
            if ended.credit_line is not None:
                extra.append(StoredLine(next(keys), ended.credit_line))
        elif change == "bill-through":
            index = first_unbilled(stored)
            if index is not None and stored[index].line.start < stored[index].line.end:
                line = stored[index].line
                through = line.start + timedelta(
                    days=draw(st.integers(0, (line.end - line.start).days - 1))
                )
                cut = plan_bill_through(case.terms, stored, through)
                stored[index] = replace(stored[index], line=cut.head)
                extra.append(StoredLine(next(keys), cut.tail))
                bill_through = cut.head.end
        elif change == "re-cut":
            # a change of billing day: the unbilled lines from C on move to a new series
            today = case.terms.start + timedelta(days=draw(st.integers(0, 400)))
            assert case.terms.series is not None
            old_day, new_day = case.terms.series.day, draw(st.integers(1, 31))
            recut = plan_recut(
                case.terms,
                stored,
                billing_day_change_start(today, old_day),
                new_series_after_change(today, old_day, new_day),
            )
            gone = {s.key for s in recut.replaced}
            stored = [s for s in stored if s.key not in gone]
            stored += [StoredLine(next(keys), line) for line in recut.lines]
            stored.sort(key=lambda s: (s.line.start, s.line.is_credit))
        elif change == "override":
            index = first_unbilled(stored)
            if index is not None:
                override_line, override = stored[index].key, draw(dates)
        products.append(
            BillableProduct(
                key=number,
                contract=draw(st.integers(1, 2)),
                order=draw(st.integers(1, 3)),
                product=draw(st.integers(1, 3)),
                product_name=f"Product {number}",
                quantity=case.terms.quantity,
                next_billing_override=override,
                override_line=override_line,
                bill_through=bill_through,
            )
        )
        lines += [candidate(int(s.key), number, s, s.billed) for s in stored + extra]  # type: ignore[call-overload]
    holds = draw(st.lists(hold_for(products), max_size=3))
    return Book(tuple(products), tuple(lines), tuple(holds))


def hold_for(products: list[BillableProduct]) -> st.SearchStrategy[HoldInForce]:
    def target(scope: HoldScope) -> st.SearchStrategy[int | None]:
        if scope is HoldScope.ACCOUNT:
            return st.none()
        pick = {
            HoldScope.CONTRACT: lambda p: p.contract,
            HoldScope.ORDER: lambda p: p.order,
            HoldScope.ORDER_PRODUCT: lambda p: p.key,
        }[scope]
        return st.sampled_from([pick(p) for p in products])

    return st.sampled_from(list(HoldScope)).flatmap(
        lambda scope: st.builds(
            HoldInForce, st.just(scope), st.sampled_from(list(HoldSource)), target(scope)
        )
    )


def expected_keys(book: Book, target: date) -> list[int]:
    """Section 4's effective due dates and section 7's holds, restated plainly."""
    chosen = []
    for product in book.products:
        own = sorted(
            (ln for ln in book.lines if ln.order_product == product.key and not ln.billed),
            key=lambda ln: (ln.start, ln.is_credit, ln.key),
        )
        previous: date | None = None
        for line in own:
            if line.is_credit:
                due = line.due
            elif previous is None:
                due = (
                    product.next_billing_override if line.key == product.override_line else line.due
                )
                previous = due
            else:
                due = max(line.due, previous)
                previous = due
            held = any(
                h.covers(product) and (h.source is HoldSource.MANUAL or line.amount >= 0)
                for h in book.holds
            )
            if due <= target and not held:
                chosen.append((product.contract, product.key, line.start, line.is_credit, line.key))
    return [int(c[-1]) for c in sorted(chosen)]  # type: ignore[call-overload]


@given(books(), dates)
def test_the_document_holds_exactly_the_eligible_lines_in_order(book: Book, target: date) -> None:
    draft = book.draft(target)
    keys = [d.line.key for d in draft.lines] if draft else []
    assert keys == expected_keys(book, target)
    if draft is None:
        return
    assert draft.total == sum((d.line.amount for d in draft.lines), Decimal(0))
    assert draft.document_type is (
        DocumentType.CREDIT_NOTE if draft.total < 0 else DocumentType.INVOICE
    )
    assert draft.due_date == target + timedelta(days=ACCOUNT.payment_term_days)
    assert all(not d.line.billed and d.effective_due <= target for d in draft.lines)


@given(books(), dates, dates)
def test_a_later_target_bills_everything_an_earlier_one_would(
    book: Book, one: date, two: date
) -> None:
    early, late = sorted((one, two))
    first, second = book.draft(early), book.draft(late)
    early_keys = {d.line.key for d in first.lines} if first else set()
    late_keys = {d.line.key for d in second.lines} if second else set()
    assert early_keys <= late_keys


@given(books(), dates)
def test_billing_the_draft_leaves_nothing_due_for_the_same_target(book: Book, target: date) -> None:
    draft = book.draft(target)
    if draft is None:
        return
    assert book.billing(draft).draft(target) is None


@given(books(), dates)
def test_holds_only_leave_lines_out_and_never_hold_credits_back_by_rule(
    book: Book, target: date
) -> None:
    held, free = book.draft(target), book.draft(target, holds=())
    held_lines = {d.line.key: d.line.amount for d in held.lines} if held else {}
    free_lines = {d.line.key: d.line.amount for d in free.lines} if free else {}
    assert held_lines.items() <= free_lines.items()
    if all(h.source is not HoldSource.MANUAL for h in book.holds):
        negative = {k for k, amount in free_lines.items() if amount < 0}
        assert negative <= set(held_lines)


@given(books(), dates)
def test_catch_up_when_the_holds_end(book: Book, target: date) -> None:
    """Lines held over several billing dates all come on the first document after."""
    held = book.draft(target)
    after = (book.billing(held) if held else book).draft(target, holds=())
    free = book.draft(target, holds=())
    held_keys = {d.line.key for d in held.lines} if held else set()
    after_keys = {d.line.key for d in after.lines} if after else set()
    assert held_keys | after_keys == ({d.line.key for d in free.lines} if free else set())
    assert not held_keys & after_keys


@given(books(), dates)
def test_controls_are_cleared_only_by_billing_what_they_bind(book: Book, target: date) -> None:
    draft = book.draft(target)
    if draft is None:
        return
    billed = {d.line.key for d in draft.lines}
    for product in book.products:
        own_ends = {d.line.end for d in draft.lines if d.product.key == product.key}
        assert (product.key in draft.clears_next_billing) == (
            product.override_line is not None and product.override_line in billed
        )
        assert (product.key in draft.clears_bill_through) == (
            product.bill_through is not None and product.bill_through in own_ends
        )


def _product(**changes: object) -> BillableProduct:
    base = BillableProduct(key=1, contract=1, order=1, product=1, product_name="Seats", quantity=5)
    return base._replace(**changes)


def _line(key: int | None, start: date, end: date, amount: str, **changes: object) -> CandidateLine:
    base = CandidateLine(key, 1, start, end, start, Decimal(amount))
    return base._replace(**changes)


def test_an_override_brings_its_line_and_the_lines_behind_it_together() -> None:
    product = _product(next_billing_override=date(2026, 6, 1), override_line=10)
    lines = [
        _line(10, date(2026, 4, 1), date(2026, 4, 30), "100.00"),
        _line(11, date(2026, 5, 1), date(2026, 5, 31), "100.00"),
        _line(12, date(2026, 6, 1), date(2026, 6, 30), "100.00"),
    ]
    assert due_lines([product], lines, [], date(2026, 5, 31)) == []
    draft = draft_document(ACCOUNT, [product], lines, [], date(2026, 6, 1), date(2026, 6, 1))
    assert draft is not None
    assert [(d.line.key, d.effective_due) for d in draft.lines] == [
        (10, date(2026, 6, 1)),
        (11, date(2026, 6, 1)),
        (12, date(2026, 6, 1)),
    ]
    assert (draft.total, draft.clears_next_billing) == (Decimal("300.00"), (1,))
    assert draft.due_date == date(2026, 7, 1)


def test_a_credit_only_document_is_a_credit_note_and_rule_holds_let_it_out() -> None:
    lines = [
        _line(
            1, date(2026, 3, 20), date(2026, 3, 31), "-38.71", is_credit=True, due=date(2026, 4, 1)
        ),
        _line(2, date(2026, 4, 1), date(2026, 4, 30), "50.00", billed=True),
    ]
    overdue = HoldInForce(HoldScope.ACCOUNT, HoldSource.OVERDUE_RULE)
    draft = draft_document(
        ACCOUNT, [_product()], lines, [overdue], date(2026, 4, 1), date(2026, 4, 1)
    )
    assert draft is not None
    assert (draft.document_type, draft.total) == (DocumentType.CREDIT_NOTE, Decimal("-38.71"))
    assert draft.lines[0].description == "credit: Seats x 5, 2026-03-20 to 2026-03-31"
    manual = HoldInForce(HoldScope.ORDER, HoldSource.MANUAL, 1)
    assert (
        draft_document(ACCOUNT, [_product()], lines, [manual], date(2026, 4, 1), date(2026, 4, 1))
        is None
    )


def test_a_zero_total_is_an_invoice_and_lines_of_unknown_products_are_ignored() -> None:
    lines = [
        _line(1, date(2026, 4, 1), date(2026, 4, 1), "0.00"),
        _line(2, date(2026, 4, 1), date(2026, 4, 30), "75.00", order_product=99),
    ]
    draft = draft_document(ACCOUNT, [_product()], lines, [], date(2026, 4, 1), date(2026, 4, 2))
    assert draft is not None
    assert (draft.document_type, draft.total, len(draft.lines)) == (
        DocumentType.INVOICE,
        Decimal("0.00"),
        1,
    )
    assert draft.lines[0].description == "Seats x 5, 2026-04-01"


def test_lines_beyond_the_stored_horizon_come_after_the_stored_ones() -> None:
    lines = [
        _line(None, date(2026, 6, 1), date(2026, 6, 30), "10.00"),
        _line(7, date(2026, 5, 1), date(2026, 5, 31), "10.00"),
    ]
    drafted = due_lines([_product()], lines, [], date(2026, 6, 1))
    assert [d.line.key for d in drafted] == [7, None]


@pytest.mark.parametrize(
    ("oldest", "today", "days", "expected"),
    [
        (date(2026, 3, 1), date(2026, 3, 31), 30, True),
        (date(2026, 3, 2), date(2026, 3, 31), 30, False),
        (date(2026, 3, 1), date(2026, 3, 31), None, False),
        (None, date(2026, 3, 31), 0, False),
        (date(2026, 3, 31), date(2026, 3, 31), 0, True),
    ],
)
def test_the_overdue_rule(
    oldest: date | None, today: date, days: int | None, expected: bool
) -> None:
    assert is_overdue(oldest, today, days) is expected


def test_descriptions_are_capped() -> None:
    text = line_description("x" * 400, 1, date(2026, 1, 1), date(2026, 1, 31), False)
    assert len(text) == 300

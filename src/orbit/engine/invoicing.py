"""What goes on an account's next document: eligibility, holds, totals, controls.

Given an account's activated order products, their schedule lines with billed
state, the holds in force and a target date, ``draft_document`` returns the
one document a run would create (or None) and the billing-date controls that
billing it clears. The services only load these inputs and store the draft;
every rule of "what is billed now" lives here:

- a line is eligible when it is unbilled, its effective due date (section 4,
  overrides included) is on or before the target date, and no hold in force
  holds it;
- MANUAL holds hold every line; rule holds never hold a negative line;
- all eligible lines go onto one document, ordered by contract, order product
  and schedule order; a negative total makes it a credit note, anything else
  (zero included) an invoice, due ``payment_term_days`` after its date;
- billing the line a next-billing-date override is bound to clears that
  override; billing the line that ends on a bill-through date clears it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from orbit.engine.enums import DocumentType, HoldScope, HoldSource
from orbit.engine.schedule import DueState, effective_due_dates


class BillableProduct(NamedTuple):
    """An activated order product, as billing sees it."""

    key: int
    contract: int
    order: int
    product: int
    product_name: str
    quantity: int
    next_billing_override: date | None = None
    #: the line the next-billing-date override is bound to
    override_line: int | None = None
    bill_through: date | None = None


class CandidateLine(NamedTuple):
    """A schedule line of an order product. ``key`` is None for a line computed
    beyond the stored horizon (previews only)."""

    key: int | None
    order_product: int
    start: date
    end: date
    due: date
    amount: Decimal
    is_credit: bool = False
    billed: bool = False


@dataclass(frozen=True)
class HoldInForce:
    """An active hold: what it covers and whether it holds credits too."""

    scope: HoldScope
    source: HoldSource
    #: the contract, order or order product it holds; None for an account hold
    target: int | None = None

    def covers(self, product: BillableProduct) -> bool:
        return self.covers_ids(product.contract, product.order, product.key)

    def covers_ids(self, contract: int, order: int, order_product: int) -> bool:
        """Whether the hold covers the order product with these ids."""
        if self.scope is HoldScope.ACCOUNT:
            return True
        if self.scope is HoldScope.CONTRACT:
            return self.target == contract
        if self.scope is HoldScope.ORDER:
            return self.target == order
        return self.target == order_product

    def holds(self, product: BillableProduct, amount: Decimal) -> bool:
        """MANUAL holds hold every line; rule holds never hold a negative line."""
        if not self.covers(product):
            return False
        return self.source is HoldSource.MANUAL or amount >= 0


def is_held(holds: Sequence[HoldInForce], product: BillableProduct, amount: Decimal) -> bool:
    return bool(holds) and any(hold.holds(product, amount) for hold in holds)


def is_overdue(oldest_open_due: date | None, today: date, overdue_days: int | None) -> bool:
    """The overdue rule: an open posted invoice at least ``overdue_days`` past due."""
    if overdue_days is None or oldest_open_due is None:
        return False
    return oldest_open_due <= today - timedelta(days=overdue_days)


@dataclass(frozen=True)
class AccountTerms:
    key: int
    currency: str
    payment_term_days: int


class DraftLine(NamedTuple):
    line: CandidateLine
    product: BillableProduct
    effective_due: date

    @property
    def description(self) -> str:
        return line_description(
            self.product.product_name,
            self.product.quantity,
            self.line.start,
            self.line.end,
            self.line.is_credit,
        )


@dataclass(frozen=True)
class DocumentDraft:
    """The document a run would create for one account, and what billing it clears."""

    account: AccountTerms
    document_type: DocumentType
    invoice_date: date
    due_date: date
    lines: tuple[DraftLine, ...]
    #: order products whose next-billing-date override is cleared by this document
    clears_next_billing: tuple[int, ...]
    #: order products whose bill-through date is cleared by this document
    clears_bill_through: tuple[int, ...]

    @property
    def total(self) -> Decimal:
        return sum((d.line.amount for d in self.lines), Decimal(0))


def due_lines(
    products: Sequence[BillableProduct],
    lines: Iterable[CandidateLine],
    holds: Sequence[HoldInForce],
    target: date,
) -> list[DraftLine]:
    """The eligible lines for ``target``, in document order."""
    by_key = {p.key: p for p in products}
    per_product: dict[int, list[CandidateLine]] = defaultdict(list)
    for line in lines:
        if not line.billed and line.order_product in by_key:
            per_product[line.order_product].append(line)
    result = []
    for key, own in per_product.items():
        product = by_key[key]
        own.sort(key=_schedule_order)
        states = [
            DueState(
                line.due,
                is_credit=line.is_credit,
                override=(
                    product.next_billing_override
                    if line.key is not None and line.key == product.override_line
                    else None
                ),
            )
            for line in own
        ]
        for line, effective in zip(own, effective_due_dates(states), strict=True):
            if effective <= target and not is_held(holds, product, line.amount):
                result.append(DraftLine(line, product, effective))
    result.sort(key=_document_order)
    return result


def _schedule_order(line: CandidateLine) -> tuple[date, bool, bool, int]:
    return (line.start, line.is_credit, line.key is None, line.key or 0)


def _document_order(d: DraftLine) -> tuple[int, int, date, bool, bool, int]:
    line = d.line
    return (
        d.product.contract,
        d.product.key,
        line.start,
        line.is_credit,
        line.key is None,
        line.key or 0,
    )


def draft_document(
    account: AccountTerms,
    products: Sequence[BillableProduct],
    lines: Iterable[CandidateLine],
    holds: Sequence[HoldInForce],
    target: date,
    invoice_date: date,
) -> DocumentDraft | None:
    """The one document billing ``account`` through ``target`` creates; None when
    nothing is eligible."""
    drafted = due_lines(products, lines, holds, target)
    if not drafted:
        return None
    total = sum((d.line.amount for d in drafted), Decimal(0))
    billed = {d.line.key for d in drafted if d.line.key is not None}
    ends = {(d.product.key, d.line.end) for d in drafted}
    touched = {d.product.key: d.product for d in drafted}.values()
    return DocumentDraft(
        account=account,
        document_type=DocumentType.CREDIT_NOTE if total < 0 else DocumentType.INVOICE,
        invoice_date=invoice_date,
        due_date=invoice_date + timedelta(days=account.payment_term_days),
        lines=tuple(drafted),
        clears_next_billing=tuple(
            sorted(
                p.key for p in touched if p.override_line is not None and p.override_line in billed
            )
        ),
        clears_bill_through=tuple(
            sorted(
                p.key
                for p in touched
                if p.bill_through is not None and (p.key, p.bill_through) in ends
            )
        ),
    )


def line_description(name: str, quantity: int, start: date, end: date, is_credit: bool) -> str:
    """How a document line reads: the product, the quantity and the period."""
    period = start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"
    label = "credit: " if is_credit else ""
    return f"{label}{name} x {quantity}, {period}"[:300]

"""Each day is credited at most once, whatever the order (spec section 12, first rule).

A hypothesis state machine drives random sequences of billing, posting, credits with
and without rebill, amendments (up, down, to 0), cancellations, billing-date overrides
and changes of billing day through the services, on the test database. After every
step, for every order product and every day, the net billed for the day over all
documents and the lines still to be billed (see ``daybook``) must be the value in
effect for the day, or 0 when the day was credited without rebill.

Tolerance: every line Orbit produces is within one minor unit of its exact value
(cumulative rounding, spec section 4), so a line spread over its days pro rata can be
off by at most its weight for the day times one minor unit. A day's tolerance is the
sum of those shares over the lines covering it; a credit-note line that gives back
only part of an invoice line (the rest was given back already) is the difference of
two rounded amounts and gets two minor units. Credit-note lines that mirror a whole
invoice line cancel it exactly.

The machine runs on a thread of its own; each step hands its coroutines to the test's
event loop (which owns the database connection) and waits for them.

Budget: 100 examples of up to 15 steps (about 35-40 s, SQLite or PostgreSQL);
ORBIT_CREDIT_EXAMPLES and ORBIT_CREDIT_STEPS raise it for a longer search, and
ORBIT_CREDIT_STATS=1 (with -s) prints how often each operation took effect. What it
found is kept in test_credit_once.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import Awaitable, Coroutine
from datetime import date, timedelta
from fractions import Fraction
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import event as _event
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from orbit.db.models import (
    ContractLine,
    DocumentType,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    OrderProduct,
    OrderStatus,
    ScheduleLine,
)
from orbit.engine.controls import first_unbilled
from orbit.engine.enums import BillingFrequency, BillingType
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract, cancel_contract
from orbit.services.controls import OverrideInput, change_billing_day, override_billing_dates
from orbit.services.errors import DomainError
from orbit.services.invoices import credit_invoice, post_invoice
from orbit.services.state import schedules_of
from tests.services import factory
from tests.services.conftest import _empty
from tests.services.daybook import ONE, OpModel, day_values, days_of, model_of, read_ledger
from tests.services.factory import SYSTEM

T = TypeVar("T")

#: examples and steps: about 35-40 s on SQLite or PostgreSQL (HYPOTHESIS_PROFILE=ci)
EXAMPLES = int(os.environ.get("ORBIT_CREDIT_EXAMPLES", "100"))
STEPS = int(os.environ.get("ORBIT_CREDIT_STEPS", "15"))


#: how often each outcome happened (printed with ORBIT_CREDIT_STATS=1, pytest -s)
OUTCOMES: Counter[str] = Counter()


def event(text: str) -> None:
    """Count ``text`` in hypothesis' statistics (when driven by hypothesis)."""
    OUTCOMES[text] += 1
    with contextlib.suppress(InvalidArgument):
        _event(text)


class CreditMachine(RuleBasedStateMachine):
    loop: ClassVar[asyncio.AbstractEventLoop]

    def __init__(self) -> None:
        super().__init__()
        self.ops: dict[int, OpModel] = {}
        self.created = 0
        self.today = date(2026, 1, 1)
        self.account_id = 0
        self.contract_id = 0
        self.line_id = 0
        self.end = date(2026, 12, 31)
        self.start = date(2026, 1, 1)
        self.latest_amendment: date | None = None
        self.live: set[int] = set()
        self.cancelled = False
        self.posted = 0
        self.terminated = False
        self.quantity = 0

    def run(self, call: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(call, self.loop).result()

    def attempt(self, call: Awaitable[Any]) -> bool:
        async def go() -> bool:
            try:
                await call
            except DomainError:
                return False
            return True

        return self.run(go())

    # --- setup ----------------------------------------------------------------

    @initialize(
        price=st.sampled_from(["1000.00", "31.00", "100.00", "7.77"]),
        quantity=st.integers(1, 3),
        start_day=st.sampled_from([1, 10, 31]),
        billing_day=st.sampled_from([1, 10, 31]),
        frequency=st.sampled_from([BillingFrequency.MONTHLY, BillingFrequency.QUARTERLY]),
        billing_type=st.sampled_from(
            [BillingType.ADVANCE, BillingType.ADVANCE, BillingType.ARREARS]
        ),
    )
    def setup(
        self,
        price: str,
        quantity: int,
        start_day: int,
        billing_day: int,
        frequency: BillingFrequency,
        billing_type: BillingType,
    ) -> None:
        self.start = date(2026, 1, start_day)
        self.today = self.start
        self.quantity = quantity
        self.run(self._setup(price, quantity, billing_day, frequency, billing_type))

    async def _setup(
        self,
        price: str,
        quantity: int,
        billing_day: int,
        frequency: BillingFrequency,
        billing_type: BillingType,
    ) -> None:
        await _empty()
        factory.pin_today(self.today)
        account = await factory.account(billing_day_of_month=billing_day)
        item = await factory.product(price, frequency=frequency, billing_type=billing_type)
        contract, _ = await factory.contract(account, item, self.start, quantity=quantity)
        assert contract.end_date is not None
        self.account_id, self.contract_id, self.end = account.id, contract.id, contract.end_date
        self.line_id = (await ContractLine.get(contract_id=contract.id)).id
        await self._sync()

    async def _sync(self, recut: bool = False) -> None:
        """Take in new order products and (after a change of billing day) re-cut lines."""
        ops = await OrderProduct.filter(
            contract_id=self.contract_id, order__status=OrderStatus.ACTIVATED
        ).order_by("id")
        for op in ops:
            if op.id not in self.ops:
                self.created += 1
                self.ops[op.id] = model_of(op, self.created)
        rows = await ScheduleLine.filter(account_id=self.account_id, removed=False, is_credit=False)
        if recut:
            for row in rows:
                if row.id not in self.live and row.order_product_id in self.ops:
                    self.ops[row.order_product_id].raw.update(day_values(_line(row)))
        self.live = {row.id for row in rows}

    # --- steps ------------------------------------------------------------------

    def advance(self, days: int) -> None:
        self.today = min(self.today + timedelta(days=days), self.end + timedelta(days=40))
        factory.pin_today(self.today)

    @rule(
        days=st.sampled_from([0, 0, 1, 9, 17, 31, 45]),
        ahead=st.integers(0, 40),
        by_run=st.booleans(),
        post=st.sampled_from([True, True, False]),
    )
    def bill(self, days: int, ahead: int, by_run: bool, post: bool) -> None:
        """Let ``days`` pass, then bill up to ``ahead`` days after today."""
        self.advance(days)
        target = self.today + timedelta(days=ahead)
        billing = factory.bill_by_run if by_run else factory.bill
        self.run(billing(self.account_id, target, self.today))
        self.run(self._sync())
        if post:
            self.post()
        event("bill")

    def post(self) -> None:
        async def post_all() -> None:
            for draft in await Invoice.filter(
                account_id=self.account_id, status=InvoiceStatus.DRAFT
            ).order_by("id"):
                await post_invoice(SYSTEM, draft.id)
                self.posted += 1

        self.run(post_all())

    @precondition(lambda self: self.posted > 0)
    @rule(pick=st.integers(0, 20))
    def credit_without_rebill(self, pick: int) -> None:
        self.credit(pick, rebill=False)

    @precondition(lambda self: self.posted > 0)
    @rule(pick=st.integers(0, 20))
    def credit_and_rebill(self, pick: int) -> None:
        self.credit(pick, rebill=True)

    @precondition(lambda self: not self.cancelled)
    @rule(offset=st.integers(-45, 45))
    def drop_to_one(self, offset: int) -> None:
        """A reduction whenever more than one unit is in effect."""
        self.amend(1, offset)

    def credit(self, pick: int, rebill: bool) -> None:
        async def go() -> str:
            credited = await Invoice.filter(
                account_id=self.account_id, reverses_id__not_isnull=True
            ).values_list("reverses_id", flat=True)
            posted = await Invoice.filter(
                account_id=self.account_id,
                status=InvoiceStatus.POSTED,
                document_type=DocumentType.INVOICE,
                id__not_in=list(credited),
            ).order_by("id")
            if not posted:
                return "nothing to credit"
            invoice = posted[pick % len(posted)]
            lines = await InvoiceLine.filter(invoice_id=invoice.id)
            try:
                await credit_invoice(SYSTEM, invoice.id, rebill=rebill)
            except DomainError as error:
                return f"credit refused: {error.code.value}"
            if not rebill:
                for line in lines:
                    if line.amount > 0 and line.order_product_id in self.ops:
                        model = self.ops[line.order_product_id]
                        model.waived.update(days_of(line.period_start, line.period_end))
            return f"credit rebill={rebill}" + (" after a termination" if self.terminated else "")

        event(self.run(go()))
        self._neutralise()

    def _effective(self, offset: int) -> date:
        day = self.today + timedelta(days=offset)
        return max(self.start, self.latest_amendment or self.start, min(day, self.end))

    @precondition(lambda self: not self.cancelled)
    @rule(quantity=st.integers(0, 4), offset=st.integers(-45, 45))
    def amend_line(self, quantity: int, offset: int) -> None:
        self.amend(quantity, offset)

    def amend(self, quantity: int, offset: int) -> None:
        effective = self._effective(offset)
        done = self.attempt(
            amend_contract(
                SYSTEM,
                AmendmentInput(
                    self.contract_id,
                    effective,
                    [ChangeInput(quantity=quantity, contract_line_id=self.line_id)],
                ),
            )
        )
        if not done:
            event("amendment refused")
            return
        event("reduction" if 0 < quantity < self.quantity else f"amendment to {quantity}")
        self.latest_amendment = effective
        self.quantity = quantity or self.quantity
        if quantity == 0:
            self._terminate(effective - ONE)
        self.run(self._sync())
        self._neutralise()

    @precondition(lambda self: not self.cancelled)
    @rule(offset=st.integers(-45, 45))
    def cancel(self, offset: int) -> None:
        effective = self._effective(offset)
        if self.attempt(cancel_contract(SYSTEM, self.contract_id, effective)):
            event("cancelContract")
            self.cancelled = True
            self._terminate(effective - ONE)
            self.run(self._sync())

    def _terminate(self, cut: date) -> None:
        self.terminated = True
        for model in self.ops.values():
            model.end = min(model.end, cut)

    @precondition(lambda self: not self.cancelled)
    @rule(
        offset=st.integers(-20, 60),
        through=st.booleans(),
        pick=st.integers(0, 9),
        share=st.integers(0, 99),
    )
    def override(self, offset: int, through: bool, pick: int, share: int) -> None:
        """A next-billing-date override on the contract, or a bill-through override on
        one order product's first unbilled line."""
        if through:
            self.bill_through(pick, share)
        else:
            self.next_billing_date(offset)

    def next_billing_date(self, offset: int) -> None:
        when = self.today + timedelta(days=offset)
        done = self.attempt(
            override_billing_dates(
                SYSTEM, OverrideInput(contract_id=self.contract_id, next_billing_date=when)
            )
        )
        event("next billing date" if done else "next billing date refused")

    def bill_through(self, pick: int, share: int) -> None:
        async def go() -> str:
            ops = await OrderProduct.filter(
                contract_id=self.contract_id, order__status=OrderStatus.ACTIVATED
            ).order_by("id")
            op = ops[pick % len(ops)]
            stored = (await schedules_of([op]))[op.id]
            index = first_unbilled(stored)
            if index is None:
                return "bill-through: nothing unbilled"
            line = stored[index].line
            span = (line.end - line.start).days
            if span < 1:
                return "bill-through: a one-day line"
            through = line.start + timedelta(days=share * span // 100)
            try:
                await override_billing_dates(
                    SYSTEM, OverrideInput(order_product_id=op.id, bill_through_date=through)
                )
            except DomainError:
                return "bill-through refused"
            # the two parts share the line's days at the same values
            parts = await ScheduleLine.filter(
                order_product_id=op.id,
                removed=False,
                is_credit=False,
                period_start__gte=line.start,
            ).filter(period_end__lte=line.end)
            joined: dict[date, Fraction] = {}
            for row in parts:
                joined.update(day_values(_line(row)))
            assert joined == day_values(line)
            return "bill-through"

        event(self.run(go()))
        self.run(self._sync())

    @precondition(lambda self: not self.cancelled)
    @rule(day=st.sampled_from([1, 10, 15, 28, 31]))
    def change_day(self, day: int) -> None:
        before = self.run(self._values())
        if self.attempt(change_billing_day(SYSTEM, self.contract_id, day)):
            event("change of billing day")
            # a re-cut moves value between days, never in or out of an order product
            assert self.run(self._values()) == before
            self.run(self._sync(recut=True))

    async def _values(self) -> dict[int, Fraction]:
        """The exact value of each order product's live regular lines."""
        totals: dict[int, Fraction] = {}
        for row in await ScheduleLine.filter(
            account_id=self.account_id, removed=False, is_credit=False
        ):
            totals[row.order_product_id] = totals.get(row.order_product_id, Fraction(0)) + (
                _line(row).value
            )
        return totals

    # --- the model's own rule for reductions ---------------------------------------

    def _neutralise(self) -> None:
        """A reduction gives nothing back for a day on which every order product of the
        line in effect was credited without rebill (the day is *closed*, at 0 already):
        its unbilled lines lose those days; a billed line is taken back when every day
        of it still in effect is closed (docs/billing-rules.md 10.3, 10.8)."""
        positives = [m for m in self.ops.values() if m.quantity > 0]
        reductions = [m for m in self.ops.values() if m.quantity < 0]
        if not reductions:
            return
        lines = self.run(self._regular_lines([m.op_id for m in reductions]))
        for reduction in reductions:
            closed = set()
            for day in days_of(reduction.start, reduction.end):
                covering = [m for m in positives if m.start <= day <= m.end]
                if covering and all(day in m.waived for m in covering):
                    closed.add(day)
            for start, end, billed in lines.get(reduction.op_id, []):
                days = set(days_of(start, end)) & closed
                if not days:
                    continue
                valued = {
                    day
                    for day in days_of(start, min(end, reduction.end))
                    if reduction.raw.get(day) and day not in reduction.neutral
                }
                if not billed or valued <= closed:
                    reduction.neutral.update(days)

    async def _regular_lines(self, op_ids: list[int]) -> dict[int, list[tuple[date, date, bool]]]:
        rows = await ScheduleLine.filter(
            order_product_id__in=op_ids, removed=False, is_credit=False
        )
        billing = set(
            await InvoiceLine.filter(
                schedule_line_id__in=[r.id for r in rows], bills=True
            ).values_list("schedule_line_id", flat=True)
        )
        result: dict[int, list[tuple[date, date, bool]]] = {}
        for row in rows:
            result.setdefault(row.order_product_id, []).append(
                (row.period_start, row.period_end, row.id in billing)
            )
        return result

    # --- the invariant ------------------------------------------------------------------

    @invariant()
    def each_day_nets_its_value_in_effect(self) -> None:
        if not self.ops:
            return
        ledger = self.run(read_ledger(self.account_id, "USD"))
        problems = []
        for op_id, model in self.ops.items():
            net = ledger.net.get(op_id, {})
            tolerance = ledger.tolerance.get(op_id, {})
            days = set(net) | {d for d in model.raw if model.expected(d)}
            for day in sorted(days):
                got = net.get(day, Fraction(0))
                want = model.expected(day)
                if abs(got - want) > tolerance.get(day, Fraction(0)) + Fraction(1, 10**9):
                    problems.append(
                        f"order product {op_id} (quantity {model.quantity}) on {day}: "
                        f"net {float(got):.4f}, expected {float(want):.4f}"
                    )
        assert not problems, "\n".join(problems[:12])


def _line(row: ScheduleLine):  # type: ignore[no-untyped-def]
    from orbit.services.schedules import line_of

    return line_of(row)


async def test_each_day_is_credited_at_most_once_in_any_order() -> None:
    CreditMachine.loop = asyncio.get_running_loop()
    await asyncio.to_thread(
        run_state_machine_as_test,
        CreditMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    if os.environ.get("ORBIT_CREDIT_STATS"):
        print(sorted(OUTCOMES.items()))

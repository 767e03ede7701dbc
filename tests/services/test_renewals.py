"""Renewals: renewContract, upcoming renewals for account teams, the renewal worker."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from orbit.db.models import (
    Contract,
    ContractLine,
    Order,
    OrderStatus,
    OrderType,
)
from orbit.engine.enums import ChargeType, ContractStatus
from orbit.services.access import Actor
from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract, cancel_contract
from orbit.services.contracts import LineInput, renew_contract
from orbit.services.errors import Code
from orbit.services.renewals import RenewalWindow, process_renewals, upcoming_renewals
from tests.services import factory
from tests.services.factory import SYSTEM, d, refused


async def test_a_renewal_continues_the_contract_at_uplifted_prices() -> None:
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    extra = await factory.product("10.00", name="Extra")
    annual = await factory.product("1000.00", term=12, name="Platform")
    setup = await factory.product("500.00", charge_type=ChargeType.ONE_TIME, name="Setup")
    contract, _ = await factory.contract(
        acme,
        seats,
        date(2026, 1, 15),
        auto_renew=True,
        renewal_notice_days=45,
        renewal_uplift_percent=Decimal("3.333"),
        billing_day_of_month=1,
        lines=[
            LineInput(seats.id, 2),
            LineInput(extra.id, 1),
            LineInput(annual.id, 1),
            LineInput(setup.id, 1),
        ],
    )
    lines = {line.product_id: line for line in await ContractLine.filter(contract_id=contract.id)}
    # in effect on the end date: 3 seats, no extra
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id,
            date(2026, 6, 1),
            [
                ChangeInput(quantity=3, contract_line_id=lines[seats.id].id),
                ChangeInput(quantity=0, contract_line_id=lines[extra.id].id),
            ],
        ),
    )

    renewal, order = await renew_contract(SYSTEM, contract.id)
    assert (renewal.start_date, renewal.end_date) == (d("2027-01-15"), d("2028-01-14"))
    assert (renewal.term_months, renewal.anniversary_day, renewal.renewal_of_id) == (
        12,
        15,
        contract.id,
    )
    assert (
        renewal.billing_day_of_month,
        renewal.renewal_notice_days,
        renewal.auto_renew,
        renewal.renewal_uplift_percent,
    ) == (1, 45, True, Decimal("3.333"))
    assert renewal.status is ContractStatus.ACTIVE
    assert renewal.notice_deadline == d("2027-11-30")
    stored_order = await Order.get(id=order.id)
    assert (stored_order.type, stored_order.status) == (OrderType.RENEWAL, OrderStatus.ACTIVATED)
    assert (await Contract.get(id=contract.id)).status is ContractStatus.RENEWED

    ops = await factory.order_products(order)
    assert [(op.product_id, op.quantity, op.unit_price) for op in ops] == [
        (seats.id, 3, Decimal("31.00")),  # 30.00 x 1.03333 = 30.9999 -> 31.00
        (annual.id, 1, Decimal("1033.33")),
    ]
    assert [op.total_amount for op in ops] == [Decimal("1116.00"), Decimal("1033.33")]
    await refused(renew_contract(SYSTEM, contract.id), Code.INVALID_STATE)


async def test_a_chain_of_renewals_keeps_the_anniversary_day() -> None:
    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 1, 29), months=1)
    assert contract.end_date == d("2026-02-27")  # the day before Feb 28, the clamped 29th
    terms = []
    for _ in range(3):
        contract, _ = await renew_contract(SYSTEM, contract.id)
        terms.append((contract.start_date, contract.end_date))
    assert terms == [
        (d("2026-02-28"), d("2026-03-28")),
        (d("2026-03-29"), d("2026-04-28")),
        (d("2026-04-29"), d("2026-05-28")),
    ]


@pytest.mark.parametrize(
    ("created", "requested", "months", "end"),
    [
        ({"months": 6, "renewal_term_months": 24}, None, 24, "2028-09-30"),
        ({"months": 6}, None, 6, "2027-03-31"),
        ({"months": None, "end_date": date(2026, 9, 30)}, None, 12, "2027-09-30"),
        ({"months": 6, "renewal_term_months": 24}, 3, 3, "2026-12-31"),
    ],
    ids=["renewal-term", "original-term", "twelve-by-default", "requested-term"],
)
async def test_the_renewal_term(
    created: dict[str, object], requested: int | None, months: int, end: str
) -> None:
    factory.pin_today(date(2026, 4, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 4, 1), **created)
    assert contract.end_date == d("2026-09-30")
    renewal, _ = await renew_contract(SYSTEM, contract.id, term_months=requested)
    assert (renewal.start_date, renewal.term_months, renewal.end_date) == (
        d("2026-10-01"),
        months,
        d(end),
    )


async def test_renew_contract_refuses_what_cannot_renew() -> None:
    factory.pin_today(date(2026, 4, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    evergreen, _ = await factory.contract(acme, seats, date(2026, 4, 1), months=None)
    await refused(renew_contract(SYSTEM, evergreen.id), Code.INVALID_STATE)
    draft, _ = await factory.contract(acme, seats, date(2026, 4, 1), activate=False)
    await refused(renew_contract(SYSTEM, draft.id), Code.INVALID_STATE)
    cancelled, _ = await factory.contract(acme, seats, date(2026, 4, 1))
    await cancel_contract(SYSTEM, cancelled.id, date(2026, 5, 1))
    await refused(renew_contract(SYSTEM, cancelled.id), Code.INVALID_STATE)
    active, _ = await factory.contract(acme, seats, date(2026, 4, 1))
    await refused(renew_contract(SYSTEM, active.id, term_months=0), Code.INVALID)
    await refused(renew_contract(SYSTEM, active.id, uplift_percent=Decimal(-100)), Code.INVALID)
    await refused(renew_contract(SYSTEM, 999_999), Code.NOT_FOUND)


class Pipeline:
    """Contracts around asOf 2026-10-01 (90-day window to 12-30), notice 60 days:

    ========  ==========  ===============  ======  ==========
    contract  end date    notice deadline  owner   autoRenew
    ========  ==========  ===============  ======  ==========
    soon      2026-10-01  2026-08-02       bob     no
    october   2026-10-31  2026-09-01       alice   no
    late      2026-12-30  2026-10-31       alice   yes
    year_end  2026-12-31  2026-11-01       bob     no
    ========  ==========  ===============  ======  ==========

    plus an evergreen, a cancelled and a renewed contract that never show.
    """

    async def build(self) -> Pipeline:
        factory.pin_today(date(2026, 1, 1))
        self.alice = await factory.user(name="Alice")
        self.bob = await factory.user(name="Bob")
        ours = await factory.account(billing_day_of_month=1, owner_id=self.alice.id)
        theirs = await factory.account(billing_day_of_month=1, owner_id=self.bob.id)
        self.seats = await factory.product("30.00")
        self.annual = await factory.product("1200.00", term=12, name="Platform")
        self.setup = await factory.product("999.00", charge_type=ChargeType.ONE_TIME)

        async def make(owner: object, start: date, **kwargs: object) -> Contract:
            contract, _ = await factory.contract(
                owner,
                self.seats,
                start,  # type: ignore[arg-type]
                **kwargs,
            )
            return contract

        self.soon = await make(theirs, date(2025, 10, 2))
        self.october = await make(
            ours,
            date(2025, 11, 1),
            renewal_uplift_percent=Decimal("3.5"),
            lines=[
                LineInput(self.seats.id, 2),
                LineInput(self.annual.id, 1),
                LineInput(self.setup.id, 1),  # one-time: in no annual value
            ],
        )
        self.late = await make(ours, date(2025, 12, 31), auto_renew=True)
        self.year_end = await make(theirs, date(2026, 1, 1))
        await make(ours, date(2025, 11, 15), months=None)
        cancelled = await make(ours, date(2025, 11, 15))
        await cancel_contract(SYSTEM, cancelled.id, date(2026, 9, 1))
        renewed = await make(theirs, date(2025, 11, 15))
        await renew_contract(SYSTEM, renewed.id)
        return self


@pytest.fixture
async def pipeline() -> Pipeline:
    return await Pipeline().build()


AS_OF = date(2026, 10, 1)


async def _ids(**kwargs: object) -> list[int]:
    found = await upcoming_renewals(
        SYSTEM,
        within_days=90,
        as_of=AS_OF,  # type: ignore[arg-type]
        **kwargs,
    )
    return [r.contract.id for r in found]


async def test_upcoming_renewals_by_end_date_and_by_notice_deadline(pipeline: Pipeline) -> None:
    p = pipeline
    assert await _ids(by=RenewalWindow.END_DATE) == [p.soon.id, p.october.id, p.late.id]
    assert await _ids(by=RenewalWindow.NOTICE_DEADLINE) == [p.late.id, p.year_end.id]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"owner": "alice"}, ["october", "late"]),
        ({"owner": "bob"}, ["soon"]),
        ({"auto_renew": True}, ["late"]),
        ({"auto_renew": False}, ["soon", "october"]),
        ({"owner": "alice", "auto_renew": False}, ["october"]),
    ],
)
async def test_upcoming_renewals_filters(
    pipeline: Pipeline, filters: dict[str, object], expected: list[str]
) -> None:
    owner = filters.pop("owner", None)
    if owner is not None:
        filters["owner_id"] = getattr(pipeline, str(owner)).id
    assert await _ids(**filters) == [getattr(pipeline, name).id for name in expected]


async def test_upcoming_renewals_page_by_keyset(pipeline: Pipeline) -> None:
    first = await upcoming_renewals(SYSTEM, 90, AS_OF, limit=2)
    assert [r.contract.id for r in first] == [pipeline.soon.id, pipeline.october.id]
    last = first[-1]
    rest = await upcoming_renewals(
        SYSTEM, 90, AS_OF, limit=2, after=(last.end_date, last.contract.id)
    )
    assert [r.contract.id for r in rest] == [pipeline.late.id]
    assert (
        await upcoming_renewals(
            SYSTEM, 90, AS_OF, limit=2, after=(rest[0].end_date, rest[0].contract.id)
        )
        == []
    )


async def test_upcoming_renewal_values(pipeline: Pipeline) -> None:
    found = {r.contract.id: r for r in await upcoming_renewals(SYSTEM, 90, AS_OF)}
    october = found[pipeline.october.id]
    assert (october.end_date, october.notice_deadline) == (d("2026-10-31"), d("2026-09-01"))
    # 12 x (2 x 30.00 + 1,200.00 / 12); uplifted 3.5%: 31.05 and 1,242.00
    assert october.current_annual_value == Decimal("1920.00")
    assert october.forecast_annual_value == Decimal("1987.20")
    soon = found[pipeline.soon.id]
    assert (soon.current_annual_value, soon.forecast_annual_value) == (
        Decimal("360.00"),
        Decimal("360.00"),
    )


async def test_an_account_manager_sees_only_their_own_renewals(pipeline: Pipeline) -> None:
    alice = Actor(pipeline.alice.id, pipeline.alice.role)
    found = await upcoming_renewals(alice, 90, AS_OF)
    assert [r.contract.id for r in found] == [pipeline.october.id, pipeline.late.id]
    assert await upcoming_renewals(alice, 90, AS_OF, owner_id=pipeline.bob.id) == []


async def test_the_worker_renews_on_the_end_date_and_expires_the_day_after() -> None:
    from datetime import UTC, datetime

    from orbit import clock

    factory.pin_today(date(2026, 1, 1))
    utc = await factory.account(billing_day_of_month=1)
    ahead = await factory.account(billing_day_of_month=1, timezone="Pacific/Kiritimati")
    seats = await factory.product("30.00")
    renews_today, _ = await factory.contract(utc, seats, date(2025, 7, 1), auto_renew=True)
    renews_tomorrow, _ = await factory.contract(utc, seats, date(2025, 7, 2), auto_renew=True)
    ended_yesterday, _ = await factory.contract(utc, seats, date(2025, 6, 30))
    ends_today, _ = await factory.contract(utc, seats, date(2025, 7, 1))
    ended_there, _ = await factory.contract(ahead, seats, date(2025, 7, 1))  # it is 07-01 there

    clock.pin(datetime(2026, 6, 30, 12, 0, tzinfo=UTC))
    assert await process_renewals() == (1, 2)
    status = {c.id: c.status for c in await Contract.filter(renewal_of_id=None)}
    assert status[renews_today.id] is ContractStatus.RENEWED
    assert status[renews_tomorrow.id] is ContractStatus.ACTIVE
    assert status[ended_yesterday.id] is ContractStatus.EXPIRED
    assert status[ends_today.id] is ContractStatus.ACTIVE
    assert status[ended_there.id] is ContractStatus.EXPIRED
    renewal = await Contract.get(renewal_of_id=renews_today.id)
    assert (renewal.start_date, renewal.status) == (d("2026-07-01"), ContractStatus.ACTIVE)
    assert await process_renewals() == (0, 0)


async def test_an_expired_contract_still_bills_its_last_arrears_line() -> None:
    from orbit.engine.enums import BillingType

    factory.pin_today(date(2026, 1, 1))
    acme = await factory.account(billing_day_of_month=1)
    usage = await factory.product("30.00", billing_type=BillingType.ARREARS)
    contract, _ = await factory.contract(acme, usage, date(2026, 1, 1), months=3)
    assert (await factory.bill(acme, date(2026, 3, 31))).total == Decimal("60.00")
    factory.pin_today(date(2026, 4, 1))
    assert await process_renewals() == (0, 1)
    assert (await Contract.get(id=contract.id)).status is ContractStatus.EXPIRED
    invoice = await factory.bill(acme, date(2026, 4, 1))
    assert invoice is not None
    assert await factory.document_lines(invoice) == [
        (d("2026-03-01"), d("2026-03-31"), Decimal("30.00"))
    ]


async def test_a_contract_with_nothing_left_to_renew_does_not_renew() -> None:
    factory.pin_today(date(2026, 3, 1))
    acme = await factory.account(billing_day_of_month=1)
    seats = await factory.product("30.00")
    contract, _ = await factory.contract(acme, seats, date(2026, 3, 1), auto_renew=True)
    line = await ContractLine.get(contract_id=contract.id)
    await amend_contract(
        SYSTEM,
        AmendmentInput(
            contract.id, date(2026, 6, 1), [ChangeInput(quantity=0, contract_line_id=line.id)]
        ),
    )
    await refused(renew_contract(SYSTEM, contract.id), Code.INVALID_STATE)

"""Upcoming renewals for account teams, and the renewals and expiries workers do."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Any

from tortoise.expressions import Q

from orbit import clock
from orbit.db.models import Account, Contract, OrderProduct, OrderStatus
from orbit.engine.enums import ChargeType, ContractStatus
from orbit.engine.terms import RecurringRate, annual_value, uplifted_price
from orbit.services import faults
from orbit.services.access import Actor

log = logging.getLogger("orbit.renewals")


class RenewalWindow(str, Enum):
    END_DATE = "END_DATE"
    NOTICE_DEADLINE = "NOTICE_DEADLINE"


@dataclass(frozen=True)
class UpcomingRenewal:
    contract: Contract
    as_of: date
    current_annual_value: Decimal
    forecast_annual_value: Decimal

    @property
    def end_date(self) -> date:
        assert self.contract.end_date is not None
        return self.contract.end_date

    @property
    def notice_deadline(self) -> date:
        return self.end_date - timedelta(days=self.contract.renewal_notice_days)


def _window_field(by: RenewalWindow) -> str:
    return "end_date" if by is RenewalWindow.END_DATE else "notice_deadline"


async def upcoming_renewals(
    actor: Actor,
    within_days: int = 90,
    as_of: date | None = None,
    by: RenewalWindow = RenewalWindow.END_DATE,
    owner_id: int | None = None,
    auto_renew: bool | None = None,
    limit: int = 50,
    after: tuple[date, int] | None = None,
) -> list[UpcomingRenewal]:
    """ACTIVE contracts whose end date or notice deadline falls in [as_of, as_of +
    within_days], soonest first (keyset: (date, id) after ``after``)."""
    as_of = as_of or clock.today()
    field = _window_field(by)
    query = Contract.filter(
        status=ContractStatus.ACTIVE,
        **{f"{field}__gte": as_of, f"{field}__lte": as_of + timedelta(days=within_days)},
    )
    scope = actor.owner_scope
    if scope is not None:
        if owner_id is not None and owner_id != scope:
            return []
        query = query.filter(owner_id=scope)
    elif owner_id is not None:
        query = query.filter(owner_id=owner_id)
    if auto_renew is not None:
        query = query.filter(auto_renew=auto_renew)
    if after is not None:
        later: dict[str, Any] = {f"{field}__gt": after[0]}
        same_day: dict[str, Any] = {field: after[0], "id__gt": after[1]}
        query = query.filter(Q(**later) | Q(**same_day))
    contracts = await query.order_by(field, "id").limit(limit).select_related("account")
    values = await annual_values(contracts)
    return [UpcomingRenewal(c, as_of, *values[c.id]) for c in contracts]


async def annual_values(contracts: Sequence[Contract]) -> dict[int, tuple[Decimal, Decimal]]:
    """(current, forecast) annual recurring value at each contract's end date, from the
    contracts' activated order products (which carry their line's price and term)."""
    if not contracts:
        return {}
    ops = await OrderProduct.filter(
        contract_id__in=[c.id for c in contracts],
        order__status=OrderStatus.ACTIVATED,
        charge_type=ChargeType.RECURRING,
    ).values(
        "contract_id",
        "contract_line_id",
        "quantity",
        "start_date",
        "end_date",
        "unit_price",
        "pricing_term_months",
    )
    by_contract = {c.id: c for c in contracts}
    quantities: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    prices: dict[int, tuple[Decimal, int]] = {}
    for op in ops:
        when = by_contract[op["contract_id"]].end_date
        prices[op["contract_line_id"]] = (op["unit_price"], op["pricing_term_months"])
        if (
            when is not None
            and op["start_date"] <= when
            and (op["end_date"] is None or when <= op["end_date"])
        ):
            quantities[op["contract_id"]][op["contract_line_id"]] += op["quantity"]
    result = {}
    for contract in contracts:
        currency = contract.account.currency
        current, forecast = [], []
        for line_id, quantity in quantities[contract.id].items():
            if quantity < 1:
                continue
            unit_price, term = prices[line_id]
            current.append(RecurringRate(quantity, unit_price, term))
            uplifted = uplifted_price(unit_price, contract.renewal_uplift_percent, currency)
            forecast.append(RecurringRate(quantity, uplifted, term))
        result[contract.id] = (annual_value(current, currency), annual_value(forecast, currency))
    return result


async def annual_recurring_value(contract: Contract, on: date) -> Decimal:
    """12 x the monthly rates of the contract's recurring lines in effect on ``on``."""
    from orbit.services.contracts import lines_in_effect

    account = await Account.get(id=contract.account_id)
    rates = [
        RecurringRate(line.quantity, line.unit_price, line.pricing_term_months)
        for line in await lines_in_effect(contract, on)
        if line.charge_type is ChargeType.RECURRING and line.quantity != 0
    ]
    return annual_value(rates, account.currency)


class Outcome(str, Enum):
    RENEWED = "RENEWED"
    EXPIRED = "EXPIRED"
    UNCHANGED = "UNCHANGED"


#: the audit action recorded on a contract the worker could not renew or expire
FAILED_ACTION = "contract.renewal_failed"


async def process_renewals(retry_transient: bool = False) -> tuple[int, int]:
    """Renew auto-renew contracts that reached their end date; expire the others the
    day after. Returns (renewed, expired).

    Each contract is renewed or expired in its own transaction. One that fails
    (bad data, an amount that does not fit) is recorded on the contract (an audit
    event ``contract.renewal_failed`` with the message, written once per distinct
    failure) and logged, stays ACTIVE to be tried again next time, and the others
    proceed. A connection or concurrency fault is attempted again a few times; if
    it does not clear, ``TransientError`` is raised when ``retry_transient`` (the job
    retries later), else it is recorded like any other failure.
    """
    horizon = clock.today("Pacific/Kiritimati")
    candidates = (
        await Contract.filter(status=ContractStatus.ACTIVE, end_date__lte=horizon)
        .select_related("account")
        .order_by("end_date", "id")
    )
    renewed = expired = 0
    for contract in candidates:
        outcome = await faults.isolated(
            partial(_renew_or_expire, contract),
            partial(faults.record_failure, FAILED_ACTION, contract),
            what=f"renewal or expiry of contract {contract.id}",
            retry_transient=retry_transient,
        )
        if outcome is Outcome.RENEWED:
            renewed += 1
        elif outcome is Outcome.EXPIRED:
            expired += 1
    return renewed, expired


async def _renew_or_expire(contract: Contract) -> Outcome:
    from tortoise.transactions import in_transaction

    from orbit.services.audit import record
    from orbit.services.contracts import renew_contract
    from orbit.services.errors import Code, DomainError

    assert contract.end_date is not None
    system = Actor.system()
    today = clock.today(contract.account.timezone)
    if contract.auto_renew and contract.end_date <= today:
        try:
            await renew_contract(system, contract.id)
            return Outcome.RENEWED
        except DomainError as error:
            if error.code is not Code.INVALID_STATE:
                # refused for its data (a renewal whose uplifted amounts would not fit):
                # a failure of this contract, recorded; it stays ACTIVE, never expires
                raise
            # the contract cannot renew (nothing left to renew, already renewed): it
            # expires like one that does not renew
            log.info("contract %s not renewed: %s", contract.id, error)
    if contract.end_date < today:
        async with in_transaction():
            done = await Contract.filter(id=contract.id, status=ContractStatus.ACTIVE).update(
                status=ContractStatus.EXPIRED
            )
            if done:
                await record(system, "contract.expire", contract, {"endDate": contract.end_date})
                return Outcome.EXPIRED
    return Outcome.UNCHANGED

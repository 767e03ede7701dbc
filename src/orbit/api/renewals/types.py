"""Upcoming renewals, for account teams."""

from __future__ import annotations

from datetime import date

import strawberry

from orbit.api.accounts.types import Account, User
from orbit.api.common import Money
from orbit.api.context import Info
from orbit.api.contracts.types import Contract
from orbit.api.pagination import PageInfo
from orbit.services.renewals import UpcomingRenewal


@strawberry.type
class Renewal:
    end_date: date
    days_until_end: int
    notice_deadline: date = strawberry.field(
        description="endDate minus renewalNoticeDays: the last day to contact the customer."
    )
    days_until_notice_deadline: int
    auto_renew: bool
    current_annual_value: Money
    forecast_annual_value: Money = strawberry.field(
        description="From the uplifted, rounded unit prices."
    )
    item: strawberry.Private[UpcomingRenewal]

    @classmethod
    def of(cls, item: UpcomingRenewal) -> Renewal:
        currency = item.contract.account.currency
        return cls(
            end_date=item.end_date,
            days_until_end=(item.end_date - item.as_of).days,
            notice_deadline=item.notice_deadline,
            days_until_notice_deadline=(item.notice_deadline - item.as_of).days,
            auto_renew=item.contract.auto_renew,
            current_annual_value=Money.of(item.current_annual_value, currency),
            forecast_annual_value=Money.of(item.forecast_annual_value, currency),
            item=item,
        )

    @strawberry.field
    def contract(self) -> Contract:
        return Contract.of(self.item.contract)

    @strawberry.field
    def account(self) -> Account:
        return Account.of(self.item.contract.account)

    @strawberry.field(description="The account's owner.")
    async def owner(self, info: Info) -> User | None:
        owner_id = self.item.contract.account.owner_id
        if owner_id is None:
            return None
        row = await info.context.loaders.user.load(owner_id)
        return User.of(row) if row else None


@strawberry.type
class RenewalEdge:
    cursor: str
    node: Renewal


@strawberry.type
class RenewalConnection:
    edges: list[RenewalEdge]
    page_info: PageInfo

"""Demo data: a small, realistic book of business to explore Orbit with.

Twenty customer accounts in six currencies, four account managers and a finance
user, a product catalog, and about a year and a half of history: contracts
signed, amended, renewed, cancelled and expired; invoice runs on the 1st and the
15th of every month, posted; payments (prompt, slow, partial, stopped); credit
notes; billing holds. See docs/demo.md for the tour.

Everything is written through the services, as ``Actor.system()``, so the data
obeys every rule a user would meet. The data itself is fixed; its dates are
relative to ``orbit.clock.today()`` (month offsets and days of the month), so it
always looks current. The history is replayed in date order: a contract is
signed before it starts, an amendment is quoted before it takes effect, each
run bills what was due on its date, and a payment arrives after its invoice.
Two things cannot be backdated: documents are posted (and credit notes issued)
with today's date, as the services do, so ``postedOn`` is the load date for the
whole history, and so is every application's date.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from orbit import clock
from orbit.engine.calendar import clamped, shift_month
from orbit.engine.enums import (
    BillingFrequency,
    BillingType,
    ChargeType,
    PartialPeriodTreatment,
    ProrationPolicy,
)
from orbit.engine.money import minor_units

#: how many months of history the demo replays (the oldest contract starts then)
HISTORY_MONTHS = 16
#: invoice runs happen on these days of every month
RUN_DAYS = (1, 15)

# --------------------------------------------------------------------------------------
# The fixed data
# --------------------------------------------------------------------------------------

DOMAIN = "orbit-demo.example"


@dataclass(frozen=True)
class DemoUser:
    key: str
    name: str
    role: str  # a Role value


USERS = (
    DemoUser("maya", "Maya Lindqvist", "ACCOUNT_MANAGER"),  # North America
    DemoUser("tomas", "Tomás Okafor", "ACCOUNT_MANAGER"),  # UK and Benelux, France
    DemoUser("jonas", "Jonas Weber", "ACCOUNT_MANAGER"),  # DACH and Iberia
    DemoUser("priya", "Priya Raman", "ACCOUNT_MANAGER"),  # APAC and the Gulf
    DemoUser("grace", "Grace Liu", "FINANCE"),
)


def user_email(user: DemoUser) -> str:
    return f"{user.key}@{DOMAIN}"


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    charge: ChargeType
    frequency: BillingFrequency
    billing_type: BillingType
    term_months: int
    #: list price (in USD; other currencies get their own prices from PRICES)
    price: str


M, Q, A = BillingFrequency.MONTHLY, BillingFrequency.QUARTERLY, BillingFrequency.ANNUAL
ADV, ARR = BillingType.ADVANCE, BillingType.ARREARS
REC, ONE = ChargeType.RECURRING, ChargeType.ONE_TIME

PRODUCTS = (
    DemoProduct("ORB-PLAT-M", "Orbit Platform seat (monthly)", REC, M, ADV, 1, "45.00"),
    DemoProduct("ORB-PLAT-A", "Orbit Platform seat (annual)", REC, A, ADV, 12, "480.00"),
    DemoProduct("ORB-ENT-A", "Orbit Enterprise seat (annual)", REC, A, ADV, 12, "720.00"),
    DemoProduct("ORB-ANALYTICS", "Analytics add-on seat", REC, M, ADV, 1, "15.00"),
    DemoProduct("ORB-SSO", "SSO and audit log", REC, A, ADV, 12, "1800.00"),
    DemoProduct("ORB-SUPPORT-PREM", "Premium support (per quarter)", REC, Q, ADV, 3, "1200.00"),
    DemoProduct("ORB-SANDBOX", "Sandbox environment", REC, Q, ADV, 1, "200.00"),
    DemoProduct(
        "ORB-API-100K", "API calls, block of 100k (billed in arrears)", REC, M, ARR, 1, "90.00"
    ),
    DemoProduct("ORB-STORAGE-TB", "Storage, per TB (billed in arrears)", REC, M, ARR, 1, "25.00"),
    DemoProduct("ORB-SETUP", "Onboarding and setup", ONE, M, ADV, 1, "2500.00"),
    DemoProduct("ORB-TRAINING", "Admin training day", ONE, M, ADV, 1, "1200.00"),
)

#: unit prices per currency (USD uses the list prices above)
PRICES: dict[str, dict[str, str]] = {
    "EUR": {
        "ORB-PLAT-M": "42.00",
        "ORB-PLAT-A": "450.00",
        "ORB-ANALYTICS": "14.00",
        "ORB-SUPPORT-PREM": "1100.00",
        "ORB-SANDBOX": "185.00",
        "ORB-API-100K": "85.00",
        "ORB-STORAGE-TB": "23.00",
        "ORB-SETUP": "2300.00",
        "ORB-SSO": "1650.00",
    },
    "GBP": {
        "ORB-PLAT-M": "36.00",
        "ORB-PLAT-A": "400.00",
        "ORB-ENT-A": "600.00",
        "ORB-ANALYTICS": "12.00",
        "ORB-SUPPORT-PREM": "950.00",
        "ORB-STORAGE-TB": "20.00",
        "ORB-SETUP": "2000.00",
    },
    "JPY": {
        "ORB-PLAT-M": "6800",
        "ORB-PLAT-A": "70000",
        "ORB-ANALYTICS": "2200",
        "ORB-API-100K": "12000",
        "ORB-SETUP": "350000",
        "ORB-SUPPORT-PREM": "165000",
        "ORB-TRAINING": "160000",
    },
    "BHD": {"ORB-PLAT-M": "17.250", "ORB-ANALYTICS": "5.750", "ORB-SETUP": "950.000"},
    "AUD": {"ORB-PLAT-M": "68.00", "ORB-ANALYTICS": "22.00", "ORB-STORAGE-TB": "38.00"},
}

ACTUAL = ProrationPolicy.ACTUAL_DAYS
MPD = ProrationPolicy.MONTHLY_PLUS_DAILY
CMPD = ProrationPolicy.CALENDAR_MONTHLY_PLUS_DAILY

#: payment behaviours: (days after the invoice date, share of the open balance paid)
PAYERS: dict[str, tuple[tuple[int, str], ...]] = {
    "prompt": ((16, "1"),),
    "slow": ((47, "1"),),
    "partial": ((20, "0.5"), (80, "1")),
    "none": (),
}


@dataclass(frozen=True)
class DemoAccount:
    key: str
    name: str
    currency: str
    timezone: str
    owner: str | None
    billing_day: int
    payer: str
    payment_terms: int = 30
    policy: ProrationPolicy = ACTUAL
    treatment: PartialPeriodTreatment = PartialPeriodTreatment.SEPARATE
    requires_po: bool = False
    #: invoices dated on or after the 1st of this month offset are no longer paid
    stops_paying: int | None = None


ACCOUNTS = (
    DemoAccount(
        "northwind", "Northwind Analytics, Inc.", "USD", "America/New_York", "maya", 1, "prompt"
    ),
    DemoAccount(
        "helios", "Helios Robotics", "USD", "America/Chicago", "maya", 1, "slow", payment_terms=45
    ),
    DemoAccount(
        "cobalt", "Cobalt Health Systems", "USD", "America/Los_Angeles", "maya", 1, "partial"
    ),
    DemoAccount("redwood", "Redwood Logistics", "USD", "America/Denver", "maya", 1, "prompt"),
    DemoAccount("quill", "Quill & Co.", "USD", "America/New_York", "maya", 1, "prompt"),
    DemoAccount(
        "atlas",
        "Atlas Freight Partners",
        "USD",
        "America/New_York",
        None,
        1,
        "prompt",
        stops_paying=-5,
    ),
    DemoAccount("bluefin", "Bluefin Maritime GmbH", "EUR", "Europe/Berlin", "jonas", 1, "prompt"),
    DemoAccount(
        "nordlicht",
        "Nordlicht Energie AG",
        "EUR",
        "Europe/Berlin",
        "jonas",
        15,
        "slow",
        requires_po=True,
    ),
    DemoAccount(
        "vela",
        "Vela Mobility SAS",
        "EUR",
        "Europe/Paris",
        "tomas",
        1,
        "prompt",
        treatment=PartialPeriodTreatment.COMBINE,
    ),
    DemoAccount("kestrel", "Kestrel Software B.V.", "EUR", "Europe/Amsterdam", "tomas", 15, "slow"),
    DemoAccount(
        "sundial", "Sundial Media S.L.", "EUR", "Europe/Madrid", "jonas", 1, "prompt", policy=MPD
    ),
    DemoAccount("thistle", "Thistle & Rowe Ltd", "GBP", "Europe/London", "tomas", 1, "partial"),
    DemoAccount(
        "harbourside", "Harbourside Insurance plc", "GBP", "Europe/London", "tomas", 1, "prompt"
    ),
    DemoAccount(
        "pennine",
        "Pennine Outdoor Ltd",
        "GBP",
        "Europe/London",
        "tomas",
        1,
        "prompt",
        stops_paying=-3,
    ),
    DemoAccount(
        "sakura", "Sakura Precision K.K.", "JPY", "Asia/Tokyo", "priya", 1, "prompt", policy=CMPD
    ),
    DemoAccount("kumo", "Kumo Games K.K.", "JPY", "Asia/Tokyo", "priya", 15, "partial"),
    DemoAccount(
        "tanuki",
        "Tanuki Logistics K.K.",
        "JPY",
        "Asia/Tokyo",
        "priya",
        1,
        "prompt",
        payment_terms=60,
    ),
    DemoAccount(
        "gulfpearl", "Gulf Pearl Trading W.L.L.", "BHD", "Asia/Bahrain", "priya", 1, "slow"
    ),
    DemoAccount("wattle", "Wattle & Gum Pty Ltd", "AUD", "Australia/Sydney", "priya", 1, "prompt"),
    DemoAccount(
        "meridian", "Meridian Community Bank", "USD", "America/New_York", "maya", 1, "none"
    ),
)

#: (month offset from the current month, day of month); the day is clamped
When = tuple[int, int]


@dataclass(frozen=True)
class DemoLine:
    sku: str
    quantity: int
    frequency: BillingFrequency | None = None


@dataclass(frozen=True)
class DemoContract:
    key: str
    account: str
    start: When
    lines: tuple[DemoLine, ...]
    term_months: int | None = 12
    auto_renew: bool = False
    uplift: str = "0"
    renewal_term_months: int | None = None
    notice_days: int = 60
    po: str | None = None
    activate: bool = True
    #: days between signature (creation) and start
    signed_before: int = 14


L = DemoLine
CONTRACTS = (
    # North America
    DemoContract(
        "northwind",
        "northwind",
        (-8, 1),
        (L("ORB-PLAT-M", 40), L("ORB-ANALYTICS", 40), L("ORB-SETUP", 1)),
        term_months=24,
        auto_renew=True,
        uplift="5",
    ),
    DemoContract(
        "helios",
        "helios",
        (-7, 15),
        (L("ORB-PLAT-M", 25), L("ORB-API-100K", 10), L("ORB-STORAGE-TB", 8)),
        term_months=12,
    ),
    DemoContract(
        "cobalt",
        "cobalt",
        (-5, 1),
        (L("ORB-PLAT-A", 120), L("ORB-SSO", 1), L("ORB-SUPPORT-PREM", 1)),
        term_months=36,
        notice_days=90,
    ),
    DemoContract(
        "redwood",
        "redwood",
        (-10, 1),
        (L("ORB-PLAT-M", 30), L("ORB-STORAGE-TB", 20)),
        auto_renew=True,
        uplift="5",
        notice_days=30,
    ),
    DemoContract("quill", "quill", (-14, 1), (L("ORB-PLAT-M", 12), L("ORB-STORAGE-TB", 5))),
    DemoContract(
        "atlas", "atlas", (-9, 1), (L("ORB-PLAT-M", 60), L("ORB-SUPPORT-PREM", 1)), term_months=24
    ),
    DemoContract(
        "meridian-q1",
        "meridian",
        (-2, 17),
        (L("ORB-PLAT-M", 80), L("ORB-SSO", 1), L("ORB-SETUP", 1)),
        activate=False,
        signed_before=14,
    ),
    DemoContract(
        "meridian-q2",
        "meridian",
        (1, 1),
        (L("ORB-PLAT-A", 60), L("ORB-SSO", 1), L("ORB-SETUP", 1)),
        term_months=24,
        activate=False,
        signed_before=10,
    ),
    # Europe
    DemoContract(
        "bluefin",
        "bluefin",
        (-11, 1),
        (L("ORB-PLAT-M", 25), L("ORB-ANALYTICS", 25)),
        term_months=24,
    ),
    DemoContract(
        "nordlicht",
        "nordlicht",
        (-6, 15),
        (L("ORB-PLAT-A", 45, Q), L("ORB-SUPPORT-PREM", 1)),
        term_months=24,
        po="4500012345",
    ),
    DemoContract("vela", "vela", (-4, 12), (L("ORB-PLAT-M", 15), L("ORB-SANDBOX", 1))),
    DemoContract(
        "kestrel", "kestrel", (-10, 15), (L("ORB-PLAT-M", 18), L("ORB-API-100K", 4)), notice_days=90
    ),
    DemoContract(
        "sundial",
        "sundial",
        (-6, 20),
        (L("ORB-PLAT-M", 8), L("ORB-ANALYTICS", 8)),
        term_months=None,
    ),
    DemoContract(
        "thistle",
        "thistle",
        (-10, 8),
        (L("ORB-PLAT-M", 22), L("ORB-SUPPORT-PREM", 1)),
        auto_renew=True,
        uplift="4",
    ),
    DemoContract(
        "harbourside",
        "harbourside",
        (-8, 1),
        (L("ORB-PLAT-A", 80), L("ORB-SETUP", 1)),
        term_months=24,
    ),
    DemoContract(
        "pennine",
        "pennine",
        (-12, 1),
        (L("ORB-PLAT-M", 10), L("ORB-STORAGE-TB", 3)),
        term_months=24,
    ),
    # Asia-Pacific and the Gulf
    DemoContract(
        "sakura",
        "sakura",
        (-10, 20),
        (L("ORB-PLAT-M", 50), L("ORB-ANALYTICS", 50), L("ORB-SETUP", 1)),
        notice_days=45,
    ),
    DemoContract(
        "kumo", "kumo", (-5, 15), (L("ORB-PLAT-A", 200, Q), L("ORB-API-100K", 30)), term_months=24
    ),
    DemoContract(
        "tanuki-pilot",
        "tanuki",
        (-16, 1),
        (L("ORB-PLAT-M", 20), L("ORB-TRAINING", 1)),
        term_months=6,
        renewal_term_months=12,
        uplift="6",
    ),
    DemoContract("gulfpearl", "gulfpearl", (-3, 1), (L("ORB-PLAT-M", 15), L("ORB-SETUP", 1))),
    DemoContract(
        "wattle",
        "wattle",
        (-13, 1),
        (L("ORB-PLAT-M", 12), L("ORB-ANALYTICS", 12), L("ORB-STORAGE-TB", 4)),
        auto_renew=True,
        uplift="3",
    ),
)


@dataclass(frozen=True)
class Change:
    """An amendment change: a line by its product (quantity 0 cancels it), or a new
    product (``new``)."""

    sku: str
    quantity: int
    new: bool = False


@dataclass(frozen=True)
class DemoAmendment:
    contract: str
    effective: When
    changes: tuple[Change, ...]
    quoted_before: int = 5
    po: str | None = None


AMENDMENTS = (
    # more seats, mid-cycle: the partial month arrives with the next regular invoice
    DemoAmendment("northwind", (-3, 10), (Change("ORB-PLAT-M", 55),)),
    # annual contract grows and adds a product: prorated, co-termed
    DemoAmendment(
        "cobalt", (-2, 14), (Change("ORB-PLAT-A", 150), Change("ORB-ANALYTICS", 150, new=True))
    ),
    # fewer seats: the unused part of the month already billed comes back as a credit
    DemoAmendment("bluefin", (-2, 18), (Change("ORB-PLAT-M", 20),)),
    # swap: Platform annual seats upgraded to Enterprise
    DemoAmendment(
        "harbourside", (-4, 12), (Change("ORB-PLAT-A", 0), Change("ORB-ENT-A", 80, new=True))
    ),
    # a new product without a purchase order on an account that requires one: held
    DemoAmendment("nordlicht", (-1, 20), (Change("ORB-ANALYTICS", 45, new=True),)),
    # more analytics seats in yen
    DemoAmendment("sakura", (-4, 1), (Change("ORB-ANALYTICS", 65),)),
    # a training day added to the renewed contract
    DemoAmendment("tanuki", (-6, 9), (Change("ORB-TRAINING", 1, new=True),)),
)


# --------------------------------------------------------------------------------------
# Replaying the history
# --------------------------------------------------------------------------------------

Step = Callable[[], Awaitable[None]]

SETUP, RUN, AFTER = 0, 1, 2


@dataclass
class Replay:
    """The demo's history, replayed in date order."""

    today: date
    products: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)
    contracts: dict[str, int] = field(default_factory=dict)
    #: accounts with contracts so far (in the replay)
    customers: set[str] = field(default_factory=set)
    _queue: list[tuple[date, int, int, Step]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    payments: int = 0
    runs: int = 0

    def on(self, when: When) -> date:
        year, month = shift_month(self.today.year, self.today.month, when[0])
        return clamped(year, month, when[1])

    def at(self, day: date, priority: int, step: Step) -> None:
        if day <= self.today:
            heapq.heappush(self._queue, (day, priority, next(self._seq), step))

    async def play(self) -> None:
        while self._queue:
            _, _, _, step = heapq.heappop(self._queue)
            await step()


async def load_demo(force: bool = False) -> str:
    """Load the demo data set; returns a one-line summary.

    Skips (and changes nothing) when the database already has accounts, unless
    ``force``: then it adds the demo's accounts beside the existing data, reusing
    demo products and users that already exist.
    """
    from orbit.db.models import Account

    if await Account.exists() and not force:
        return "skipped: the database already has accounts (use --force to add the demo anyway)"
    from tortoise.transactions import in_transaction

    replay = Replay(clock.today())
    # all or nothing: a demo that failed half-way would be skipped on the next start
    async with in_transaction():
        await _catalog(replay)
        await _people(replay)
        await _accounts(replay)
        _schedule_contracts(replay)
        _schedule_amendments(replay)
        _schedule_events(replay)
        _schedule_runs(replay)
        await replay.play()
        await _finish(replay)
    return await _summary(replay)


async def _catalog(replay: Replay) -> None:
    from orbit.db.models import Product
    from orbit.services.access import Actor
    from orbit.services.accounts import ProductInput, create_product

    for item in PRODUCTS:
        existing = await Product.get_or_none(sku=item.sku)
        if existing is None:
            existing = await create_product(
                Actor.system(),
                ProductInput(
                    sku=item.sku,
                    name=item.name,
                    list_price=Decimal(item.price),
                    charge_type=item.charge,
                    billing_frequency=item.frequency,
                    billing_type=item.billing_type,
                    pricing_term_months=item.term_months,
                ),
            )
        replay.products[item.sku] = existing.id


async def _people(replay: Replay) -> None:
    from orbit.db.models import Role, User
    from orbit.services.access import Actor, create_user

    for person in USERS:
        email = user_email(person)
        user = await User.get_or_none(email=email)
        if user is None:
            # the token is dropped: the demo never shows one
            user, _ = await create_user(Actor.system(), email, person.name, Role(person.role))
        replay.users[person.key] = user.id


async def _accounts(replay: Replay) -> None:
    from orbit.services.access import Actor
    from orbit.services.accounts import AccountInput, create_account

    for item in ACCOUNTS:
        account = await create_account(
            Actor.system(),
            AccountInput(
                name=item.name,
                currency=item.currency,
                billing_day_of_month=item.billing_day,
                payment_term_days=item.payment_terms,
                timezone=item.timezone,
                proration_policy=item.policy,
                partial_period_treatment=item.treatment,
                requires_purchase_order=item.requires_po,
                owner_id=replay.users[item.owner] if item.owner else None,
            ),
        )
        replay.accounts[item.key] = account.id


def _price(currency: str, sku: str) -> Decimal | None:
    """The unit price in the account's currency (None: the list price, in USD)."""
    if currency == "USD":
        return None
    return Decimal(PRICES[currency][sku])


ACCOUNT_BY_KEY = {a.key: a for a in ACCOUNTS}
#: contract key -> account key (renewals included)
CONTRACT_ACCOUNT = {c.key: c.account for c in CONTRACTS} | {
    "tanuki": "tanuki",
    "wattle-renewal": "wattle",
}


def _schedule_contracts(replay: Replay) -> None:
    for item in CONTRACTS:
        start = replay.on(item.start)
        # a quote waiting for signature was drafted a few days ago at the latest
        created = start - timedelta(days=item.signed_before)
        if not item.activate:
            created = min(created, replay.today - timedelta(days=3))
        replay.at(created, SETUP, _create_contract(replay, item))
    # a lost quote: Meridian's first draft is cancelled, a second one waits for signature
    replay.at(replay.on((-1, 20)), SETUP, _cancel_draft(replay, "meridian-q1"))
    # the pilot was renewed by its account manager three weeks before it ended; the
    # Wattle & Gum contract renewed itself on its end date (the worker's job)
    replay.at(replay.on((-11, 8)), SETUP, _renew(replay, "tanuki-pilot", "tanuki"))
    replay.at(replay.on((-1, 1)) - timedelta(days=1), SETUP, _renewal_worker(replay))
    # Atlas was acquired: the contract is cancelled from the 16th
    replay.at(replay.on((-2, 9)), SETUP, _cancel_contract(replay, "atlas", (-2, 16)))


def _create_contract(replay: Replay, item: DemoContract) -> Step:
    async def step() -> None:
        from orbit.services.access import Actor
        from orbit.services.contracts import ContractInput, LineInput, create_contract

        account = ACCOUNT_BY_KEY[item.account]
        contract, _ = await create_contract(
            Actor.system(),
            ContractInput(
                account_id=replay.accounts[item.account],
                start_date=replay.on(item.start),
                term_months=item.term_months,
                auto_renew=item.auto_renew,
                renewal_term_months=item.renewal_term_months,
                renewal_uplift_percent=Decimal(item.uplift),
                renewal_notice_days=item.notice_days,
                purchase_order_number=item.po,
                activate=item.activate,
                lines=[
                    LineInput(
                        product_id=replay.products[line.sku],
                        quantity=line.quantity,
                        unit_price=_price(account.currency, line.sku),
                        billing_frequency=line.frequency,
                    )
                    for line in item.lines
                ],
            ),
        )
        replay.contracts[item.key] = contract.id
        replay.customers.add(item.account)

    return step


def _cancel_draft(replay: Replay, key: str) -> Step:
    async def step() -> None:
        from orbit.db.models import Order
        from orbit.services.access import Actor
        from orbit.services.contracts import cancel_order

        order = await Order.filter(contract_id=replay.contracts[key]).order_by("id").first()
        assert order is not None
        await cancel_order(Actor.system(), order.id)

    return step


def _renew(replay: Replay, key: str, new_key: str) -> Step:
    async def step() -> None:
        from orbit.services.access import Actor
        from orbit.services.contracts import renew_contract

        contract, _ = await renew_contract(Actor.system(), replay.contracts[key])
        replay.contracts[new_key] = contract.id

    return step


def _renewal_worker(replay: Replay) -> Step:
    async def step() -> None:
        from orbit.db.models import Contract
        from orbit.services.renewals import process_renewals

        # what the hourly worker does: auto-renew on the end date, expire the day after
        await process_renewals()
        renewed = await Contract.get_or_none(renewal_of_id=replay.contracts["wattle"])
        if renewed is not None:
            replay.contracts["wattle-renewal"] = renewed.id

    return step


def _cancel_contract(replay: Replay, key: str, effective: When) -> Step:
    async def step() -> None:
        from orbit.services.access import Actor
        from orbit.services.amendments import cancel_contract

        await cancel_contract(Actor.system(), replay.contracts[key], replay.on(effective))

    return step


def _schedule_amendments(replay: Replay) -> None:
    for item in AMENDMENTS:
        effective = replay.on(item.effective)
        replay.at(effective - timedelta(days=item.quoted_before), SETUP, _amend(replay, item))


def _amend(replay: Replay, item: DemoAmendment) -> Step:
    async def step() -> None:
        from orbit.db.models import ContractLine
        from orbit.services.access import Actor
        from orbit.services.amendments import AmendmentInput, ChangeInput, amend_contract

        contract_id = replay.contracts[item.contract]
        account = ACCOUNT_BY_KEY[CONTRACT_ACCOUNT[item.contract]]
        changes = []
        for change in item.changes:
            product_id = replay.products[change.sku]
            if change.new:
                changes.append(
                    ChangeInput(
                        quantity=change.quantity,
                        product_id=product_id,
                        unit_price=_price(account.currency, change.sku),
                    )
                )
                continue
            line = (
                await ContractLine.filter(
                    contract_id=contract_id, product_id=product_id, cancelled=False
                )
                .order_by("id")
                .first()
            )
            assert line is not None, (item.contract, change.sku)
            changes.append(ChangeInput(quantity=change.quantity, contract_line_id=line.id))
        await amend_contract(
            Actor.system(),
            AmendmentInput(
                contract_id=contract_id,
                effective_date=replay.on(item.effective),
                changes=changes,
                purchase_order_number=item.po,
            ),
        )

    return step


def _schedule_events(replay: Replay) -> None:
    # Kestrel changed its billing entity: billing held for seven weeks, then caught up
    replay.at(
        replay.on((-6, 20)),
        SETUP,
        _hold(
            replay,
            "kestrel",
            "Customer is moving to a new billing entity; wait for the new VAT number",
            release_on=None,
            release_at=(-4, 10),
        ),
    )
    # Helios disputes its API overage: held until the review call
    replay.at(
        replay.on((-1, 22)),
        SETUP,
        _hold(
            replay,
            "helios",
            "Usage dispute: API overage under review with the customer (ticket SUP-2291)",
            release_on=replay.today + timedelta(days=14),
            release_at=None,
        ),
    )
    # Sundial's March-style invoice went to the wrong entity: credited and billed again
    replay.at(replay.on((-3, 4)), AFTER, _credit(replay, "sundial", (-3, 1), rebill=True))
    # Pennine had an outage: the month is credited as a goodwill gesture, not rebilled
    replay.at(replay.on((-2, 9)), AFTER, _credit(replay, "pennine", (-2, 1), rebill=False))
    # Wattle & Gum paid a deposit for the renewal year up front
    replay.at(
        replay.on((-1, 6)),
        AFTER,
        _pay(replay, "wattle", Decimal("6000.00"), "Deposit, renewal year"),
    )


def _hold(
    replay: Replay, contract_key: str, reason: str, release_on: date | None, release_at: When | None
) -> Step:
    async def step() -> None:
        from orbit.db.models import HoldScope
        from orbit.services.access import Actor
        from orbit.services.holds import HoldInput, place_hold, release_hold

        contract_id = replay.contracts[contract_key]
        hold = await place_hold(
            Actor.system(), HoldInput(HoldScope.CONTRACT, contract_id, reason, release_on)
        )
        if release_at is not None:

            async def release() -> None:
                await release_hold(Actor.system(), hold.id)

            replay.at(replay.on(release_at), SETUP, release)

    return step


def _credit(replay: Replay, account_key: str, run_day: When, rebill: bool) -> Step:
    async def step() -> None:
        from orbit.db.models import DocumentType, Invoice, InvoiceStatus
        from orbit.services.access import Actor
        from orbit.services.invoices import credit_invoice

        invoice = await Invoice.filter(
            account_id=replay.accounts[account_key],
            invoice_date=replay.on(run_day),
            document_type=DocumentType.INVOICE,
            status=InvoiceStatus.POSTED,
        ).first()
        if invoice is not None:
            await credit_invoice(Actor.system(), invoice.id, rebill=rebill)

    return step


def _pay(
    replay: Replay, account_key: str, amount: Decimal, reference: str, received: date | None = None
) -> Step:
    async def step() -> None:
        from orbit.services.access import Actor
        from orbit.services.receivables import record_payment

        replay.payments += 1
        day = received or replay.today
        await record_payment(Actor.system(), replay.accounts[account_key], amount, day, reference)

    return step


def _schedule_runs(replay: Replay) -> None:
    for months in range(-HISTORY_MONTHS, 1):
        for day in RUN_DAYS:
            replay.at(replay.on((months, day)), RUN, _run(replay, replay.on((months, day))))


def _run(replay: Replay, target: date) -> Step:
    """The run of one billing date, for the accounts that bill on that day and have
    contracts by then (a run over every account would bill exactly the same)."""

    async def step() -> None:
        from orbit.db.models import DocumentType
        from orbit.services import invoices, runs
        from orbit.services.access import Actor

        scope = sorted(
            replay.accounts[key]
            for key in replay.customers
            if ACCOUNT_BY_KEY[key].billing_day == target.day
        )
        if not scope:
            return
        system = Actor.system()
        run = await runs.start_run(system, runs.RunRequest(target_date=target, account_ids=scope))
        await runs.run_inline(run.id)
        replay.runs += 1
        for document in await invoices.post_run(system, run.id):
            if document.document_type is DocumentType.INVOICE and document.total > 0:
                _schedule_payments(replay, document.account_id, document.id, document.invoice_date)

    return step


def _schedule_payments(
    replay: Replay, account_id: int, invoice_id: int, invoice_date: date
) -> None:
    key = next(k for k, v in replay.accounts.items() if v == account_id)
    account = ACCOUNT_BY_KEY[key]
    if account.stops_paying is not None and invoice_date >= replay.on((account.stops_paying, 1)):
        return
    for days, share in PAYERS[account.payer]:
        replay.at(
            invoice_date + timedelta(days=days),
            AFTER,
            _pay_invoice(
                replay,
                account,
                account_id,
                invoice_id,
                invoice_date + timedelta(days=days),
                Decimal(share),
            ),
        )


def _pay_invoice(
    replay: Replay,
    account: DemoAccount,
    account_id: int,
    invoice_id: int,
    received: date,
    share: Decimal,
) -> Step:
    async def step() -> None:
        from orbit.db.models import Invoice

        invoice = await Invoice.get(id=invoice_id)
        quantum = Decimal(1).scaleb(-minor_units(account.currency))
        amount = (invoice.open_balance * share).quantize(quantum, rounding=ROUND_DOWN)
        if amount <= 0:
            return
        reference = f"{_bank(account.currency)} {invoice.number}"
        await _pay(replay, account.key, amount, reference, received)()

    return step


def _bank(currency: str) -> str:
    return {
        "USD": "ACH",
        "EUR": "SEPA",
        "GBP": "BACS",
        "JPY": "Zengin",
        "BHD": "SWIFT",
        "AUD": "BPAY",
    }[currency]


async def _finish(replay: Replay) -> None:
    """Leave the data as the workers would: contracts past their end renewed or
    expired."""
    from orbit.services.renewals import process_renewals

    await process_renewals()


async def _summary(replay: Replay) -> str:
    from orbit.db.models import (
        Account,
        Contract,
        DocumentType,
        Invoice,
        InvoiceStatus,
    )
    from orbit.services.holds import active_holds

    ids = list(replay.accounts.values())
    currencies = Counter(a.currency for a in ACCOUNTS)
    contracts = Counter(c.status.value for c in await Contract.filter(account_id__in=ids))
    invoices = await Invoice.filter(
        account_id__in=ids, status=InvoiceStatus.POSTED, document_type=DocumentType.INVOICE
    ).count()
    notes = await Invoice.filter(
        account_id__in=ids, status=InvoiceStatus.POSTED, document_type=DocumentType.CREDIT_NOTE
    ).count()
    holds = 0
    for account in await Account.filter(id__in=ids):
        holds += len(await active_holds(account))
    return (
        f"loaded demo data: {len(ids)} accounts ("
        + ", ".join(f"{n} {c}" for c, n in sorted(currencies.items()))
        + f"), {sum(contracts.values())} contracts ("
        + ", ".join(f"{n} {s}" for s, n in sorted(contracts.items()))
        + f"), {replay.runs} invoice runs, {invoices} invoices, {notes} credit notes, "
        f"{replay.payments} payments, {holds} active holds; {len(USERS)} demo users "
        f"(no tokens)"
    )

"""Who may do what (spec section 11), what an account manager sees, and the audit
trail every mutation writes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from tortoise.models import Model

from orbit.db.models import AuditEvent, ContractLine, Role
from orbit.services import accounts, amendments, contracts, controls, holds, invoices, runs
from orbit.services.access import Actor, authenticate, create_user
from orbit.services.errors import AccessDenied, Code, Unauthenticated
from orbit.services.ids import global_id
from orbit.services.receivables import aging, record_payment
from tests.services import factory
from tests.services.factory import SYSTEM, refused


class World:
    """Alice (an account manager) owns "ours", Bob owns "theirs"; each account has an
    active contract billed for March and a draft contract."""

    async def build(self) -> World:
        factory.pin_today(date(2026, 3, 1))
        self.people = {role: await factory.user(role, name=role.value.title()) for role in Role}
        self.alice = self.people[Role.ACCOUNT_MANAGER]
        self.bob = await factory.user(Role.ACCOUNT_MANAGER, name="Bob")
        self.seats = await factory.product("30.00")
        self.ours = await factory.account(billing_day_of_month=1, owner_id=self.alice.id)
        self.theirs = await factory.account(billing_day_of_month=1, owner_id=self.bob.id)
        self.contract, self.order = await factory.contract(self.ours, self.seats, date(2026, 3, 1))
        self.draft, self.draft_order = await factory.contract(
            self.ours, self.seats, date(2026, 3, 1), activate=False
        )
        self.their_contract, self.their_order = await factory.contract(
            self.theirs, self.seats, date(2026, 3, 1)
        )
        (self.op,) = await factory.order_products(self.order)
        (self.their_op,) = await factory.order_products(self.their_order)
        self.line = await ContractLine.get(contract_id=self.contract.id)
        self.invoice = await factory.bill(self.ours, date(2026, 3, 1))
        self.their_invoice = await factory.bill(self.theirs, date(2026, 3, 1))
        return self

    async def prepare(self, operation: str) -> None:
        """What an operation needs besides the world (done before anything is measured)."""
        if operation == "credit invoice":
            await invoices.post_invoice(SYSTEM, self.invoice.id)
        elif operation == "post run":
            self.run = await runs.start_run(SYSTEM, runs.RunRequest(date(2026, 4, 1)))
            await runs.run_inline(self.run.id)
        elif operation == "release hold":
            self.hold = await holds.place_hold(
                SYSTEM, holds.HoldInput(holds.HoldScope.ACCOUNT, self.ours.id, "x")
            )

    def actor(self, role: Role) -> Actor:
        return factory.actor_of(self.people[role])


@pytest.fixture
async def world() -> World:
    return await World().build()


Operation = Callable[[World, Actor], Awaitable[Any]]

# Each operation on Alice's own account (or on nothing account-bound), and the roles
# allowed to perform it.
OPERATIONS: dict[str, tuple[Operation, set[Role]]] = {
    "create user": (
        lambda w, a: create_user(a, "new@orbit.test", "New", Role.VIEWER),
        {Role.ADMIN},
    ),
    "create product": (
        lambda w, a: accounts.create_product(a, accounts.ProductInput("NEW-1", "New", Decimal(1))),
        {Role.ADMIN, Role.FINANCE},
    ),
    "create account": (
        lambda w, a: accounts.create_account(a, accounts.AccountInput("New", "USD")),
        {Role.ADMIN, Role.FINANCE},
    ),
    "update account": (
        lambda w, a: accounts.update_account(a, w.ours.id, accounts.AccountChanges(name="Renamed")),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "set account owner": (
        lambda w, a: accounts.update_account(
            a, w.ours.id, accounts.AccountChanges(owner_id=w.bob.id)
        ),
        {Role.ADMIN, Role.FINANCE},
    ),
    "create contract": (
        lambda w, a: factory_contract(w, a),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "activate order": (
        lambda w, a: contracts.activate_order(a, w.draft_order.id),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "cancel order": (
        lambda w, a: contracts.cancel_order(a, w.draft_order.id),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "set purchase order": (
        lambda w, a: contracts.set_purchase_order_number(a, w.order.id, "PO-9"),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "amend contract": (
        lambda w, a: amendments.amend_contract(
            a,
            amendments.AmendmentInput(
                w.contract.id,
                date(2026, 3, 16),
                [amendments.ChangeInput(quantity=2, contract_line_id=w.line.id)],
            ),
        ),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "cancel contract": (
        lambda w, a: amendments.cancel_contract(a, w.contract.id, date(2026, 4, 1)),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "renew contract": (
        lambda w, a: contracts.renew_contract(a, w.contract.id),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "place hold": (
        lambda w, a: holds.place_hold(a, holds.HoldInput(holds.HoldScope.ACCOUNT, w.ours.id, "x")),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "hold rules": (lambda w, a: holds.update_hold_rules(a, 30), {Role.ADMIN, Role.FINANCE}),
    "override billing dates": (
        lambda w, a: controls.override_billing_dates(
            a, controls.OverrideInput(order_product_id=w.op.id, next_billing_date=date(2026, 4, 5))
        ),
        {Role.ADMIN, Role.FINANCE},
    ),
    "change billing day": (
        lambda w, a: controls.change_billing_day(a, w.contract.id, 15),
        {Role.ADMIN, Role.FINANCE},
    ),
    "start run": (
        lambda w, a: runs.start_run(a, runs.RunRequest(date(2026, 4, 1))),
        {Role.ADMIN, Role.FINANCE},
    ),
    "post invoice": (
        lambda w, a: invoices.post_invoice(a, w.invoice.id),
        {Role.ADMIN, Role.FINANCE},
    ),
    "cancel invoice": (
        lambda w, a: invoices.cancel_invoice(a, w.invoice.id),
        {Role.ADMIN, Role.FINANCE},
    ),
    "credit invoice": (
        lambda w, a: invoices.credit_invoice(a, w.invoice.id),
        {Role.ADMIN, Role.FINANCE},
    ),
    "post run": (lambda w, a: invoices.post_run(a, w.run.id), {Role.ADMIN, Role.FINANCE}),
    "release hold": (
        lambda w, a: holds.release_hold(a, w.hold.id),
        {Role.ADMIN, Role.FINANCE, Role.ACCOUNT_MANAGER},
    ),
    "record payment": (
        lambda w, a: record_payment(a, w.ours.id, Decimal(5), date(2026, 3, 2), "x"),
        {Role.ADMIN, Role.FINANCE},
    ),
}


def factory_contract(w: World, a: Actor) -> Awaitable[Any]:
    return contracts.create_contract(
        a,
        contracts.ContractInput(
            w.ours.id, date(2026, 3, 1), [contracts.LineInput(w.seats.id, 1)], term_months=12
        ),
    )


PERMISSION_CASES = [
    pytest.param(name, role, role in allowed, id=f"{name}-{role.value}")
    for name, (_, allowed) in OPERATIONS.items()
    for role in Role
]


@pytest.mark.parametrize(("operation", "role", "allowed"), PERMISSION_CASES)
async def test_each_role_may_do_what_the_spec_grants(
    world: World, operation: str, role: Role, allowed: bool
) -> None:
    call, _ = OPERATIONS[operation]
    await world.prepare(operation)
    if allowed:
        await call(world, world.actor(role))
    else:
        await refused(call(world, world.actor(role)), error=AccessDenied)


THEIRS: dict[str, Operation] = {
    "update account": lambda w, a: accounts.update_account(
        a, w.theirs.id, accounts.AccountChanges(name="X")
    ),
    "create contract": lambda w, a: contracts.create_contract(
        a,
        contracts.ContractInput(
            w.theirs.id, date(2026, 3, 1), [contracts.LineInput(w.seats.id, 1)], term_months=12
        ),
    ),
    "set purchase order": lambda w, a: contracts.set_purchase_order_number(
        a, w.their_order.id, "PO-1"
    ),
    "amend contract": lambda w, a: amendments.amend_contract(
        a,
        amendments.AmendmentInput(
            w.their_contract.id,
            date(2026, 3, 16),
            [amendments.ChangeInput(quantity=2, contract_line_id=1)],
        ),
    ),
    "cancel contract": lambda w, a: amendments.cancel_contract(
        a, w.their_contract.id, date(2026, 4, 1)
    ),
    "renew contract": lambda w, a: contracts.renew_contract(a, w.their_contract.id),
    "hold their account": lambda w, a: holds.place_hold(
        a, holds.HoldInput(holds.HoldScope.ACCOUNT, w.theirs.id, "x")
    ),
    "hold their contract": lambda w, a: holds.place_hold(
        a, holds.HoldInput(holds.HoldScope.CONTRACT, w.their_contract.id, "x")
    ),
    "hold their order": lambda w, a: holds.place_hold(
        a, holds.HoldInput(holds.HoldScope.ORDER, w.their_order.id, "x")
    ),
    "hold their order product": lambda w, a: holds.place_hold(
        a, holds.HoldInput(holds.HoldScope.ORDER_PRODUCT, w.their_op.id, "x")
    ),
    "read account": lambda w, a: accounts.get_account(a, w.theirs.id),
    "read contract": lambda w, a: contracts.get_contract(a, w.their_contract.id),
    "read order": lambda w, a: contracts.get_order(a, w.their_order.id),
    "read invoice": lambda w, a: invoices.get_invoice(a, w.their_invoice.id),
    "preview amendment": lambda w, a: amendments.preview_cancellation(
        a, w.their_contract.id, date(2026, 4, 1)
    ),
}


@pytest.mark.parametrize("operation", list(THEIRS))
async def test_an_account_manager_finds_nothing_of_other_accounts(
    world: World, operation: str
) -> None:
    await refused(THEIRS[operation](world, world.actor(Role.ACCOUNT_MANAGER)), Code.NOT_FOUND)


async def test_an_account_manager_reads_their_own(world: World) -> None:
    alice = world.actor(Role.ACCOUNT_MANAGER)
    assert (await accounts.get_account(alice, world.ours.id)).id == world.ours.id
    assert (await invoices.get_invoice(alice, world.invoice.id)).id == world.invoice.id
    _, report = await aging(alice, date(2026, 3, 1))
    assert [entry.account.id for entry in report] == [world.ours.id]
    _, everything = await aging(world.actor(Role.VIEWER), date(2026, 3, 1))
    assert {entry.account.id for entry in everything} == {world.ours.id, world.theirs.id}


async def test_a_token_stands_for_its_user() -> None:
    user, token = await create_user(SYSTEM, "fin@orbit.test", "Fin", Role.FINANCE)
    assert await authenticate(token) == Actor(user.id, Role.FINANCE, "Fin")
    for bad in (None, "", "orb_not-a-token"):
        with pytest.raises(Unauthenticated):
            await authenticate(bad)
    await refused(create_user(SYSTEM, "FIN@orbit.test", "Again", Role.VIEWER), Code.DUPLICATE)
    await refused(create_user(SYSTEM, "not-an-email", "X", Role.VIEWER), Code.INVALID)


# --- audit -------------------------------------------------------------------

# action -> (the operation that writes it, the entity it names)
AUDITED: dict[str, tuple[str, Callable[[World, Any], Model]]] = {
    "user.create": ("create user", lambda w, r: r[0]),
    "product.create": ("create product", lambda w, r: r),
    "account.create": ("create account", lambda w, r: r),
    "account.update": ("update account", lambda w, r: r),
    "contract.create": ("create contract", lambda w, r: r[0]),
    "order.activate": ("activate order", lambda w, r: r),
    "order.cancel": ("cancel order", lambda w, r: r),
    "order.set_purchase_order_number": ("set purchase order", lambda w, r: r),
    "contract.amend": ("amend contract", lambda w, r: r[0]),
    "contract.cancel": ("cancel contract", lambda w, r: r[0]),
    "contract.renew": ("renew contract", lambda w, r: w.contract),
    "hold.place": ("place hold", lambda w, r: r),
    "hold.release": ("release hold", lambda w, r: r),
    "hold_rules.update": ("hold rules", lambda w, r: r),
    "billing_dates.override": ("override billing dates", lambda w, r: r[0]),
    "contract.change_billing_day": ("change billing day", lambda w, r: r),
    "invoice_run.start": ("start run", lambda w, r: r),
    "invoice.post": ("post invoice", lambda w, r: r),
    "invoice.cancel": ("cancel invoice", lambda w, r: r),
    "invoice.credit": ("credit invoice", lambda w, r: r[0]),
    "invoice_run.post": ("post run", lambda w, r: w.run),
    "payment.record": ("record payment", lambda w, r: r),
}


@pytest.mark.parametrize("action", list(AUDITED))
async def test_every_mutation_writes_an_audit_event(world: World, action: str) -> None:
    operation, entity_of = AUDITED[action]
    call, _ = OPERATIONS[operation]
    await world.prepare(operation)
    admin = world.actor(Role.ADMIN)
    before = await AuditEvent.filter(action=action).count()
    result = await call(world, admin)
    events = await AuditEvent.filter(action=action).order_by("-id")
    assert len(events) == before + 1
    event = events[0]
    entity = entity_of(world, result)
    assert (event.actor_id, event.entity_id) == (admin.user_id, global_id(entity))
    expected_account = getattr(entity, "account_id", None)
    if isinstance(entity, type(world.ours)):
        expected_account = entity.id
    assert event.account_id == expected_account
    assert isinstance(json.loads(event.details), dict)


async def test_audit_details_say_what_changed(world: World) -> None:
    await accounts.update_account(
        world.actor(Role.FINANCE),
        world.ours.id,
        accounts.AccountChanges(name="Renamed", payment_term_days=45),
    )
    event = await AuditEvent.filter(action="account.update").order_by("-id").first()
    assert event is not None
    assert json.loads(event.details) == {"name": "Renamed", "payment_term_days": 45}
    assert event.actor_id == world.people[Role.FINANCE].id


# --- one transaction per operation -------------------------------------------


class AuditDown(Exception):
    pass


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_an_operation_that_fails_at_its_last_write_leaves_nothing_behind(
    world: World, operation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit event is written last, inside the operation's transaction: when it
    fails, everything the operation wrote before it is rolled back."""
    import sys

    await world.prepare(operation)

    async def record(*args: Any, **kwargs: Any) -> None:
        raise AuditDown

    for name, module in list(sys.modules.items()):
        if name.startswith("orbit.services") and hasattr(module, "record"):
            monkeypatch.setattr(module, "record", record)
    call, _ = OPERATIONS[operation]
    await refused(call(world, world.actor(Role.ADMIN)), error=AuditDown)

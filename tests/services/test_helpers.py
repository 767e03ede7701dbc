"""The suite's own helpers must be able to fail."""

from __future__ import annotations

import pytest

from orbit.db.models import Account
from orbit.services.errors import Code, DomainError
from tests.services import factory
from tests.services.factory import refused


async def test_refused_catches_a_write_before_the_error() -> None:
    acme = await factory.account()

    async def writes_then_fails() -> None:
        await Account.filter(id=acme.id).update(name="Changed")  # no transaction: it stays
        raise DomainError(Code.INVALID, "too late")

    with pytest.raises(AssertionError, match="accounts"):
        await refused(writes_then_fails(), Code.INVALID)


async def test_refused_checks_the_code() -> None:
    async def fails() -> None:
        raise DomainError(Code.CONFLICT, "no")

    with pytest.raises(AssertionError):
        await refused(fails(), Code.INVALID)
    await refused(fails(), Code.CONFLICT)


async def test_refused_needs_an_error() -> None:
    async def succeeds() -> None:
        return None

    with pytest.raises(pytest.fail.Exception):
        await refused(succeeds(), Code.INVALID)

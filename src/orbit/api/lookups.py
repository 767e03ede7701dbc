"""Objects a field points at, read through the request's DataLoaders."""

from __future__ import annotations

from orbit.api.context import Info
from orbit.api.refs import AccountRef, ProductRef


async def account(info: Info, account_id: int) -> AccountRef:
    from orbit.api.accounts.types import Account

    row = await info.context.loaders.account.load(account_id)
    assert row is not None
    return Account.of(row)


async def product(info: Info, product_id: int) -> ProductRef:
    from orbit.api.accounts.types import Product

    row = await info.context.loaders.product.load(product_id)
    assert row is not None
    return Product.of(row)

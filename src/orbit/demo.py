"""Demo data: a small, realistic book of business to explore Orbit with."""

from __future__ import annotations


async def load_demo(force: bool = False) -> str:
    from orbit.db.models import Account

    if await Account.exists() and not force:
        return "skipped (the database already has accounts)"
    return "no demo data yet"

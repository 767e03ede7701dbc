"""The tables, as the models first declared them (SQL per backend)."""

from __future__ import annotations

from pathlib import Path

from tortoise.backends.base.client import BaseDBAsyncClient

HERE = Path(__file__).parent


async def apply(db: BaseDBAsyncClient, dialect: str) -> None:
    await db.execute_script((HERE / f"0001_initial.{dialect}.sql").read_text())

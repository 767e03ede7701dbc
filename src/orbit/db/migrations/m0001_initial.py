"""The tables, as the models first declared them (SQL per backend)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def statements(dialect: str) -> list[str]:
    from orbit.db.migrations import split

    return split((HERE / f"0001_initial.{dialect}.sql").read_text())

"""Turning the IDs clients send into row ids."""

from __future__ import annotations

from orbit.services import ids
from orbit.services.errors import NotFound


def row_id(global_id: str | None, type_name: str) -> int | None:
    """The row id behind a global ID of ``type_name``; None when it is not one."""
    if global_id is None:
        return None
    return ids.decode_int(str(global_id), type_name)


def require_id(global_id: str, type_name: str, field: tuple[str, ...] | list[str]) -> int:
    """The row id, or NOT_FOUND on ``field`` for anything that is not such an ID."""
    value = row_id(global_id, type_name)
    if value is None:
        raise NotFound(
            type_name[0].lower()
            + "".join(f" {c.lower()}" if c.isupper() else c for c in type_name[1:]),
            field,
        )
    return value


def gid(type_name: str, row_id_: int) -> str:
    return ids.encode(type_name, row_id_)

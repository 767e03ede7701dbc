"""Global, opaque IDs: base64 of '<Type>:<id>' (Relay)."""

from __future__ import annotations

import base64
import binascii

from tortoise.models import Model

#: model class name -> API type name, where they differ
_TYPE_NAMES = {"ScheduleLine": "ScheduleLine", "Invoice": "Invoice"}


def type_name(model: type[Model] | Model) -> str:
    cls = model if isinstance(model, type) else type(model)
    return _TYPE_NAMES.get(cls.__name__, cls.__name__)


def encode(type_: str, id_: int | str) -> str:
    return base64.b64encode(f"{type_}:{id_}".encode()).decode()


def global_id(entity: Model) -> str:
    return encode(type_name(entity), entity.pk)


def decode(global_id_: str) -> tuple[str, str] | None:
    """(type, id) of a global ID, or None when it is not one of ours."""
    try:
        raw = base64.b64decode(global_id_.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_, sep, id_ = raw.partition(":")
    if not sep or not type_ or not id_:
        return None
    return type_, id_


def decode_int(global_id_: str, expected: str) -> int | None:
    """The integer id of a global ID of type ``expected``; None when it is not one."""
    parts = decode(global_id_)
    if parts is None or parts[0] != expected:
        return None
    try:
        value = int(parts[1])
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None

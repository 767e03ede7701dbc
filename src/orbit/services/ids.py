"""Global, opaque IDs: base64 of '<Type>:<id>' (Relay).

Only the exact text Orbit hands out resolves: standard base64 with its padding of
'<Type>:<id>' where <id> is a positive integer in ASCII digits without sign, blank or
leading zero, and fits the table's id column (INT: < 2^31, BIGINT: < 2^63). Anything
else ('Account:0001', 'Account: 1', 'Account:+1', other padding) is not an ID.
"""

from __future__ import annotations

import base64
import binascii
import re

from tortoise import fields
from tortoise.models import Model

#: model class name -> API type name, where they differ
_TYPE_NAMES = {"ScheduleLine": "ScheduleLine", "Invoice": "Invoice"}
_CANONICAL = re.compile(r"[1-9][0-9]*")
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


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
    if encode(type_, id_) != global_id_:  # other padding or alphabet: not ours
        return None
    return type_, id_


def max_id(model: type[Model]) -> int:
    """The largest id the model's table can hold (its primary key column's type)."""
    return BIGINT_MAX if isinstance(model._meta.pk, fields.BigIntField) else INT_MAX


def _limit(type_: str) -> int:
    from orbit.db import models

    model = getattr(models, type_, None)
    if isinstance(model, type) and issubclass(model, Model):
        return max_id(model)
    return INT_MAX


def decode_int(global_id_: str, expected: str) -> int | None:
    """The integer id of a global ID of type ``expected``; None when it is not one."""
    parts = decode(global_id_)
    if parts is None or parts[0] != expected or not _CANONICAL.fullmatch(parts[1]):
        return None
    if len(parts[1]) > 19:
        return None
    value = int(parts[1])
    return value if value <= _limit(expected) else None

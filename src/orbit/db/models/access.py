"""Users, their API tokens, audit events and idempotency keys."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class Role(str, Enum):
    ADMIN = "ADMIN"
    FINANCE = "FINANCE"
    ACCOUNT_MANAGER = "ACCOUNT_MANAGER"
    VIEWER = "VIEWER"


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=20)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class ApiToken(Model):
    """An API token; only its SHA-256 digest is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    digest = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_tokens"


class AuditEvent(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=None, null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharField(max_length=64)
    #: the global ID of the entity acted on
    entity_id = fields.CharField(max_length=100, db_index=True)
    account_id = fields.IntField(null=True, db_index=True)
    details = fields.TextField()

    actor_id: int | None

    class Meta:
        table = "audit_events"


class IdempotencyKey(Model):
    """The first result of a mutation called with a key, per caller and mutation."""

    id = fields.IntField(primary_key=True)
    user_id = fields.IntField()
    operation = fields.CharField(max_length=64)
    key = fields.CharField(max_length=200)
    request_digest = fields.CharField(max_length=64)
    result = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_keys"
        unique_together = (("user_id", "operation", "key"),)

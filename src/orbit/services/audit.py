"""The audit trail: every mutation writes one event, in its own transaction."""

from __future__ import annotations

import json
from typing import Any

from tortoise.models import Model

from orbit.db.models import Account, AuditEvent
from orbit.services.access import Actor
from orbit.services.ids import global_id


def _default(value: Any) -> Any:
    return str(value)


async def record(
    actor: Actor,
    action: str,
    entity: Model,
    details: dict[str, Any] | None = None,
    account_id: int | None = None,
) -> AuditEvent:
    """Write an audit event for ``action`` on ``entity`` (call inside the operation's
    transaction)."""
    if account_id is None:
        account_id = (
            entity.id if isinstance(entity, Account) else getattr(entity, "account_id", None)
        )
    return await AuditEvent.create(
        actor_id=actor.user_id,
        action=action,
        entity_id=global_id(entity),
        account_id=account_id,
        details=json.dumps(details or {}, default=_default, sort_keys=True),
    )

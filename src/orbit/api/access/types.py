"""Audit events."""

from __future__ import annotations

from datetime import datetime

import strawberry

from orbit.api.accounts.types import User
from orbit.api.common import Node, UserError, from_row
from orbit.api.context import Info
from orbit.api.pagination import Page, PageInfo, edges_of
from orbit.db import models as db


@strawberry.type
class AuditEvent(Node):
    at: datetime
    action: str
    entity_id: strawberry.ID
    details: str
    row: strawberry.Private[db.AuditEvent]

    @classmethod
    def of(cls, row: db.AuditEvent) -> AuditEvent:
        return from_row(cls, row)

    @strawberry.field
    async def actor(self, info: Info) -> User | None:
        if self.row.actor_id is None:
            return None
        viewer = info.context.actor
        if viewer.owner_scope is not None and self.row.actor_id != viewer.user_id:
            return None  # account managers see no other users, here as in node(id)
        user = await info.context.loaders.user.load(self.row.actor_id)
        return User.of(user) if user else None


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[db.AuditEvent]) -> AuditEventConnection:
        return cls(edges=edges_of(page, AuditEventEdge, AuditEvent.of), page_info=page.page_info)


@strawberry.type
class CreateUserPayload:
    user: User | None
    token: str | None = strawberry.field(
        description="The user's API token; shown only in this response."
    )
    user_errors: list[UserError]

"""Who is calling, users, and the audit trail."""

from __future__ import annotations

import strawberry

from orbit.api.access.types import AuditEventConnection, CreateUserPayload
from orbit.api.accounts.types import User
from orbit.api.common import user_errors
from orbit.api.context import Info
from orbit.api.mutations import Result, run
from orbit.api.pagination import keyset
from orbit.db import models as db
from orbit.services import access as service
from orbit.services.access import Actor, Permission


@strawberry.input
class CreateUserInput:
    email: str
    name: str
    role: db.Role


@strawberry.type
class AccessQueries:
    @strawberry.field
    async def me(self, info: Info) -> User | None:
        actor = info.context.actor
        if actor.user_id is None:
            return None
        row = await info.context.loaders.user.load(actor.user_id)
        return User.of(row) if row else None

    @strawberry.field
    async def audit_events(
        self,
        info: Info,
        entity_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AuditEventConnection:
        actor = info.context.require(Permission.READ)
        query = db.AuditEvent.all()
        if entity_id is not None:
            query = query.filter(entity_id=str(entity_id))
        if actor.owner_scope is not None:
            owned = db.Account.filter(owner_id=actor.owner_scope).values_list("id", flat=True)
            query = query.filter(account_id__in=list(await owned))
        return AuditEventConnection.of(await keyset(query, first, after, newest_first=True))


@strawberry.type
class AccessMutations:
    @strawberry.mutation
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserPayload:
        async def work(actor: Actor) -> Result:
            user, token = await service.create_user(actor, input.email, input.name, input.role)
            return {"user": user.id, "token": token}

        async def build(result: Result) -> CreateUserPayload:
            row = await db.User.get(id=result["user"])
            return CreateUserPayload(user=User.of(row), token=result["token"], user_errors=[])

        return await run(
            info,
            "createUser",
            work,
            build,
            lambda problems: CreateUserPayload(
                user=None, token=None, user_errors=user_errors(problems)
            ),
        )

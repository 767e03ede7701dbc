"""Who may do what (the four roles), users and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import Enum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from orbit.db.models import Account, ApiToken, Role, User
from orbit.services import validation as check
from orbit.services.errors import AccessDenied, Code, DomainError, Unauthenticated


class Permission(str, Enum):
    READ = "read"
    READ_RUNS = "read_runs"
    MANAGE_USERS = "manage_users"
    MANAGE_PRODUCTS = "manage_products"
    CREATE_ACCOUNTS = "create_accounts"
    UPDATE_ACCOUNTS = "update_accounts"
    SET_ACCOUNT_OWNER = "set_account_owner"
    MANAGE_CONTRACTS = "manage_contracts"
    MANUAL_HOLDS = "manual_holds"
    HOLD_RULES = "hold_rules"
    BILLING_CONTROLS = "billing_controls"
    INVOICE_RUNS = "invoice_runs"
    DOCUMENTS = "documents"
    PAYMENTS = "payments"


_FINANCE = frozenset(Permission) - {Permission.MANAGE_USERS}
_ACCOUNT_MANAGER = frozenset(
    {
        Permission.READ,
        Permission.UPDATE_ACCOUNTS,
        Permission.MANAGE_CONTRACTS,
        Permission.MANUAL_HOLDS,
    }
)
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.FINANCE: _FINANCE,
    Role.ACCOUNT_MANAGER: _ACCOUNT_MANAGER,
    Role.VIEWER: frozenset({Permission.READ, Permission.READ_RUNS}),
}


@dataclass(frozen=True)
class Actor:
    """The caller of a service: a user, or the system itself (workers, CLI)."""

    user_id: int | None
    role: Role
    name: str = ""

    @classmethod
    def system(cls) -> Actor:
        return cls(None, Role.ADMIN, "system")

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise AccessDenied(
                f"role {self.role.value} may not {permission.value.replace('_', ' ')}"
            )

    @property
    def owner_scope(self) -> int | None:
        """For an account manager, the owner id every account read is limited to."""
        if self.role is Role.ACCOUNT_MANAGER:
            return self.user_id if self.user_id is not None else -1
        return None

    def sees(self, account: Account) -> bool:
        scope = self.owner_scope
        return scope is None or account.owner_id == scope

    def sees_owner(self, owner_id: int | None) -> bool:
        scope = self.owner_scope
        return scope is None or owner_id == scope


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "orb_" + secrets.token_urlsafe(32)


async def authenticate(token: str | None) -> Actor:
    """The actor a bearer token stands for."""
    if not token:
        raise Unauthenticated()
    row = await ApiToken.get_or_none(digest=token_digest(token)).select_related("user")
    if row is None:
        raise Unauthenticated("invalid token")
    user = row.user
    return Actor(user.id, user.role, user.name)


async def create_user(actor: Actor, email: str, name: str, role: Role) -> tuple[User, str]:
    """A new user and their API token (returned once; only its digest is kept)."""
    from orbit.services.audit import record

    actor.require(Permission.MANAGE_USERS)
    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise DomainError(Code.INVALID, "not an email address", ("email",))
    if not name.strip():
        raise DomainError(Code.INVALID, "a user needs a name", ("name",))
    name = check.text(name, "name")
    token = new_token()
    try:
        async with in_transaction():
            if await User.filter(email__iexact=email).exists():
                raise DomainError(Code.DUPLICATE, f"a user with email {email} exists", ("email",))
            user = await User.create(email=email, name=name, role=role)
            await ApiToken.create(user=user, digest=token_digest(token))
            await record(actor, "user.create", user, {"email": email, "role": role.value})
    except IntegrityError:
        raise DomainError(Code.DUPLICATE, f"a user with email {email} exists", ("email",)) from None
    return user, token


async def ensure_admin(token: str, email: str = "admin@orbit.local") -> User:
    """Make ``token`` an ADMIN's token (ORBIT_ADMIN_TOKEN bootstrap); idempotent."""
    digest = token_digest(token)
    async with in_transaction():
        existing = await ApiToken.get_or_none(digest=digest).select_related("user")
        if existing is not None:
            return existing.user
        user = await User.get_or_none(email=email)
        if user is None:
            user = await User.create(email=email, name="Administrator", role=Role.ADMIN)
        await ApiToken.create(user=user, digest=digest)
        return user

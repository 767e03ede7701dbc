"""The schema: every domain's queries and mutations, with Orbit's limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from orbit.api.access.schema import AccessMutations, AccessQueries
from orbit.api.accounts.schema import AccountMutations, AccountQueries
from orbit.api.billing.schema import BillingMutations, BillingQueries
from orbit.api.contracts.schema import ContractMutations, ContractQueries
from orbit.api.errors import MaskInternalErrors, OrbitSchema
from orbit.api.inputs import CheckInputs
from orbit.api.node import NODE_TYPES, NodeQueries
from orbit.api.receivables.schema import ReceivablesMutations, ReceivablesQueries
from orbit.api.renewals.schema import RenewalQueries
from orbit.api.scalars import SCALAR_MAP
from orbit.metrics import RequestTimer

MAX_DEPTH = 12
MAX_ALIASES = 20
MAX_TOKENS = 5000

Query = merge_types(
    "Query",
    (
        NodeQueries,
        AccessQueries,
        AccountQueries,
        ContractQueries,
        BillingQueries,
        ReceivablesQueries,
        RenewalQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (AccessMutations, AccountMutations, ContractMutations, BillingMutations, ReceivablesMutations),
)


def build_schema(production: bool = False) -> OrbitSchema:
    extensions: list[Callable[[], Any] | type[Any]] = [
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        MaskInternalErrors,
        CheckInputs,
        RequestTimer,
    ]
    if production:
        extensions.append(DisableIntrospection)
    return OrbitSchema(
        query=Query,
        mutation=Mutation,
        types=list(NODE_TYPES),
        extensions=extensions,
        config=StrawberryConfig(scalar_map=cast(dict[object, Any], SCALAR_MAP)),
    )


def sdl() -> str:
    return build_schema().as_str() + "\n"

"""How failures reach clients.

expected, per mutation      -> userErrors [{code, field, message}] (services' DomainError)
no or bad token             -> GraphQL error, extensions.code UNAUTHENTICATED
role may not do this        -> GraphQL error, extensions.code FORBIDDEN
bad argument (page size...) -> GraphQL error, extensions.code BAD_USER_INPUT
anything else (a bug)       -> "internal error" with an errorId that is in the log
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

log = logging.getLogger("orbit.api")


class ClientError(GraphQLError):
    code = "BAD_USER_INPUT"
    default_message = "bad request"

    def __init__(self, message: str | None = None, **extensions: Any) -> None:
        super().__init__(
            message or self.default_message, extensions={"code": self.code, **extensions}
        )


class Unauthenticated(ClientError):
    code = "UNAUTHENTICATED"
    default_message = "authentication required: send Authorization: Bearer <token>"


class Forbidden(ClientError):
    code = "FORBIDDEN"
    default_message = "your role may not do this"


class BadInput(ClientError):
    code = "BAD_USER_INPUT"


def is_unexpected(error: GraphQLError) -> bool:
    """Only errors raised while resolving (with a path) that are not ours are bugs."""
    return (
        error.path is not None
        and error.original_error is not None
        and not isinstance(error.original_error, GraphQLError)
    )


class OrbitSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if not is_unexpected(error):
                code = (error.extensions or {}).get("code")
                if code is None:
                    # graphql-core's own errors (invalid documents, variables, limits)
                    # carry no code: give them one, as every error a client sees has
                    code = "GRAPHQL_VALIDATION_FAILED"
                    error.extensions = {**(error.extensions or {}), "code": code}
                log.info("client error %s: %s", code, error.message)
                continue
            error_id = uuid.uuid4().hex[:16]
            error.extensions = {**(error.extensions or {}), "errorId": error_id}
            log.error(
                "internal error errorId=%s path=%s",
                error_id,
                error.path,
                exc_info=error.original_error,
            )


class MaskInternalErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="internal error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            "internal error",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={
                "code": "INTERNAL_SERVER_ERROR",
                "errorId": (error.extensions or {}).get("errorId"),
            },
        )

"""Every argument a client sends is checked here, once, before any resolver runs:

- a list (an enum list, IDs, lines...) of more than MAX_ITEMS items -> BAD_USER_INPUT
- a String or ID with control characters or lone surrogates (tab, line feed and
  carriage return are allowed in free text: ``reason``)
- a Date outside [2000-01-01, today + 10 years] (a contract's ``endDate``: at most
  50 years after its ``startDate``)

On a query field the refusal is a GraphQL error with code BAD_USER_INPUT. On a
mutation it is an INVALID user error naming the field within the input (as the
services' own refusals are): the problems are handed to ``mutations.run`` through
``pending_problems``, which returns them as the payload's userErrors and runs
nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from datetime import date
from typing import Any

from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLResolveInfo,
    GraphQLScalarType,
)
from strawberry.extensions import SchemaExtension

from orbit.api.errors import BadInput
from orbit.services import validation as check
from orbit.services.errors import Code, Problem

MAX_ITEMS = 100

#: problems found in the input of the mutation being resolved, for mutations.run
pending_problems: ContextVar[list[Problem] | None] = ContextVar("pending_problems", default=None)


class TooMany(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} takes at most {MAX_ITEMS} items")


def _walk(
    value: Any, type_: GraphQLInputType, path: tuple[str, ...], name: str
) -> Iterator[tuple[tuple[str, ...], str]]:
    """(field path, what is wrong) for every bad value in ``value`` of ``type_``."""
    if value is None:
        return
    if isinstance(type_, GraphQLNonNull):
        yield from _walk(value, type_.of_type, path, name)
    elif isinstance(type_, GraphQLList):
        if not isinstance(value, list):  # a single value given for a list
            yield from _walk(value, type_.of_type, path, name)
            return
        if len(value) > MAX_ITEMS:
            raise TooMany(name)
        for index, item in enumerate(value):
            yield from _walk(item, type_.of_type, (*path, str(index)), name)
    elif isinstance(type_, GraphQLInputObjectType):
        if not isinstance(value, dict):
            return
        for key, field in type_.fields.items():
            if key not in value:
                continue
            item = value[key]
            start = value.get("startDate") if key == "endDate" else None
            if isinstance(item, date) and isinstance(start, date):
                why = check.bad_date(item, start)
                if why is not None:
                    yield (*path, key), f"{key}: {why}"
                continue
            yield from _walk(item, field.type, (*path, key), key)
    elif isinstance(type_, GraphQLScalarType):
        if type_.name in ("String", "ID") and isinstance(value, str):
            why_text = check.bad_text(value, name in check.FREE_TEXT_FIELDS)
            if why_text is not None:
                yield path, f"{name} {why_text}"
        elif type_.name == "Date" and isinstance(value, date):
            why = check.bad_date(value)
            if why is not None:
                yield path, f"{name}: {why}"


def problems_in(info: GraphQLResolveInfo[Any], arguments: dict[str, Any]) -> list[Problem]:
    """The problems in a field's arguments; the path leaves out a mutation's ``input``."""
    definition = info.parent_type.fields.get(info.field_name)
    if definition is None:  # introspection (__type, __schema)
        return []
    found = []
    for name, argument in definition.args.items():
        if name not in arguments:
            continue
        root = () if name == "input" else (name,)
        for path, message in _walk(arguments[name], argument.type, root, name):
            found.append(Problem(Code.INVALID, message, path or None))
    return found


class CheckInputs(SchemaExtension):
    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if not kwargs:
            return _next(root, info, *args, **kwargs)
        try:
            problems = problems_in(info, kwargs)
        except TooMany as error:
            raise BadInput(str(error)) from None
        if not problems:
            return _next(root, info, *args, **kwargs)
        if info.operation.operation.value != "mutation" or info.path.prev is not None:
            raise BadInput(problems[0].message, field=list(problems[0].field or ()))
        return self._refused_mutation(_next, root, info, problems, args, kwargs)

    async def _refused_mutation(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        problems: list[Problem],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        holder = list(problems)
        token = pending_problems.set(holder)
        try:
            result = _next(root, info, *args, **kwargs)
            if isinstance(result, Awaitable):
                result = await result
        finally:
            pending_problems.reset(token)
        if holder:  # the resolver did not take them: refuse the whole field
            raise BadInput(problems[0].message, field=list(problems[0].field or ()))
        return result


def take_problems() -> list[Problem]:
    """The pending input problems of this mutation (then none are pending)."""
    holder = pending_problems.get()
    if not holder:
        return []
    taken = list(holder)
    holder.clear()
    return taken

"""The served schema: exported, committed, and a compatible superset of the contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    DangerousChangeType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)

from orbit.api.schema import sdl

ROOT = Path(__file__).resolve().parents[2]
EXPORTED = ROOT / "schema" / "schema.graphql"
CONTRACT = ROOT / "schema" / "contract.graphql"
SHARED_CONTRACT = ROOT.parent / "shared" / "spec" / "schema.graphql"


def contracts() -> list[Path]:
    found = [CONTRACT]
    if SHARED_CONTRACT.exists():
        found.append(SHARED_CONTRACT)
    return found


def test_exported_schema_is_up_to_date() -> None:
    assert EXPORTED.read_text() == sdl(), (
        "schema/schema.graphql is out of date: run `orbit export-schema --output "
        "schema/schema.graphql`"
    )


@pytest.mark.parametrize("contract_path", contracts(), ids=lambda p: str(p.parent.name))
def test_no_breaking_changes_against_the_contract(contract_path: Path) -> None:
    contract = build_schema(contract_path.read_text())
    served = build_schema(EXPORTED.read_text())
    assert find_breaking_changes(contract, served) == []


@pytest.mark.parametrize("contract_path", contracts(), ids=lambda p: str(p.parent.name))
def test_no_default_value_changes_against_the_contract(contract_path: Path) -> None:
    contract = build_schema(contract_path.read_text())
    served = build_schema(EXPORTED.read_text())
    changed = [
        change.description
        for change in find_dangerous_changes(contract, served)
        if change.type
        in (
            DangerousChangeType.ARG_DEFAULT_VALUE_CHANGE,
            DangerousChangeType.INPUT_FIELD_DEFAULT_VALUE_CHANGE,
        )
    ]
    assert changed == []


def argument_types(schema: GraphQLSchema) -> dict[str, str]:
    """Every argument and input field with its type, e.g. 'Query.upcomingRenewals(withinDays)':
    'Int!' (graphql-core does not report Int! = 90 becoming Int = 90)."""
    found = {}
    for name, kind in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(kind, GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                found[f"{name}.{field_name}"] = str(field.type)
        elif isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in kind.fields.items():
                for arg_name, arg in field.args.items():
                    found[f"{name}.{field_name}({arg_name})"] = str(arg.type)
    return found


@pytest.mark.parametrize("contract_path", contracts(), ids=lambda p: str(p.parent.name))
def test_arguments_keep_their_types(contract_path: Path) -> None:
    contract = argument_types(build_schema(contract_path.read_text()))
    served = argument_types(build_schema(EXPORTED.read_text()))
    differing = {k: (v, served.get(k)) for k, v in contract.items() if served.get(k) != v}
    assert differing == {}


def test_project_copy_of_the_contract_extends_the_shared_one() -> None:
    """schema/contract.graphql is the shared contract plus the parts merged into it as
    they are served (section 12's per-currency aging totals so far): it may add, never
    change or remove."""
    if not SHARED_CONTRACT.exists():
        pytest.skip("the shared spec is not beside this checkout")
    shared = build_schema(SHARED_CONTRACT.read_text())
    project = build_schema(CONTRACT.read_text())
    assert find_breaking_changes(shared, project) == []
    assert find_dangerous_changes(shared, project) == []
    added = set(project.type_map) - set(shared.type_map)
    assert added == {"CurrencyAging"}

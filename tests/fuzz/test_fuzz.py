"""Schemathesis fuzzes every query and mutation over HTTP with generated arguments
(valid and invalid ones): the API answers each with data or a client error, never a
server error. A fixed seed keeps CI reproducible."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, seed, settings

from tests.fuzz.conftest import Server

EXAMPLES_PER_OPERATION = 30
MINIMUM_OPERATIONS = 1000

#: boundary values (tests/fuzz/conftest.py) that the run must really have sent, as they
#: appear in a query document: each is counted over all operations
MARKERS = {
    "NUL": "\\u0000",
    "another control character": "\\u001B",
    "year 1": "0001-01-01",
    "year 9999": "9999-12-31",
    "after today + 10 years": "2100-01-01",
    "Arabic-Indic digits": "\u0661",
    "an id beyond 64 bits": "QWNjb3VudDoxODQ0Njc0NDA3MzcwOTU1MTYxNg==",
    "a non-canonical id": "QWNjb3VudDowMDAx",
    "a price over the bound": "1000000000.000001",
    "a quantity over the bound": "1000001",
}


def test_no_operation_gives_a_server_error(orbit_server: Server) -> None:
    schema = schemathesis.graphql.from_url(
        f"{orbit_server.base}/graphql", headers=orbit_server.headers
    )
    sent: dict[str, int] = {}
    seen = dict.fromkeys(MARKERS, 0)
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        label = operation.label

        @seed(20261126)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            response = case.call(headers=orbit_server.headers)
            sent[case.operation.label] = sent.get(case.operation.label, 0) + 1
            body = case.body
            text = str(body.get("query", "")) if isinstance(body, dict) else str(body)
            for name, marker in MARKERS.items():
                seen[name] += marker in text
            assert response.status_code < 500, response.text
            case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])

        try:
            fuzz()
        except Exception as error:  # collect every operation's failure, then report
            failures[label] = f"{type(error).__name__}: {error}"[:2000]
    print(f"fuzzed {sum(sent.values())} operations over {len(sent)} fields")
    print("boundary values sent:", ", ".join(f"{k}: {v}" for k, v in seen.items()))
    assert failures == {}
    assert len(sent) >= 40, sorted(sent)
    assert sum(sent.values()) >= MINIMUM_OPERATIONS, sent
    assert all(seen.values()), seen

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from tests.support import TestDatabase

ROOT = Path(__file__).resolve().parents[2]

# Besides what schemathesis generates, every scalar gets the boundary values and junk a
# client might send (the API must refuse them as client errors, never fail on them):
# see docs/api.md "Errors" and "Bounds", and tests/api/test_bad_input.py.


def _gid(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BOUNDARY_DECIMALS = [
    "NaN",
    "-0",
    "1e999999",
    "abc",
    "",
    "99999999999999999999.99",
    "99999999999999.99",
    "1000000000",
    "1000000000.000001",
    "999999999.999999",
    "100.000001",
    "-100",
    "0.0000001",
    "\u0661\u0662\u0663.\u0664\u0665",  # Arabic-Indic digits
    "\uff11\uff12",  # fullwidth digits
    "12.50\n",
    " 1",
    "+1",
]
BOUNDARY_DATES = [
    "0001-01-01",
    "9999-12-31",
    "1999-12-31",
    "2000-01-01",
    "2036-12-31",
    "2100-01-01",
    "2026-02-30",
    "2026-W10-1",
    "20260301",
    "\u0662\u0660\u0662\u0666-03-01",
    "",
]
BOUNDARY_STRINGS = [
    "\x00",
    "a\x00b",
    "\x07",
    "\x1b[31m",
    "\t",
    "\r\n",
    "\x7f",
    "\x85",
    "\u202e",
    "\ufeff",
    "\U0001d7d8",
    "x" * 5000,
    "USD\x00",
    "UTC\x00",
]
BOUNDARY_IDS = [
    _gid("Account:1"),
    _gid("Account:0001"),
    _gid("Account: 1"),
    _gid("Account:+1"),
    _gid("Account:\u0661"),
    _gid("Account:12").rstrip("="),
    _gid("Account:1") + "=",
    _gid(f"Account:{2**31}"),
    _gid(f"Account:{2**63}"),
    _gid(f"Account:{2**64}"),
    _gid(f"Invoice:{2**63 - 1}"),
    _gid("Contract:1\x00"),
    "QWNjb3VudDox\x00",
    "",
]
BOUNDARY_INTS = [0, -1, 1, 31, 32, 120, 121, 600, 601, 3650, 3651, 10**6, 10**6 + 1, 2**31 - 1]

schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
        st.sampled_from(BOUNDARY_DECIMALS),
    ).map(nodes.String),
)
schemathesis.graphql.scalar(
    "Date",
    st.one_of(st.dates().map(str), st.sampled_from(BOUNDARY_DATES)).map(nodes.String),
)
schemathesis.graphql.scalar(
    "String", st.one_of(st.text(), st.sampled_from(BOUNDARY_STRINGS)).map(nodes.String)
)
schemathesis.graphql.scalar(
    "ID", st.one_of(st.text(), st.sampled_from(BOUNDARY_IDS)).map(nodes.String)
)
schemathesis.graphql.scalar(
    "Int",
    st.one_of(
        st.integers(min_value=-(2**31), max_value=2**31 - 1), st.sampled_from(BOUNDARY_INTS)
    ).map(nodes.Int),
)


class Server:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
async def orbit_server(
    database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    """`orbit serve` in its own process on the test database (emptied first), with an
    admin token: the fuzzer calls it over HTTP as a client would."""
    from tests.support import empty_database

    await empty_database()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "orb_fuzz_" + secrets.token_urlsafe(16)
    workdir = tmp_path_factory.mktemp("fuzz")
    env = {
        **os.environ,
        "ORBIT_DATABASE_URL": database.url,
        "ORBIT_ADMIN_TOKEN": token,
        "ORBIT_ENV": "test",
        "ORBIT_LOG_LEVEL": "ERROR",
        "ORBIT_REDIS_URL": "",
    }
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "orbit.cli", "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError((workdir / "serve.log").read_text())
    try:
        yield Server(base, token)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()

from __future__ import annotations

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

# Decimal is not one of schemathesis' scalars: plain decimals, and junk a client
# might send (the API must refuse it as a client error, never fail on it)
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
        st.sampled_from(["NaN", "-0", "1e999999", "abc", "", "99999999999999999999.99"]),
    ).map(nodes.String),
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

"""The benchmarks' smoke modes: tiny data sets, a few seconds each, no timing asserted.

They need PostgreSQL (and Redis for the invoice run's workers), so they run only with
ORBIT_TEST_BACKEND=postgres. Each bench runs in a subprocess, exactly as
``python -m bench.<name> --smoke`` from the repository root; it checks its own
results (the builder against the services, the run's counters, the raw endpoint's
JSON against Orbit's, the raw SQL's rows against the service's) and fails loudly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import backend

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="benchmarks run on PostgreSQL")


@pytest.mark.parametrize("bench", ["invoice_run", "big_account", "account_page", "renewals"])
def test_smoke(bench: str) -> None:
    env = dict(os.environ)
    env.setdefault("ORBIT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert f'"bench": "{bench}"' in done.stdout, output[-4000:]

"""docker-compose.yml: valid against the compose specification, and every command it
runs is one the `orbit` command accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from orbit.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def services() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = document["services"]
    return found


def test_compose_file_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_has_the_production_services() -> None:
    found = services()
    assert set(found) == {"postgres", "redis", "migrate", "api", "worker"}
    for name in ("postgres", "redis", "api", "worker"):
        assert "healthcheck" in found[name], f"{name} has no healthcheck"
    assert found["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert found[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "ports" not in found["worker"], "workers must scale: no fixed host port"


@pytest.mark.parametrize("service", ["migrate", "api", "worker"])
def test_each_orbit_command_in_compose_is_a_real_command(service: str) -> None:
    command = services()[service]["command"]
    assert command[0] == "orbit"
    args = build_parser().parse_args(command[1:])
    assert callable(args.handler)


def test_dockerfile_runs_the_api_by_default() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["orbit", "serve"' in dockerfile
    assert "pip install --no-cache-dir ." in dockerfile

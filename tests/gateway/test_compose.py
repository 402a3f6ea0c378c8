"""docker-compose.yml: valid Compose (schema, and the real `docker-compose config`), and its wiring checked as YAML.

There is no Docker engine here. The file is validated against the Compose Specification schema that
docker-compose 1.29.2 validates with (`compose_spec.json` beside this file: `compose/config/compose_spec.json`
of the docker-compose 1.29.2 wheel on PyPI, Apache License 2.0), the way docker-compose does it (jsonschema,
draft 4), so this test runs everywhere. `docker-compose config` itself runs too where it is installed
(scripts/setup.sh installs Debian's docker-compose where apt-get is available as root); it needs no engine.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).resolve().parent / "compose_spec.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _errors(validator: jsonschema.Draft4Validator, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
            for error in validator.iter_errors(document)]


def test_compose_file_matches_the_compose_specification(validator, compose) -> None:
    assert _errors(validator, compose) == []


def test_the_schema_refuses_what_compose_refuses(validator, compose) -> None:
    """The validation above can fail: mistakes of the kind a hand-edited compose file gets are caught."""
    named = {**compose, "name": "imagery"}  # a top-level project name: newer Compose only, 1.29 refuses it
    assert any("'name'" in error for error in _errors(validator, named))

    misspelt = copy.deepcopy(compose)
    misspelt["services"]["gateway"]["depend_on"] = misspelt["services"]["gateway"].pop("depends_on")
    assert any("depend_on" in error for error in _errors(validator, misspelt))

    bad_condition = copy.deepcopy(compose)
    bad_condition["services"]["triton"]["depends_on"]["export"]["condition"] = "service_finished"
    assert _errors(validator, bad_condition)

    bad_healthcheck = copy.deepcopy(compose)
    bad_healthcheck["services"]["triton"]["healthcheck"]["retries"] = "thirty"
    assert _errors(validator, bad_healthcheck)


def _compose_command() -> list[str] | None:
    """Compose v1 (`docker-compose`, Debian's package) or the v2 CLI plugin (`docker compose`), if either works."""
    candidates = [["docker-compose"], ["docker", "compose"]]
    for command in candidates:
        if shutil.which(command[0]) is None:
            continue
        if subprocess.run([*command, "version"], capture_output=True, text=True).returncode == 0:
            return command
    return None


def test_docker_compose_config() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed (the schema test still ran)")
    for profile in ([], ["--profile", "monitoring"]):
        result = subprocess.run([*command, "-f", str(COMPOSE), *profile, "config", "--quiet"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr


def test_compose_wiring(compose) -> None:
    services = compose["services"]
    assert {"export", "triton", "gateway", "prometheus"} <= set(services)
    for name in ("export", "triton", "gateway"):
        dockerfile = ROOT / services[name]["build"]["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        assert Path(f"{dockerfile}.dockerignore").is_file()  # keeps .venv and exports out of the build context
    # export fills the volume triton serves, before triton starts; the gateway waits for a healthy triton.
    assert services["triton"]["depends_on"]["export"]["condition"] == "service_completed_successfully"
    assert services["gateway"]["depends_on"]["triton"]["condition"] == "service_healthy"
    assert any(v.startswith("models:/models") for v in services["export"]["volumes"])
    assert any(v.startswith("models:/models") for v in services["triton"]["volumes"])
    assert "--model-repository=/models" in services["triton"]["command"]
    assert services["triton"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "triton:8001" in services["gateway"]["environment"]["GATEWAY_REPLICAS"]
    assert "triton.Dockerfile" in services["triton"]["build"]["dockerfile"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    prometheus = yaml.safe_load((ROOT / "docker" / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    assert targets == {"gateway": ["gateway:8080"], "triton": ["triton:8002"]}
    # The gateway image installs no torch.
    gateway_build = (ROOT / "docker" / "gateway.Dockerfile").read_text().splitlines()
    assert not [line for line in gateway_build if "torch" in line and not line.startswith("#")]

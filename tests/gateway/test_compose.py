"""docker-compose.yml: `docker compose config` where Compose exists, and its wiring checked as YAML."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _compose_available() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`docker compose` does not work here: {(probe.stderr or probe.stdout).strip().splitlines()[0]}"
    return None


def test_docker_compose_config() -> None:
    reason = _compose_available()
    if reason:
        pytest.skip(reason)
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_compose_wiring() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
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

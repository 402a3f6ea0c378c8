"""Shared fixtures: the tiny preset exported once per session and a real tritonserver on free ports."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from export.cli import main as export_main
from serving.server import ServerPorts, TritonServer

log = logging.getLogger(__name__)

# Session fixtures that export ONNX or start tritonserver. A test using one (directly or through another
# fixture) is not a unit test; neither is one marked `integration` (it exports or starts a server itself).
# Every other test is marked `unit`: `make test-unit` runs them (pytest -m unit) in under a minute.
INTEGRATION_FIXTURES = frozenset({"tiny_source", "tiny_repository", "triton_server", "perception_repository",
                                  "perception_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("integration") is None and not fixtures & INTEGRATION_FIXTURES:
            item.add_marker(pytest.mark.unit)

TINY_COMPONENTS = "text_encoder,unet,unet_controlnet,vae_decoder,vae_encoder"
CONTROLNET_KINDS = ("depth", "seg")
LORA_SCALE = 0.8


def export_repository(directory: Path, runtime: str = "onnxruntime", extra: list[str] | None = None,
                      lora_file: Path | None = None) -> Path:
    """The tiny preset as variant `base` with two ControlNets; with `lora_file`, also the variants
    `inpainting` (a 9-channel inpainting UNet) and `lora` (the LoRA fused into UNet and text encoder),
    which share the base's other components."""
    controlnets = [arg for kind in CONTROLNET_KINDS for arg in ("--controlnet", kind)]
    # One process each for img2img and inpaint keeps the server's start short; txt2img keeps 4 for concurrency.
    common = ["--runtime", runtime, "--output", str(directory), "--orchestrator-instances", "img2img=1",
              "--orchestrator-instances", "inpaint=1", *(extra or [])]
    export_main(["--preset", "tiny", "--components", TINY_COMPONENTS, *controlnets, *common])
    if lora_file is not None:
        export_main(["--preset", "tiny-inpaint", "--variant", "inpainting", "--components", "unet", *common])
        export_main(["--preset", "tiny", "--variant", "lora", "--lora", f"{lora_file}:{LORA_SCALE}",
                     "--components", "text_encoder,unet", *common])
    return directory


@pytest.fixture(scope="session")
def lora_file(tiny_source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.lora_files import write_lora

    return write_lora(tiny_source, tmp_path_factory.mktemp("lora"))


@pytest.fixture(scope="session")
def tiny_repository(tmp_path_factory: pytest.TempPathFactory, lora_file: Path) -> Path:
    """The tiny preset exported with onnxruntime (all components, ControlNets, variants) into a temporary repository."""
    return export_repository(tmp_path_factory.mktemp("repo-onnxruntime"), lora_file=lora_file)


@pytest.fixture(scope="session")
def triton_server(tiny_repository: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real tritonserver serving `tiny_repository` on 127.0.0.1 (started once per session)."""
    log_file = tmp_path_factory.mktemp("logs") / "tritonserver.log"
    server = TritonServer(tiny_repository, ServerPorts.free(), log_file=log_file)
    with server:
        yield server
    log.info("tritonserver log: %s", log_file)


@pytest.fixture(scope="session")
def tiny_source():
    """The tiny preset's torch modules (same fixed seed as the exported repository)."""
    from export.sources import tiny_source as build

    return build()


# Perception (issue 8): the tiny presets of every perception model in their own repository and server,
# so the txt2img tests do not pay for them and vice versa.
PERCEPTION_MODELS = ["clip_score", "clip_classify", "depth_estimator", "segmenter", "foreground_mask", "sam"]


@pytest.fixture(scope="session")
def perception_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from export.perception.repository import export_perception

    directory = tmp_path_factory.mktemp("repo-perception")
    presets = {"clip": "tiny", "depth": "tiny", "segmenter": "tiny", "foreground": "tiny", "sam": "tiny"}
    export_perception(PERCEPTION_MODELS, presets, directory, "onnxruntime", instance_count=1)
    return directory


@pytest.fixture(scope="session")
def perception_server(perception_repository: Path, tmp_path_factory: pytest.TempPathFactory):
    log_file = tmp_path_factory.mktemp("logs-perception") / "tritonserver.log"
    with TritonServer(perception_repository, ServerPorts.free(), log_file=log_file) as server:
        yield server
    log.info("perception tritonserver log: %s", log_file)

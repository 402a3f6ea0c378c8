"""Shared fixtures: the tiny preset exported once per session and a real tritonserver on free ports."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from export.cli import main as export_main
from serving.contracts import TXT2IMG_COMPONENTS
from serving.server import ServerPorts, TritonServer

log = logging.getLogger(__name__)

# rembg (the foreground references) imports pymatting, whose numba functions compile eagerly at import: ~60 s of
# CPU in a fresh venv. The references use rembg's mask path (only_mask, no alpha matting), which never calls them,
# so they stay plain Python functions here.
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

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


# Perception (issue 8) and the photo workflows (issue 9) that use it are served by the same repository.
PERCEPTION_MODELS = ["clip_score", "clip_classify", "depth_estimator", "segmenter", "foreground_mask", "sam",
                     "sam_automatic"]
PERCEPTION_PRESETS = {"clip": "tiny", "depth": "tiny", "segmenter": "tiny", "foreground": "tiny", "sam": "tiny"}
# One process each for img2img, inpaint and the workflows keeps the server's start short and its memory
# bounded (each is a process importing torch); txt2img keeps 4 for concurrency.
SMALL_INSTANCES = ("img2img", "inpaint", "background_replace", "restyle_room", "product_enhance", "product_finder")


def export_repository(directory: Path, runtime: str = "onnxruntime", extra: list[str] | None = None,
                      lora_file: Path | None = None, perception: bool = False, translation: bool = False) -> Path:
    """The tiny preset as variant `base` with two ControlNets; with `lora_file`, also the variants
    `inpainting` (a 9-channel inpainting UNet) and `lora` (the LoRA fused into UNet and text encoder),
    which share the base's other components; with `perception`, the perception models and the workflows;
    with `translation`, translate and its two networks."""
    controlnets = [arg for kind in CONTROLNET_KINDS for arg in ("--controlnet", kind)]
    common = ["--runtime", runtime, "--output", str(directory),
              *[arg for name in SMALL_INSTANCES for arg in ("--orchestrator-instances", f"{name}=1")], *(extra or [])]
    if perception:
        from export.perception.repository import export_perception

        export_perception(PERCEPTION_MODELS, PERCEPTION_PRESETS, directory, "onnxruntime", instance_count=1)
    if translation:  # translate (MarianMT tiny) and its encoder/decoder; 2 instances: two requests decode at once
        from export.translation.repository import export_translation

        export_translation("tiny", directory, "onnxruntime", instances=2)
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
    """The tiny preset exported with onnxruntime (all components, ControlNets, variants, perception models,
    workflows and translate) into a temporary repository."""
    return export_repository(tmp_path_factory.mktemp("repo-onnxruntime"), lora_file=lora_file, perception=True,
                             translation=True)


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


@pytest.fixture(scope="session")
def perception_server(triton_server):
    """The perception models are served by the session server (one tritonserver, not two)."""
    return triton_server


TXT2IMG_MODELS = ("txt2img", "txt2img_stream", *TXT2IMG_COMPONENTS)
TXT2IMG_REPLICA_INSTANCES = 1


@pytest.fixture(scope="session")
def txt2img_repository(tiny_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only txt2img and its components, linked from `tiny_repository`: for tests that start extra servers
    (failover replicas, serve-all), which then load in a fraction of the full repository's time and memory."""
    directory = tmp_path_factory.mktemp("repo-txt2img")
    for name in TXT2IMG_MODELS:
        if name != "txt2img":
            (directory / name).symlink_to(tiny_repository / name, target_is_directory=True)
    # txt2img with fewer instances: each is a process importing torch and diffusers, most of a server's start.
    (directory / "txt2img").mkdir()
    (directory / "txt2img" / "1").symlink_to(tiny_repository / "txt2img" / "1", target_is_directory=True)
    config = (tiny_repository / "txt2img" / "config.pbtxt").read_text()
    instances = "instance_group {\n  count: 4\n"
    assert instances in config
    (directory / "txt2img" / "config.pbtxt").write_text(
        config.replace(instances, f"instance_group {{\n  count: {TXT2IMG_REPLICA_INSTANCES}\n"))
    return directory

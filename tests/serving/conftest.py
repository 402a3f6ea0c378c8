"""The torch-runtime server (the GPU path), shared by the serving tests: one export, one tritonserver.

Everything is loaded the way users load real checkpoints, `from_pretrained` on `save_pretrained` directories:
a pipeline (variant `base`, exported with `--max-image-size`), ControlNets (`--controlnet KIND=DIR`), an
inpainting pipeline (variant `inpainting`) and the base with a LoRA file fused (variant `lora`).
"""

from __future__ import annotations

import shutil

import pytest

from export.cli import main as export_main
from export.sources import load_source
from serving.server import ServerPorts, TritonServer
from tests.conftest import CONTROLNET_KINDS, LORA_SCALE

TORCH_MAX_IMAGE_SIZE = 192  # below the default 1024, above the tiny model's native 128 px


@pytest.fixture(scope="session")
def pretrained_dirs(tiny_source, tmp_path_factory):
    from export.sources import preset_controlnet, tiny_source as build

    root = tmp_path_factory.mktemp("pretrained")
    tiny_source.save_pretrained(root / "base")
    build(unet_in_channels=9).save_pretrained(root / "inpainting")
    for kind in CONTROLNET_KINDS:
        preset_controlnet("tiny", kind).save_pretrained(root / f"controlnet-{kind}")
    return root


@pytest.fixture(scope="session")
def pretrained_dir(pretrained_dirs):
    return pretrained_dirs / "base"


@pytest.fixture(scope="session")
def pretrained_source(pretrained_dir):
    """The reference: the directory loaded the way diffusers users load it (its own scheduler config)."""
    return load_source(model=str(pretrained_dir))


# Module scope: a torch-runtime server holds ~20 processes that each import torch; it is stopped after each
# module that uses it, so it never stays up beside the other servers for the rest of the session.
@pytest.fixture(scope="module")
def torch_server(pretrained_dirs, lora_file, tmp_path_factory):
    repository = tmp_path_factory.mktemp("repo-torch")
    # One process per orchestrator: every torch-runtime stub imports torch, which dominates the start.
    common = ["--runtime", "torch", "--output", str(repository), "--max-image-size", str(TORCH_MAX_IMAGE_SIZE),
              *[arg for name in ("txt2img", "img2img", "inpaint") for arg in ("--orchestrator-instances", f"{name}=1")]]
    controlnets = [arg for kind in CONTROLNET_KINDS for arg in ("--controlnet", f"{kind}={pretrained_dirs / f'controlnet-{kind}'}")]
    export_main(["--model", str(pretrained_dirs / "base"), *controlnets, *common])
    export_main(["--model", str(pretrained_dirs / "inpainting"), "--variant", "inpainting", "--components", "unet",
                 *common])
    export_main(["--model", str(pretrained_dirs / "base"), "--variant", "lora", "--lora", f"{lora_file}:{LORA_SCALE}",
                 "--components", "text_encoder,unet", *common])
    assert (repository / "unet" / "1" / "weights" / "config.json").exists()
    assert (repository / "controlnet_depth" / "1" / "weights" / "config.json").exists()
    # The streaming twins run the same runner as their plain models (tested on onnxruntime); each would be one
    # more process importing torch and diffusers at start.
    for twin in repository.glob("*_stream"):
        shutil.rmtree(twin)
    with TritonServer(repository, ServerPorts.free(), log_file=repository.parent / "torch-server.log") as server:
        yield server

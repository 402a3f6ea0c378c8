"""The torch runtime (the GPU path) serves img2img, inpaint, ControlNet and LoRA variants equal to diffusers.

Everything is loaded the way users load real checkpoints: `from_pretrained` on `save_pretrained` directories
(a pipeline, an inpainting pipeline, a ControlNet) and a LoRA safetensors file.
"""

from __future__ import annotations

import logging

import pytest

from export.cli import main as export_main
from export.sources import load_source, pretrained_controlnet
from serving.server import ServerPorts, TritonServer
from tests.conftest import LORA_SCALE
from tests.lora_files import fuse_lora_reference
from tests.serving.test_conditioned_parity import CASES, served_and_reference
from tests.serving.reference import max_pixel_difference

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def pretrained_dirs(tiny_source, tmp_path_factory):
    from export.sources import preset_controlnet, tiny_source as build

    root = tmp_path_factory.mktemp("pretrained")
    tiny_source.save_pretrained(root / "base")
    build(unet_in_channels=9).save_pretrained(root / "inpainting")
    for kind in ("depth", "seg"):
        preset_controlnet("tiny", kind).save_pretrained(root / f"controlnet-{kind}")
    return root


@pytest.fixture(scope="module")
def torch_conditioned_server(pretrained_dirs, lora_file, tmp_path_factory):
    repository = tmp_path_factory.mktemp("repo-torch-conditioned")
    common = ["--runtime", "torch", "--output", str(repository), "--orchestrator-instances", "txt2img=1"]
    export_main(["--model", str(pretrained_dirs / "base"), *common,
                 "--controlnet", f"depth={pretrained_dirs / 'controlnet-depth'}",
                 "--controlnet", f"seg={pretrained_dirs / 'controlnet-seg'}"])
    export_main(["--model", str(pretrained_dirs / "inpainting"), "--variant", "inpainting", "--components", "unet",
                 *common])
    export_main(["--model", str(pretrained_dirs / "base"), "--variant", "lora", "--lora", f"{lora_file}:{LORA_SCALE}",
                 "--components", "text_encoder,unet", *common])
    assert (repository / "controlnet_depth" / "1" / "weights" / "config.json").exists()
    with TritonServer(repository, ServerPorts.free(), log_file=repository.parent / "torch-conditioned.log") as server:
        yield server


@pytest.fixture(scope="module")
def pretrained_references(pretrained_dirs, lora_file):
    """The reference weights loaded from the same directories, the LoRA fused by diffusers."""
    lora = fuse_lora_reference(load_source(model=str(pretrained_dirs / "base")), lora_file, LORA_SCALE)
    sources = {"base": load_source(model=str(pretrained_dirs / "base")),
               "inpainting": load_source(model=str(pretrained_dirs / "inpainting")), "lora": lora}
    controlnets = {kind: pretrained_controlnet(str(pretrained_dirs / f"controlnet-{kind}")) for kind in ("depth", "seg")}
    return sources, controlnets


# Both sides build each scheduler from the directory's saved scheduler config (the served pipeline.json copy
# and load_source's), so the matrix is the onnxruntime one.
@pytest.mark.parametrize("case", list(CASES))
def test_torch_runtime_matches_diffusers(torch_conditioned_server, pretrained_references, case):
    orchestrator, options = CASES[case]
    served, expected = served_and_reference(torch_conditioned_server, pretrained_references, orchestrator, options)
    difference = max_pixel_difference(served, expected)
    log.info("parity %s [torch]: max |served - diffusers| = %d", case, difference)
    assert difference <= 1

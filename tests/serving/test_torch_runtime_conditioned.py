"""The torch runtime (the GPU path) serves img2img, inpaint, ControlNet and LoRA variants equal to diffusers.

The session torch server (tests/serving/conftest.py) loads everything from `save_pretrained` directories.
"""

from __future__ import annotations

import logging

import pytest

from export.sources import load_source, pretrained_controlnet
from tests.conftest import LORA_SCALE
from tests.lora_files import fuse_lora_reference
from tests.serving.test_conditioned_parity import CASES, served_and_reference
from tests.serving.reference import max_pixel_difference

log = logging.getLogger(__name__)


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
def test_torch_runtime_matches_diffusers(torch_server, pretrained_references, case):
    orchestrator, options = CASES[case]
    served, expected = served_and_reference(torch_server, pretrained_references, orchestrator, options)
    difference = max_pixel_difference(served, expected)
    log.info("parity %s [torch]: max |served - diffusers| = %d", case, difference)
    assert difference <= 1

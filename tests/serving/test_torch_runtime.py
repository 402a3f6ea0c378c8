"""The torch runtime (the GPU path), served end to end from `save_pretrained` directories, against diffusers.

It is held to the same parity matrices as onnxruntime: txt2img, and img2img, inpaint, ControlNet and LoRA
variants. The export also sets `--max-image-size` below the default, and a test checks the served contract
follows it. One module, so the torch server (tests/serving/conftest.py, module-scoped) starts once.
"""

from __future__ import annotations

import logging

import pytest

from clients.triton_client import TritonInferenceError, TritonTxt2ImgClient
from export.sources import load_source, pretrained_controlnet
from tests.conftest import LORA_SCALE
from tests.lora_files import fuse_lora_reference
from tests.serving.conftest import TORCH_MAX_IMAGE_SIZE
from tests.serving.reference import PARITY_CASES, diffusers_txt2img, max_pixel_difference
from tests.serving.test_conditioned_parity import CASES, served_and_reference

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


MAX_IMAGE_SIZE = TORCH_MAX_IMAGE_SIZE  # the session torch server's export (tests/serving/conftest.py)


@pytest.fixture(scope="module")
def client(torch_server):
    client = TritonTxt2ImgClient(torch_server.grpc_url)
    yield client
    client.close()


@pytest.mark.parametrize(("scheduler", "height", "width", "negative", "guidance", "num_images"), PARITY_CASES)
def test_torch_runtime_from_pretrained_dir_matches_diffusers(client, pretrained_source, scheduler, height, width,
                                                             negative, guidance, num_images):
    options = dict(seed=77, scheduler=scheduler, num_inference_steps=10, guidance_scale=guidance, height=height,
                   width=width, negative_prompt=negative, num_images=num_images)
    served = client.generate("a marble coffee table", **options)
    expected = diffusers_txt2img(pretrained_source, "a marble coffee table", **options)
    difference = max_pixel_difference(served.images, expected)
    log.info("torch runtime parity %s %dx%d n=%d: max |served - diffusers| = %d", scheduler, width, height,
             num_images, difference)
    assert served.images.shape == (num_images, height, width, 3)
    assert difference <= 1
    assert served.images.std() > 1  # a real image, not a constant


def test_max_image_size_of_the_export_bounds_height_and_width(client):
    """`python -m export --max-image-size N`: sizes up to N are served, larger ones are refused by name."""
    # Height and width must be multiples of the tiny model's stride (16): MAX_IMAGE_SIZE is, + 16 is the next one.
    for name in ("height", "width"):
        with pytest.raises(TritonInferenceError) as raised:
            client.generate("a lamp", num_inference_steps=1, **{name: MAX_IMAGE_SIZE + 16})
        message = str(raised.value)
        assert f"'{name}'" in message and f"maximum {MAX_IMAGE_SIZE}" in message, message
    largest = client.generate("a lamp", num_inference_steps=1, height=MAX_IMAGE_SIZE, width=MAX_IMAGE_SIZE)
    assert largest.images.shape == (1, MAX_IMAGE_SIZE, MAX_IMAGE_SIZE, 3)


def test_torch_and_onnxruntime_runtimes_agree(torch_server, triton_server):
    # DDIM: the saved pipeline's scheduler config equals the preset's for DDIM (other schedulers inherit
    # DDIM's "leading" timestep spacing from the saved config, a real difference between the checkpoints).
    options = dict(seed=3, scheduler="ddim", num_inference_steps=12, negative_prompt="grainy")
    images = []
    for server in (torch_server, triton_server):
        client = TritonTxt2ImgClient(server.grpc_url)
        images.append(client.generate("a rattan pendant lamp", **options).images)
        client.close()
    difference = max_pixel_difference(*images)
    log.info("torch vs onnxruntime runtime: max pixel difference %d", difference)
    assert difference <= 1

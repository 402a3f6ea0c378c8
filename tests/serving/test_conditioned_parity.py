"""img2img, inpaint, ControlNet and model variants served by Triton equal the diffusers pipelines (max |diff| <= 1).

Same tiny weights, seed and scheduler; the references are StableDiffusion{Img2Img,Inpaint}Pipeline, the
ControlNet pipelines (MultiControlNet for two) and a pipeline with the LoRA loaded and fused by diffusers.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from clients.triton_client import TritonGenerationClient
from export.sources import preset_controlnet, tiny_source
from tests.conftest import LORA_SCALE
from tests.lora_files import fuse_lora_reference
from benchmarks.references.conditioned import box_mask, photo, reference_images
from tests.serving.reference import max_pixel_difference

log = logging.getLogger(__name__)

PROMPT = "a linen sofa in a bright scandinavian living room"
PHOTO = photo(100, 140)  # not a multiple of the stride: resized as diffusers' image processor does
MASK = box_mask(100, 140)
CONTROL = np.stack([photo(64, 96, seed=1), photo(64, 96, seed=2)])

# (orchestrator, request options); the reference gets the same options.
CASES = {
    "img2img-euler-nonsquare": ("img2img", dict(image=PHOTO, strength=0.6, scheduler="euler", height=64, width=96)),
    "img2img-dpmpp-n2": ("img2img", dict(image=PHOTO, strength=0.75, scheduler="dpmpp_2m", height=96, width=96,
                                         num_images=2, negative_prompt="blurry")),
    "inpaint-4ch-ddim": ("inpaint", dict(image=PHOTO, mask_image=MASK, strength=1.0, scheduler="ddim", height=96,
                                         width=128)),
    "inpaint-4ch-strength": ("inpaint", dict(image=PHOTO, mask_image=MASK, strength=0.7, scheduler="euler",
                                             height=64, width=96)),
    "inpaint-9ch-euler_a": ("inpaint", dict(image=PHOTO, mask_image=MASK, strength=1.0, model="inpainting",
                                            scheduler="euler_ancestral", height=64, width=96)),
    "inpaint-9ch-strength-n2": ("inpaint", dict(image=PHOTO, mask_image=MASK, strength=0.8, model="inpainting",
                                                scheduler="ddim", height=64, width=64, num_images=2)),
    "txt2img-2controlnets": ("txt2img", dict(control_image=CONTROL, controlnet=["depth", "seg"],
                                             controlnet_conditioning_scale=[0.7, 1.3], control_guidance_start=[0.0, 0.2],
                                             control_guidance_end=[0.8, 1.0], scheduler="euler_ancestral",
                                             height=64, width=96)),
    "img2img-controlnet": ("img2img", dict(image=PHOTO, strength=0.7, control_image=CONTROL[:1], controlnet=["depth"],
                                           controlnet_conditioning_scale=[0.9], scheduler="dpmpp_2m", height=64,
                                           width=96, num_images=2)),
    "inpaint-controlnet": ("inpaint", dict(image=PHOTO, mask_image=MASK, control_image=CONTROL[1:], controlnet=["seg"],
                                           controlnet_conditioning_scale=[1.2], control_guidance_end=[0.6],
                                           scheduler="ddim", height=64, width=96)),
    "txt2img-lora": ("txt2img", dict(model="lora", scheduler="euler", height=64, width=64)),
}


@pytest.fixture(scope="module")
def references(lora_file):
    """The reference weights: base, inpainting UNet, ControlNets, and the LoRA fused by diffusers."""
    base = tiny_source()
    inpainting = tiny_source(unet_in_channels=9)
    lora = fuse_lora_reference(tiny_source(), lora_file, LORA_SCALE)
    controlnets = {kind: preset_controlnet("tiny", kind) for kind in ("depth", "seg")}
    return {"base": base, "inpainting": inpainting, "lora": lora}, controlnets


def served_and_reference(server, references, orchestrator: str, options: dict) -> tuple[np.ndarray, np.ndarray]:
    sources, controlnets = references
    request = dict(options, seed=2024, num_inference_steps=8)
    client = TritonGenerationClient(server.grpc_url, model_name=orchestrator)
    try:
        served = client.generate(PROMPT, **request)
    finally:
        client.close()
    assert served.seed == 2024
    reference_options = {key: value for key, value in request.items() if key not in ("model", "controlnet")}
    if "controlnet" in request:
        reference_options["controlnets"] = [controlnets[kind] for kind in request["controlnet"]]
    expected = reference_images(sources[request.get("model", "base")], PROMPT, **reference_options)
    return served.images, expected


@pytest.mark.parametrize("case", list(CASES))
def test_served_matches_diffusers(triton_server, references, case):
    orchestrator, options = CASES[case]
    served, expected = served_and_reference(triton_server, references, orchestrator, options)
    difference = max_pixel_difference(served, expected)
    log.info("parity %s [onnxruntime]: max |served - diffusers| = %d", case, difference)
    assert served.shape == (options.get("num_images", 1), options["height"], options["width"], 3)
    assert difference <= 1
    assert served.std() > 1


def test_controlnet_and_lora_change_the_image(triton_server):
    """Guards the parity tests against ControlNets or LoRAs that do nothing (zero convolutions, unfused)."""
    def generate(orchestrator: str, **options) -> np.ndarray:
        client = TritonGenerationClient(triton_server.grpc_url, model_name=orchestrator)
        try:
            return client.generate(PROMPT, seed=5, num_inference_steps=4, height=64, width=96, **options).images
        finally:
            client.close()

    plain = generate("txt2img")
    controlled = generate("txt2img", control_image=CONTROL[:1], controlnet=["depth"])
    lora = generate("txt2img", model="lora")
    assert max_pixel_difference(plain, controlled) > 10
    assert max_pixel_difference(plain, lora) > 10

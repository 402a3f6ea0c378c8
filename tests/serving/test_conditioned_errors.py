"""Bad img2img / inpaint / ControlNet / variant / photo-workflow inputs through a real server: an error naming
the input and the rule (`invalid input`, or `unprocessable input` for well-formed photos a workflow cannot
use, HTTP 422 at the gateway), and the next request is served."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clients.triton_client import TritonGenerationClient, TritonInferenceError
from benchmarks.references.conditioned import box_mask, photo

PHOTO = photo(64, 96)
MASK = box_mask(64, 96)
DEPTH = photo(64, 96, seed=1)[None]

BAD = [
    # (orchestrator, options, input named, words the message must contain)
    ("img2img", dict(image=PHOTO, strength=1.5), "strength", "[0, 1]"),
    ("img2img", dict(image=PHOTO, strength=0.1, num_inference_steps=5), "strength", "leaves no denoising step"),
    ("img2img", dict(image=np.zeros((0, 96, 3), np.uint8)), "image", "is empty"),
    ("img2img", dict(image=np.zeros((5000, 16, 3), np.uint8)), "image", "exceeds the maximum side 4096"),
    ("inpaint", dict(image=PHOTO, mask_image=box_mask(32, 32)), "mask_image", "must match"),
    ("txt2img", dict(control_image=DEPTH, controlnet=["canny"]), "controlnet", "available: depth, seg"),
    ("txt2img", dict(control_image=DEPTH, controlnet=["depth", "seg"]), "controlnet", "holds 1 images"),
    ("txt2img", dict(control_image=DEPTH, controlnet=["depth"], controlnet_conditioning_scale=[7.0]),
     "controlnet_conditioning_scale", "[0, 5]"),
    ("txt2img", dict(model="sdxl"), "model", "available: base, inpainting, lora"),
    ("txt2img", dict(control_image=DEPTH, controlnet=["depth"], model="lora"), "controlnet",
     "exported without ControlNet support"),
    ("img2img", dict(image=PHOTO, model="inpainting"), "model", "use it through inpaint"),
    # Photo workflows.
    ("background_replace", dict(image=PHOTO, mask_image=np.zeros((64, 96), np.uint8)), "mask_image",
     "no foreground found"),
    ("background_replace", dict(image=np.zeros((64, 96, 4), np.uint8)), "image", "no foreground found"),
    ("background_replace", dict(image=PHOTO, mask_image=box_mask(32, 32)), "mask_image", "must match"),
    ("background_replace", dict(image=np.zeros((4097, 16, 3), np.uint8)), "image", "exceeds the maximum side 4096"),
    ("background_replace", dict(image=PHOTO, mask_dilation=65), "mask_dilation", "[0, 64]"),
    ("background_replace", dict(image=PHOTO, max_side=8), "image", "below the model's latent stride"),
    ("restyle_room", dict(image=PHOTO, keep_classes=[""]), "keep_classes", "non-empty ADE20K class names"),
    ("restyle_room", dict(image=PHOTO, keep_classes=["spaceship"]), "keep_classes", "unknown ADE20K class"),
    ("restyle_room", dict(image=PHOTO, seg_scale=9.0), "seg_scale", "[0, 5]"),
    ("restyle_room", dict(image=PHOTO[..., :2]), "image", "Expected [-1,-1,3]"),  # Triton checks the shape
    ("product_enhance", dict(image=PHOTO), "mask_image", "is required"),
    ("product_enhance", dict(image=PHOTO, mask_image=np.zeros((64, 96), np.uint8)), "mask_image",
     "marks no product region"),
    ("product_enhance", dict(image=PHOTO, mask_image=MASK, strength=2.0), "strength", "[0, 1]"),
    ("product_finder", dict(image=PHOTO, labels=[""]), "labels", "non-empty"),
    ("product_finder", dict(image=PHOTO, labels=["bag", "background"]), "labels", "implicit"),
    ("product_finder", dict(image=PHOTO, labels=["bag"], points_per_side=9), "points_per_side", "[1, 8]"),
    ("product_finder", dict(image=PHOTO, labels=["bag"], stability_score_thresh=1.5), "stability_score_thresh",
     "[0, 1]"),
]
GOOD_INPUTS = {"inpaint": {"image": PHOTO, "mask_image": MASK}, "img2img": {"image": PHOTO},
               "background_replace": {"image": PHOTO, "mask_image": MASK}, "restyle_room": {"image": PHOTO},
               "product_enhance": {"image": PHOTO, "mask_image": MASK}, "product_finder": {"image": PHOTO, "labels": ["bag"]}}


@pytest.mark.parametrize(("orchestrator", "options", "name", "expected"), BAD,
                         ids=[f"{o}-{n}-{i}" for i, (o, _, n, _) in enumerate(BAD)])
def test_bad_input_is_named_and_the_next_request_succeeds(triton_server, orchestrator, options, name, expected):
    client = TritonGenerationClient(triton_server.grpc_url, model_name=orchestrator)
    try:
        with pytest.raises(TritonInferenceError) as raised:
            if orchestrator == "product_finder":
                client.infer(**options)
            else:
                client.generate("a lamp", **{"num_inference_steps": 2, **options})
        message = str(raised.value)
        assert f"input '{name}'" in message and expected in message, message
        if orchestrator == "product_finder":  # no prompt, no image output
            assert client.infer(**GOOD_INPUTS[orchestrator], points_per_side=2)["masks"].ndim == 3
        else:
            good = client.generate("a lamp", num_inference_steps=2, seed=1, **GOOD_INPUTS.get(orchestrator, {}))
            assert good.images.ndim == 4
    finally:
        client.close()


def test_non_uint8_image_is_refused_by_the_contract(triton_server):
    """Triton checks the declared dtype before the orchestrator runs; its message names the input."""
    raw = grpcclient.InferenceServerClient(triton_server.grpc_url)
    prompt = grpcclient.InferInput("prompt", [1], "BYTES")
    prompt.set_data_from_numpy(np.array([b"a lamp"], dtype=np.object_))
    image = grpcclient.InferInput("image", [64, 96, 3], "FP32")
    image.set_data_from_numpy(PHOTO.astype(np.float32))
    try:
        with pytest.raises(InferenceServerException, match="image"):
            raw.infer("img2img", [prompt, image])
    finally:
        raw.close()

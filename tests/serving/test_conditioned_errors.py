"""Bad img2img / inpaint / ControlNet / variant inputs through a real server: an INVALID_ARG error naming the
input and the rule, and the next request is served."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clients.triton_client import TritonGenerationClient, TritonInferenceError
from tests.serving.conditioned_reference import box_mask, photo

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
]


@pytest.mark.parametrize(("orchestrator", "options", "name", "expected"), BAD,
                         ids=[f"{o}-{n}-{i}" for i, (o, _, n, _) in enumerate(BAD)])
def test_bad_input_is_named_and_the_next_request_succeeds(triton_server, orchestrator, options, name, expected):
    client = TritonGenerationClient(triton_server.grpc_url, model_name=orchestrator)
    try:
        with pytest.raises(TritonInferenceError) as raised:
            client.generate("a lamp", **{"num_inference_steps": 2, **options})
        message = str(raised.value)
        assert f"invalid input '{name}'" in message and expected in message, message
        good = client.generate("a lamp", num_inference_steps=2, seed=1, **(
            {"image": PHOTO, "mask_image": MASK} if orchestrator == "inpaint"
            else {"image": PHOTO} if orchestrator == "img2img" else {}))
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

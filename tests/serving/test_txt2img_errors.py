"""Each bad input is an inference error naming the input and its allowed range; the server keeps serving."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from clients.triton_client import TritonInferenceError, TritonTxt2ImgClient

BAD_INPUTS = [
    # (options, input named, words the message must contain)
    ({"num_inference_steps": 0}, "num_inference_steps", "[1, 150]"),
    ({"num_inference_steps": 151}, "num_inference_steps", "[1, 150]"),
    ({"guidance_scale": math.nan}, "guidance_scale", "[0, 30]"),
    ({"guidance_scale": -0.5}, "guidance_scale", "[0, 30]"),
    ({"guidance_scale": 30.5}, "guidance_scale", "[0, 30]"),
    ({"height": 100}, "height", "multiple of 16"),
    ({"width": 120}, "width", "multiple of 16"),  # a multiple of 8, not of the latent stride
    ({"height": 2048}, "height", "maximum 1024"),
    ({"width": 0}, "width", "range"),
    ({"scheduler": "lms_karras"}, "scheduler", "ddim, euler, euler_ancestral, dpmpp_2m"),
    ({"num_images": 0}, "num_images", "[1, 8]"),
    ({"num_images": 9}, "num_images", "[1, 8]"),
    ({"seed": -1}, "seed", "range"),
]


@pytest.fixture(scope="module")
def client(triton_server):
    client = TritonTxt2ImgClient(triton_server.grpc_url)
    yield client
    client.close()


@pytest.mark.parametrize(("options", "name", "expected"), BAD_INPUTS, ids=[f"{n}-{o[n]}" for o, n, _ in BAD_INPUTS])
def test_bad_input_is_named_and_the_next_request_succeeds(client, options, name, expected):
    with pytest.raises(TritonInferenceError) as raised:
        client.generate("a lamp", num_inference_steps=options.pop("num_inference_steps", 2), **options)
    message = str(raised.value)
    assert f"'{name}'" in message and expected in message, message
    good = client.generate("a lamp", num_inference_steps=2, seed=1)
    assert good.images.shape == (1, 128, 128, 3)


@pytest.mark.parametrize("prompt", ["", "   "])
def test_empty_prompt_is_refused(client, prompt):
    with pytest.raises(TritonInferenceError, match="'prompt': must be a non-empty string"):
        client.generate(prompt, num_inference_steps=2)


def _raw_infer(triton_server, tensors: dict[str, tuple[str, np.ndarray]]):
    raw = grpcclient.InferenceServerClient(triton_server.grpc_url)
    inputs = []
    for name, (dtype, value) in tensors.items():
        tensor = grpcclient.InferInput(name, list(value.shape), dtype)
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    try:
        return raw.infer("txt2img", inputs)
    finally:
        raw.close()


def test_missing_prompt_and_empty_prompt_list_are_refused(triton_server):
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException, match="prompt"):
        _raw_infer(triton_server, {"num_inference_steps": ("INT32", np.array([2], np.int32))})
    with pytest.raises(InferenceServerException, match="prompt"):
        _raw_infer(triton_server, {"prompt": ("BYTES", np.array([], dtype=np.object_))})


def test_invalid_utf8_prompt_is_refused(triton_server):
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException, match="'prompt': must be UTF-8"):
        _raw_infer(triton_server, {"prompt": ("BYTES", np.array([b"\xff\xfe sofa"], dtype=np.object_))})

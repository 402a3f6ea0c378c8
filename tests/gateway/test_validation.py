"""Every bad input is a 4xx in the OpenAI error shape naming the field, and the gateway keeps serving."""

from __future__ import annotations

import httpx
import pytest

OPENAI = "/v1/images/generations"
NATIVE = "/v1/txt2img"

# (route, body, param named in the error). Checked by the gateway's schemas unless marked Triton.
BAD_INPUTS = [
    (OPENAI, {"prompt": "a", "num_inference_steps": 0}, "num_inference_steps"),
    (OPENAI, {"prompt": "a", "num_inference_steps": 151}, "num_inference_steps"),
    (NATIVE, {"prompt": "a", "num_inference_steps": 1000}, "num_inference_steps"),
    (OPENAI, {"prompt": "a", "guidance_scale": -0.5}, "guidance_scale"),
    (OPENAI, {"prompt": "a", "guidance_scale": 30.5}, "guidance_scale"),
    (NATIVE, {"prompt": "a", "guidance_scale": "nan"}, "guidance_scale"),
    (OPENAI, {"prompt": "a", "size": "100x128"}, "size"),          # not a multiple of 8
    (OPENAI, {"prompt": "a", "size": "120x120"}, "size"),          # multiple of 8, not of the latent stride 16: Triton
    (NATIVE, {"prompt": "a", "width": 120}, "width"),              # Triton, named by its contract name
    (NATIVE, {"prompt": "a", "height": 100}, "height"),
    (OPENAI, {"prompt": "a", "size": "2048x2048"}, "size"),        # above the gateway's max
    (OPENAI, {"prompt": "a", "size": "big"}, "size"),
    (OPENAI, {"prompt": "a", "scheduler": "lms"}, "scheduler"),
    (OPENAI, {"prompt": ""}, "prompt"),
    (OPENAI, {"prompt": "   "}, "prompt"),
    (NATIVE, {"prompt": "a" * 2001}, "prompt"),
    (OPENAI, {"prompt": "a", "n": 0}, "n"),
    (OPENAI, {"prompt": "a", "n": 9}, "n"),
    (NATIVE, {"prompt": "a", "num_images": 9}, "num_images"),
    (NATIVE, {"prompt": "a", "num_images": 2}, "num_images"),      # PNG holds one image
    (OPENAI, {"prompt": "a", "seed": -1}, "seed"),
    (OPENAI, {"n": 1}, "prompt"),                                  # missing prompt
    # wrong types
    (OPENAI, {"prompt": 42}, "prompt"),
    (OPENAI, {"prompt": "a", "n": "two"}, "n"),
    (OPENAI, {"prompt": "a", "n": 1.5}, "n"),
    (NATIVE, {"prompt": "a", "num_inference_steps": "20"}, "num_inference_steps"),
    (NATIVE, {"prompt": "a", "stream": "yes"}, "stream"),
    (NATIVE, {"prompt": "a", "guidance_scale": True}, "guidance_scale"),   # booleans are not numbers
    (NATIVE, {"prompt": "a", "guidance_scale": "7.5"}, "guidance_scale"),
    (OPENAI, {"prompt": "a", "response_format": "jpeg"}, "response_format"),
    # unknown fields: a misspelt diffusion option must not silently fall back to the default
    (OPENAI, {"prompt": "a", "num_inference_step": 20}, "num_inference_step"),
    (NATIVE, {"prompt": "a", "guidance": 7.5}, "guidance"),
]


@pytest.mark.parametrize("route,body,param", BAD_INPUTS, ids=[f"{r.split('/')[-1]}-{p}-{i}" for i, (r, _, p) in enumerate(BAD_INPUTS)])
def test_bad_input_is_400_naming_the_field(gateway, route: str, body: dict, param: str) -> None:
    response = httpx.post(f"{gateway.url}{route}", json=body, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert param in error["message"] and len(error["message"]) > len(param) + 10  # names it and gives a reason


def test_nan_literal_in_json(gateway) -> None:
    content = b'{"prompt": "a", "guidance_scale": NaN}'
    response = httpx.post(f"{gateway.url}{OPENAI}", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "guidance_scale"
    assert "finite" in response.json()["error"]["message"]


@pytest.mark.parametrize("content", [b'{"prompt": "a",', b"not json", b'["prompt"]', b'"a string"'])
def test_malformed_or_non_object_json(gateway, content: bytes) -> None:
    response = httpx.post(f"{gateway.url}{NATIVE}", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in {"invalid_json", "invalid_body"}


def test_oversized_body_refused_by_content_length(gateway) -> None:
    body = b'{"prompt": "' + b"a" * 200_000 + b'"}'
    response = httpx.post(f"{gateway.url}{OPENAI}", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_oversized_chunked_body_cut_off(gateway) -> None:
    def chunks():
        yield b'{"prompt": "'
        for _ in range(20):
            yield b"a" * 10_000
        yield b'"}'

    response = httpx.post(f"{gateway.url}{OPENAI}", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_unknown_route_and_method_use_the_error_shape(gateway) -> None:
    missing = httpx.post(f"{gateway.url}/v1/nothing", json={})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = httpx.get(f"{gateway.url}/v1/txt2img")
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_gateway_keeps_serving_after_bad_inputs(gateway) -> None:
    response = httpx.post(f"{gateway.url}{NATIVE}", json={"prompt": "still here", "num_inference_steps": 2}, timeout=30)
    assert response.status_code == 200
    assert httpx.get(f"{gateway.url}/readyz").status_code == 200

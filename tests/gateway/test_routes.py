"""Happy paths of every route against a live gateway and tritonserver (httpx and the openai SDK)."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest

from serving.pipeline_settings import default_settings
from tests.gateway.conftest import decode_b64_png, decode_png, metric

PROMPT = "a velvet armchair, studio light"


def test_health_ready_docs(gateway) -> None:
    assert httpx.get(f"{gateway.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["replicas"][0]["healthy"] is True
    assert set(ready.json()["models"]) == {"txt2img", "txt2img_stream"}
    assert httpx.get(f"{gateway.url}/docs").status_code == 200
    paths = httpx.get(f"{gateway.url}/openapi.json").json()["paths"]
    assert {"/v1/images/generations", "/v1/images/edits", "/v1/txt2img", "/v1/img2img", "/v1/inpaint",
            "/v1/images/{image_id}", "/healthz", "/readyz", "/metrics"} <= set(paths)
    assert set(paths["/v1/img2img"]["post"]["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    # The session repository has every generation model, so every route's model is served.
    optional = ready.json()["optional"]
    assert {name: optional[name] for name in ("img2img", "inpaint", "img2img_stream", "inpaint_stream")} == {
        "img2img": True, "inpaint": True, "img2img_stream": True, "inpaint_stream": True}


def test_native_png_equals_direct_triton(gateway, triton_client) -> None:
    body = {"prompt": PROMPT, "negative_prompt": "blurry", "seed": 11, "num_inference_steps": 12,
            "guidance_scale": 6.0, "scheduler": "euler", "width": 128, "height": 96, "num_images": 1}
    response = httpx.post(f"{gateway.url}/v1/txt2img", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-seed"] == "11"
    image = decode_png(response.content)
    direct = triton_client.generate(PROMPT, negative_prompt="blurry", seed=11, num_inference_steps=12,
                                    guidance_scale=6.0, scheduler="euler", width=128, height=96)
    assert image.shape == (96, 128, 3)
    np.testing.assert_array_equal(image, direct.images[0])  # PNG is lossless: the same pixels


def test_native_json_several_images_and_random_seed(gateway, triton_client) -> None:
    response = httpx.post(f"{gateway.url}/v1/txt2img", timeout=60, json={
        "prompt": PROMPT, "num_inference_steps": 5, "num_images": 2, "response_format": "b64_json"})
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["width"] == payload["height"] == 128
    assert len(payload["images"]) == 2
    # The seed the gateway chose and returned reproduces the images.
    assert response.headers["x-seed"] == str(payload["seed"])
    direct = triton_client.generate(PROMPT, num_inference_steps=5, num_images=2, seed=payload["seed"])
    for index, item in enumerate(payload["images"]):
        np.testing.assert_array_equal(decode_b64_png(item["b64_json"]), direct.images[index])


def test_openai_route_b64_and_url(gateway) -> None:
    body = {"prompt": PROMPT, "n": 2, "size": "128x64", "seed": 5, "num_inference_steps": 5, "user": "tester",
            "model": "dall-e-2"}
    b64 = httpx.post(f"{gateway.url}/v1/images/generations", json=body, timeout=60)
    assert b64.status_code == 200, b64.text
    assert set(b64.json()) >= {"created", "data", "seed"} and b64.json()["seed"] == 5
    images = [decode_b64_png(item["b64_json"]) for item in b64.json()["data"]]
    assert [image.shape for image in images] == [(64, 128, 3)] * 2

    urls = httpx.post(f"{gateway.url}/v1/images/generations", json={**body, "response_format": "url"}, timeout=60)
    assert urls.status_code == 200, urls.text
    for item, expected in zip(urls.json()["data"], images):
        assert set(item) == {"url"} and item["url"].startswith(f"{gateway.url}/v1/images/")
        fetched = httpx.get(item["url"])
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
        np.testing.assert_array_equal(decode_png(fetched.content), expected)


def test_openai_size_auto_or_omitted_is_the_models_native_size(gateway, tiny_repository) -> None:
    native = default_settings(tiny_repository)
    explicit = f"{native.default_width}x{native.default_height}"
    body = {"prompt": PROMPT, "seed": 8, "num_inference_steps": 3}
    images = {}
    for size in ("auto", None, explicit):
        response = httpx.post(f"{gateway.url}/v1/images/generations", json=body if size is None else {**body, "size": size},
                              timeout=60)
        assert response.status_code == 200, response.text
        images[size] = decode_b64_png(response.json()["data"][0]["b64_json"])
    assert images["auto"].shape == (native.default_height, native.default_width, 3)
    np.testing.assert_array_equal(images["auto"], images[explicit])
    np.testing.assert_array_equal(images[None], images[explicit])


def test_openai_sdk_against_live_gateway(gateway) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="not-needed", max_retries=0)
    result = client.images.generate(prompt=PROMPT, n=1, size="128x128", response_format="b64_json",
                                    extra_body={"seed": 21, "num_inference_steps": 6, "scheduler": "dpmpp_2m",
                                                "negative_prompt": "text", "guidance_scale": 5.0})
    assert result.model_extra["seed"] == 21
    sdk_image = decode_b64_png(result.data[0].b64_json)
    native = httpx.post(f"{gateway.url}/v1/txt2img", timeout=60, json={
        "prompt": PROMPT, "seed": 21, "num_inference_steps": 6, "scheduler": "dpmpp_2m",
        "negative_prompt": "text", "guidance_scale": 5.0})
    np.testing.assert_array_equal(sdk_image, decode_png(native.content))

    url_result = client.images.generate(prompt=PROMPT, response_format="url", extra_body={"num_inference_steps": 3})
    assert httpx.get(url_result.data[0].url).status_code == 200

    with pytest.raises(openai.BadRequestError) as raised:
        client.images.generate(prompt=PROMPT, extra_body={"num_inference_steps": 151})
    assert raised.value.body["param"] == "num_inference_steps"


def test_openai_sdk_stream(gateway) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="not-needed", max_retries=0)
    events = list(client.images.generate(prompt=PROMPT, stream=True, extra_body={"seed": 4, "num_inference_steps": 4}))
    assert [event.type for event in events] == ["image_generation.progress"] * 4 + ["image_generation.completed"]
    assert [event.model_extra["step"] for event in events[:4]] == [1, 2, 3, 4]
    assert {event.model_extra["stage"] for event in events[:4]} == {"denoise"}
    final = decode_b64_png(events[-1].b64_json)
    plain = client.images.generate(prompt=PROMPT, extra_body={"seed": 4, "num_inference_steps": 4})
    np.testing.assert_array_equal(final, decode_b64_png(plain.data[0].b64_json))


def test_metrics_count_requests_by_route_and_status(gateway) -> None:
    before = metric(gateway, "gateway_requests_total", route="/v1/txt2img", status="200", missing=0.0)
    assert httpx.post(f"{gateway.url}/v1/txt2img", json={"prompt": PROMPT, "num_inference_steps": 2}).status_code == 200
    assert metric(gateway, "gateway_requests_total", route="/v1/txt2img", status="200") == before + 1
    text = httpx.get(f"{gateway.url}/metrics").text
    for name in ("gateway_request_duration_seconds_bucket", "gateway_requests_in_flight", "gateway_replica_in_flight",
                 "gateway_replica_healthy", "gateway_retries_total"):
        assert name in text


def test_streaming_can_be_disabled(start_gateway) -> None:
    """GATEWAY_STREAMING=false serves repositories without the _stream twins: readiness no longer needs them."""
    plain = start_gateway(streaming="false")
    assert httpx.get(f"{plain.url}/readyz").json()["models"] == ["txt2img"]
    response = httpx.post(f"{plain.url}/v1/txt2img", json={"prompt": "a", "stream": True})
    assert response.status_code == 501 and response.json()["error"]["param"] == "stream"
    assert httpx.post(f"{plain.url}/v1/txt2img", json={"prompt": "a", "num_inference_steps": 2}).status_code == 200

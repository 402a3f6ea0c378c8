"""The photo workflow routes through a real gateway in front of the session's tritonserver: PNG of the
fitted size, b64_json with intermediates, SSE progress naming the stages, 400/422 naming the field,
503 naming an absent model, and cancellation. Tiny sizes (max_side 64) and 2 steps keep it fast.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from gateway.errors import from_triton_message
from tests.gateway.conftest import (LogWatch, b64_png, box_mask, cancelled_steps, decode_b64_png, decode_png,
                                    metric, png_bytes, sample_image, wait_until)
from tests.gateway.test_streaming import read_events

# The gateway's limits are the schema's: output sides are multiples of 16, at most 64 px.
SMALL = {"max_image_size": 64, "size_multiple": 16, "max_steps": 4, "max_upload_pixels": 128 * 128}
FAST = {"prompt": "a marble table, studio light", "num_inference_steps": 2, "max_side": 64, "seed": 3}
ROUTES = {"background-replace": {}, "restyle-room": {}, "product-enhance": {"mask_image": box_mask()}}
INTERMEDIATES = {"background-replace": {"mask", "depth"}, "restyle-room": {"mask", "depth", "segmentation"},
                 "product-enhance": {"mask", "depth"}}


@pytest.fixture(scope="module")
def small_gateway(launch_gateway):
    with launch_gateway(**SMALL) as gateway:  # stopped when the module ends
        yield gateway


def _json(route: str, photo: np.ndarray | None = None, **fields) -> dict:
    images = {name: b64_png(value) for name, value in {**ROUTES[route], "image": photo}.items() if value is not None}
    return {**FAST, **images, **fields}


def _post(gateway, route: str, body: dict) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/{route}", json=body, timeout=120)


def _assert_names(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == field and field in error["message"], error


@pytest.mark.parametrize("route", list(ROUTES))
def test_png_of_the_fitted_size(small_gateway, route: str) -> None:
    """96x128 fitted into 64: aspect ratio kept, 48x64 (both multiples of 16)."""
    response = _post(small_gateway, route, _json(route, sample_image()))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png" and response.headers["x-seed"] == "3"
    assert decode_png(response.content).shape == (48, 64, 3)


def test_sides_rounded_down_to_the_stride_from_a_multipart_form(small_gateway) -> None:
    """150x100 fitted into 64 is 64x42.7; the height rounds down to 32. Files in a form work like base64."""
    photo = sample_image(100, 150)
    files = {"image": ("room.png", png_bytes(photo), "image/png")}
    data = {"prompt": "a loft", "num_inference_steps": "2", "max_side": "64"}
    response = httpx.post(f"{small_gateway.url}/v1/restyle-room", data=data, files=files, timeout=120)
    assert response.status_code == 200, response.text
    assert decode_png(response.content).shape == (32, 64, 3)


@pytest.mark.parametrize("route", list(ROUTES))
def test_b64_json_with_intermediates(small_gateway, route: str) -> None:
    response = _post(small_gateway, route, _json(route, sample_image(), response_format="b64_json",
                                                 return_intermediates=True))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"], body["seed"]) == (64, 48, 3)
    assert [decode_b64_png(image["b64_json"]).shape for image in body["images"]] == [(48, 64, 3)]
    assert set(body["intermediates"]) == INTERMEDIATES[route]
    for name, text in body["intermediates"].items():
        assert decode_b64_png(text).shape == (48, 64, 3), name  # greyscale ones decode to 3 equal channels
    plain = _post(small_gateway, route, _json(route, sample_image(), response_format="b64_json")).json()
    assert "intermediates" not in plain
    assert plain["images"][0] == body["images"][0]  # same seed, same image: intermediates change nothing


@pytest.mark.parametrize("route, stages", [
    ("background-replace", ["mask", "depth", "denoise", "denoise", "composite"]),
    ("restyle-room", ["depth", "segmentation", "denoise", "denoise", "composite"]),
])
def test_sse_names_the_stages_in_order_then_the_image(small_gateway, route: str, stages: list[str]) -> None:
    body = _json(route, sample_image(), stream=True, return_intermediates=True)
    with httpx.stream("POST", f"{small_gateway.url}/v1/{route}", json=body, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    assert [name for name, _ in events] == ["progress"] * len(stages) + ["image"]
    progress = [data for _, data in events[:-1]]
    assert [data["stage"] for data in progress] == stages
    assert all(set(data) == {"stage", "step", "total", "elapsed"} and data["total"] == 2 for data in progress)
    assert [data["step"] for data in progress if data["stage"] == "denoise"] == [1, 2]
    final = events[-1][1]
    assert (final["width"], final["height"], final["seed"]) == (64, 48, 3)
    assert set(final["intermediates"]) == INTERMEDIATES[route]
    unary = _post(small_gateway, route, _json(route, sample_image(), response_format="b64_json")).json()
    assert final["images"] == unary["images"]


def test_native_progress_names_the_denoise_stage(small_gateway) -> None:
    body = {"prompt": "a chair", "num_inference_steps": 2, "width": 32, "height": 32, "stream": True}
    with httpx.stream("POST", f"{small_gateway.url}/v1/txt2img", json=body, timeout=120) as response:
        events = read_events(response)
    progress = [data for name, data in events if name == "progress"]
    assert [(data["stage"], data["step"], data["total"]) for data in progress] == [("denoise", 1, 2), ("denoise", 2, 2)]
    assert all("elapsed" in data for data in progress)


def test_bad_input_names_the_field_and_the_gateway_keeps_serving(small_gateway) -> None:
    photo = sample_image()
    # Well-formed, but nothing to keep: 422 (Triton's "unprocessable input").
    no_foreground = _post(small_gateway, "background-replace",
                          _json("background-replace", photo, mask_image=b64_png(np.zeros((96, 128), np.uint8))))
    _assert_names(no_foreground, 422, "mask_image")
    assert "no foreground found" in no_foreground.json()["error"]["message"]
    assert no_foreground.json()["error"]["code"] == "unprocessable_input"
    # Malformed: 400 (Triton's "invalid input", or the gateway's own validation).
    other_size = _json("product-enhance", photo, mask_image=b64_png(box_mask(64, 128)))
    _assert_names(_post(small_gateway, "product-enhance", other_size), 400, "mask_image")
    _assert_names(_post(small_gateway, "restyle-room", _json("restyle-room", photo, keep_classes=[])), 400,
                  "keep_classes")
    _assert_names(_post(small_gateway, "background-replace", _json("background-replace", sample_image(160, 160))),
                  400, "image")  # 25600 pixels, above GATEWAY_MAX_UPLOAD_PIXELS
    _assert_names(_post(small_gateway, "product-enhance", {**_json("product-enhance", photo), "mask_image": None}),
                  400, "mask_image")  # required by the contract
    _assert_names(_post(small_gateway, "restyle-room", _json("restyle-room", photo, max_side=128)), 400, "max_side")
    _assert_names(_post(small_gateway, "restyle-room", _json("restyle-room", photo, return_intermediates=True)),
                  400, "return_intermediates")  # a PNG answer has no room for them
    _assert_names(_post(small_gateway, "restyle-room", _json("restyle-room", photo, depth_scale=True)), 400,
                  "depth_scale")
    assert _post(small_gateway, "background-replace", _json("background-replace", photo)).status_code == 200


def test_absent_workflow_model_is_a_503_naming_it(start_gateway) -> None:
    gateway = start_gateway(restyle_room_model="restyle_room_absent")
    response = _post(gateway, "restyle-room", _json("restyle-room", sample_image()))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "model_not_available"
    assert "restyle_room_absent" in response.json()["error"]["message"]
    assert httpx.get(f"{gateway.url}/readyz", timeout=5).json()["optional"]["restyle_room_absent"] is False
    assert _post(gateway, "background-replace", _json("background-replace", sample_image())).status_code == 200


def test_stream_disconnect_cancels_the_workflow(gateway, triton_server) -> None:
    log = LogWatch(triton_server.log_file)
    body = {"prompt": "a loft", "image": b64_png(sample_image(256, 256)), "num_inference_steps": 150, "stream": True}
    with httpx.stream("POST", f"{gateway.url}/v1/restyle-room", json=body, timeout=60) as response:
        events = read_events(response, limit=3)
    assert [data["stage"] for _, data in events] == ["depth", "segmentation", "denoise"]
    done, total = cancelled_steps(log, "restyle_room_stream")
    assert total == 150 and done < 100
    wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 0, 5)


def test_unprocessable_triton_message_is_a_422_naming_the_field() -> None:
    error = from_triton_message("[StatusCode.INVALID_ARGUMENT] unprocessable input 'keep_classes': none of these "
                                "classes was found in the photo")
    assert (error.status, error.param, error.code) == (422, "keep_classes", "unprocessable_input")
    assert error.message == "unprocessable 'keep_classes': none of these classes was found in the photo"
    assert from_triton_message("invalid input 'mask_image': is 128x90", {}).status == 400

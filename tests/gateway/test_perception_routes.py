"""Perception routes of the gateway in front of the perception tritonserver: multipart and base64 JSON,
PNG and JSON answers equal to the Triton models', bad uploads and bad values as 400s naming the field."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from clients.perception_client import PerceptionClient
from gateway.launcher import GatewayProcess
from serving.server import free_port
from benchmarks.references.perception import photo

IMAGE = photo(48, 64, seed=3)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(image: np.ndarray) -> str:
    return base64.b64encode(png_bytes(image)).decode()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture(scope="module")
def gateway(perception_server, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gateway-perception")
    env = {"GATEWAY_REPLICAS": perception_server.grpc_url, "GATEWAY_REQUIRED_MODELS": "clip_score",
           "GATEWAY_STREAMING": "false", "GATEWAY_IMAGE_DIR": str(workdir / "images"),
           "GATEWAY_HEALTH_INTERVAL_S": "0.5"}
    process = GatewayProcess(free_port(), env, log_file=workdir / "gateway.log", cwd=workdir, inherit_settings=False)
    with process:
        yield process


@pytest.fixture(scope="module")
def triton(perception_server):
    client = PerceptionClient(perception_server.grpc_url)
    yield client
    client.close()


@pytest.mark.parametrize(("path", "model", "output"), [("/v1/depth", "depth_estimator", "depth"),
                                                       ("/v1/segmentation", "segmenter", "color_map"),
                                                       ("/v1/foreground-mask", "foreground_mask", "mask")])
def test_map_routes_answer_the_models_png(gateway, triton, path, model, output):
    expected = triton.infer(model, image=IMAGE)[output]
    multipart = httpx.post(gateway.url + path, files={"image": ("room.png", png_bytes(IMAGE), "image/png")}, timeout=60)
    assert multipart.status_code == 200, multipart.text
    assert multipart.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(decode(multipart.content), expected)
    as_json = httpx.post(gateway.url + path, json={"image": b64(IMAGE), "response_format": "b64_json"}, timeout=60)
    assert as_json.status_code == 200, as_json.text
    np.testing.assert_array_equal(decode(base64.b64decode(as_json.json()[output])), expected)


def test_clip_routes(gateway, triton):
    images = np.stack([IMAGE, photo(48, 64, seed=4)])
    expected = triton.clip_score(images, ["an oak dining table", "a lamp"])
    response = httpx.post(gateway.url + "/v1/clip/score", timeout=60,
                          json={"images": [b64(images[0]), b64(images[1])], "text": ["an oak dining table", "a lamp"]})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["scores"], expected, atol=1e-4)
    form = httpx.post(gateway.url + "/v1/clip/classify", timeout=60, data={"labels": ["sofa", "lamp", "shoe"]},
                      files={"image": ("a.png", png_bytes(IMAGE), "image/png")})
    assert form.status_code == 200, form.text
    ranked = form.json()["labels"]
    probs = dict(zip(["sofa", "lamp", "shoe"], triton.clip_classify(IMAGE, ["sofa", "lamp", "shoe"]).tolist()))
    assert [item["label"] for item in ranked] == sorted(probs, key=lambda label: -probs[label])
    assert ranked[0]["score"] == pytest.approx(max(probs.values()), abs=1e-5)


def test_sam_route(gateway, triton):
    boxes = [[4, 4, 40, 30], [10, 0, 63, 47]]
    expected = triton.infer("sam", image=IMAGE, input_boxes=np.asarray(boxes, np.float32))
    response = httpx.post(gateway.url + "/v1/sam", json={"image": b64(IMAGE), "input_boxes": boxes}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["masks"]) == 2 and len(body["masks"][0]) == 3
    np.testing.assert_array_equal(decode(base64.b64decode(body["masks"][1][2])), expected["masks"][1, 2] * 255)
    np.testing.assert_allclose(body["iou_scores"], expected["iou_scores"], atol=1e-5)


def test_sam_automatic_route(gateway, triton):
    options = dict(points_per_crop=8, points_per_batch=16, pred_iou_thresh=0.7, stability_score_thresh=0.0,
                   crops_nms_thresh=0.99)
    expected = triton.sam_automatic(IMAGE, **options)
    assert len(expected["masks"]) >= 2
    as_json = httpx.post(gateway.url + "/v1/sam/automatic", json={"image": b64(IMAGE), **options}, timeout=60)
    form = httpx.post(gateway.url + "/v1/sam/automatic", data={name: str(value) for name, value in options.items()},
                      files={"image": ("room.png", png_bytes(IMAGE), "image/png")}, timeout=60)
    for response in (as_json, form):
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["width"], body["height"]) == (64, 48)
        assert len(body["masks"]) == len(expected["masks"])
        for encoded, mask in zip(body["masks"], expected["masks"]):
            np.testing.assert_array_equal(decode(base64.b64decode(encoded)), mask * 255)
        np.testing.assert_allclose(body["scores"], expected["scores"], atol=1e-5)
        assert body["bounding_boxes"] == expected["bounding_boxes"].astype(int).tolist()


@pytest.mark.parametrize(("path", "request_kwargs", "param"), [
    ("/v1/depth", dict(files={"image": ("x.png", b"not an image", "image/png")}), "image"),
    ("/v1/segmentation", dict(json={"image": "%%%"}), "image"),
    ("/v1/foreground-mask", dict(json={}), "image"),
    ("/v1/clip/score", dict(json={"images": [b64(IMAGE)], "text": ["a", "b"]}), "text"),
    ("/v1/clip/classify", dict(json={"image": b64(IMAGE), "labels": ["a"], "hypothesis_template": "no slot"}),
     "hypothesis_template"),
    ("/v1/sam", dict(json={"image": b64(IMAGE), "input_boxes": [[0, 0, 500, 10]]}), "input_boxes"),
    ("/v1/sam/automatic", dict(json={"image": b64(IMAGE), "points_per_crop": 65}), "points_per_crop"),
    ("/v1/sam/automatic", dict(data={"pred_iou_thresh": "1.5"}, files={"image": ("a.png", png_bytes(IMAGE))}),
     "pred_iou_thresh"),
])
def test_bad_requests_are_400_naming_the_field(gateway, path, request_kwargs, param):
    response = httpx.post(gateway.url + path, timeout=60, **request_kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param, response.text

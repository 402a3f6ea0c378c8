"""POST /v1/product-finder through a real gateway in front of the session's tritonserver: the objects found
(label, score, box, mask) equal product_finder's own answer over gRPC, from JSON and from a multipart form;
nothing found is an empty list; bad input is a 400 naming the field; an absent model a 503 naming it.
The tiny random models find objects only with threshold 0 and no mask filter (min_mask_score and
stability_score_thresh 0: the tiny SAM's stability scores are ~0); 3x3 points on a 48x64 photo keep each
request to a fraction of a second.
"""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from clients.triton_client import TritonGenerationClient
from gateway.generation_service import GenerationJob
from gateway.settings import GatewaySettings
from tests.gateway.conftest import b64_png, png_bytes, sample_image

PHOTO = sample_image(48, 64, seed=5)
LABELS = ["handbag", "sneaker"]
EVERYTHING = {"threshold": 0.0, "min_mask_score": 0.0, "stability_score_thresh": 0.0, "points_per_side": 3,
              "max_objects": 16}


def _post(gateway, **body) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/product-finder", json=body, timeout=120)


def _decode_mask(text: str) -> np.ndarray:
    image = Image.open(io.BytesIO(base64.b64decode(text)))
    assert image.mode == "L", image.mode
    return np.asarray(image)


def _assert_names(response: httpx.Response, field: str, *words: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == field and field in error["message"], error
    assert all(word in error["message"] for word in words), error


@pytest.fixture(scope="module")
def served(triton_server) -> dict[str, np.ndarray]:
    """product_finder's answer over gRPC, without the gateway."""
    client = TritonGenerationClient(triton_server.grpc_url, model_name="product_finder")
    try:
        return client.infer(image=PHOTO, labels=LABELS, **EVERYTHING)
    finally:
        client.close()


def test_json_answer_is_the_models_objects(gateway, served) -> None:
    response = _post(gateway, image=b64_png(PHOTO), labels=LABELS, **EVERYTHING)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (64, 48)
    objects = body["objects"]
    assert len(objects) > 0, "threshold 0 and no mask filter: the tiny models find something"
    assert [o["label"] for o in objects] == [label.decode() for label in served["labels"]]
    assert set(o["label"] for o in objects) <= set(LABELS)
    scores = [o["score"] for o in objects]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    np.testing.assert_allclose(scores, served["scores"], atol=1e-6)
    for found, mask, box in zip(objects, served["masks"], served["boxes"]):
        decoded = _decode_mask(found["mask"])
        assert decoded.shape == (48, 64)
        np.testing.assert_array_equal(decoded, mask)
        assert set(np.unique(decoded)) <= {0, 255} and decoded.any()
        x1, y1, x2, y2 = found["box"]
        assert found["box"] == [int(v) for v in box]
        assert 0 <= x1 <= x2 < 64 and 0 <= y1 <= y2 < 48
        ys, xs = np.nonzero(decoded)
        assert (xs.min(), ys.min(), xs.max(), ys.max()) == (x1, y1, x2, y2)  # the mask's own bounding box


def test_multipart_form_answers_like_json(gateway) -> None:
    """The photo as a file, one `labels` field per label, numbers as form text."""
    files = {"image": ("photo.png", png_bytes(PHOTO), "image/png")}
    data = {"labels": LABELS, **{name: str(value) for name, value in EVERYTHING.items()}}
    form = httpx.post(f"{gateway.url}/v1/product-finder", data=data, files=files, timeout=120)
    assert form.status_code == 200, form.text
    assert form.json() == _post(gateway, image=b64_png(PHOTO), labels=LABELS, **EVERYTHING).json()


def test_nothing_found_is_an_empty_list(gateway) -> None:
    response = _post(gateway, image=b64_png(PHOTO), labels=["handbag"], threshold=1.0, min_mask_score=0.0,
                     stability_score_thresh=0.0, points_per_side=2)
    assert response.status_code == 200, response.text
    assert response.json() == {"objects": [], "width": 64, "height": 48}


def test_bad_input_names_the_field_and_the_gateway_keeps_serving(gateway) -> None:
    photo = b64_png(PHOTO)
    _assert_names(_post(gateway, image=photo, labels=[]), "labels")
    _assert_names(_post(gateway, image=photo, labels=["handbag", "background"]), "labels", "implicit")  # Triton's
    _assert_names(_post(gateway, image=photo, labels=["handbag"], points_per_side=9), "points_per_side")
    _assert_names(_post(gateway, image=photo, labels=["handbag"], threshold="0.5"), "threshold")
    _assert_names(_post(gateway, image=photo, labels=["handbag"], stability_score_thresh=1.5), "stability_score_thresh")
    _assert_names(_post(gateway, image=photo, labels=["handbag"], stability_score_thresh=True),
                  "stability_score_thresh")
    _assert_names(_post(gateway, labels=["handbag"]), "image", "required")
    not_an_image = httpx.post(f"{gateway.url}/v1/product-finder", data={"labels": ["handbag"]},
                              files={"image": ("photo.png", b"these bytes are no image", "image/png")}, timeout=60)
    _assert_names(not_an_image, "image")
    assert _post(gateway, image=photo, labels=["handbag"], threshold=1.0, points_per_side=2).status_code == 200


def test_absent_model_is_a_503_naming_it(start_gateway) -> None:
    gateway = start_gateway(product_finder_model="product_finder_absent")
    response = _post(gateway, image=b64_png(PHOTO), labels=["handbag"])
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "model_not_available"
    assert "product_finder_absent" in response.json()["error"]["message"]
    ready = httpx.get(f"{gateway.url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["optional"]["product_finder_absent"] is False


# --- no server: the job and the settings ---

def test_a_product_finder_job_sends_no_seed_and_asks_for_its_four_outputs() -> None:
    job = GenerationJob.create("product_finder", {"image": PHOTO, "labels": LABELS, "threshold": None})
    assert job.output_names == ("labels", "scores", "masks", "boxes")
    assert [tensor.name() for tensor in job.triton_inputs()] == ["image", "labels"]
    txt2img = GenerationJob.create("txt2img", {"prompt": "a"}, seed=3, extra_outputs=())
    assert txt2img.output_names == ("image", "seed")
    assert [tensor.name() for tensor in txt2img.triton_inputs()] == ["prompt", "seed"]
    workflow = GenerationJob.create("background_replace", {"prompt": "a", "image": PHOTO}, extra_outputs=("mask",))
    assert workflow.output_names == ("image", "seed", "mask")


def test_product_finder_is_optional_for_readiness_and_has_no_stream_twin() -> None:
    settings = GatewaySettings(replicas=["127.0.0.1:9"], product_finder_model="finder")
    assert "finder" in settings.optional() and "finder_stream" not in settings.optional()
    assert "finder" not in settings.required()

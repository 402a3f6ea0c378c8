"""Form bodies are read into the same strict models as JSON (gateway/request_body.py), in-process.

Every request here is refused before Triton would be called: either by validation (the error names the
field) or, once the fields are valid, by the image decode ("image" named), which proves the fields parsed.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings

NOT_AN_IMAGE = {"image": ("a.png", b"not a png", "image/png")}


@pytest.fixture(scope="module")
def client() -> TestClient:
    # No lifespan: the replica pool never starts.
    return TestClient(create_app(GatewaySettings(replicas=["127.0.0.1:9"])), raise_server_exceptions=False)


def _param(response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["error"]["param"]


@pytest.mark.parametrize("fields", [
    {"input_boxes": "[4, 4, 28, 28]"},                       # one field per box
    {"input_boxes": ["[4, 4, 28, 28]", "[1, 1, 9, 9]"]},
    {"input_boxes": "[[4, 4, 28, 28], [1, 1, 9, 9]]"},       # the whole list as one JSON part
    {"input_points": "[[4, 4], [8, 8]]", "input_labels": "[1, 0]"},
    {"input_points": "[[[4, 4], [8, 8]]]", "input_labels": "[[1, 0]]"},
])
def test_nested_lists_in_a_form(client: TestClient, fields: dict) -> None:
    assert _param(client.post("/v1/sam", data=fields, files=NOT_AN_IMAGE)) == "image"


@pytest.mark.parametrize("fields,param", [
    ({"input_boxes": "[true, 4, 28, 28]"}, "input_boxes"),
    ({"input_boxes": "[[4, 4, 28]]"}, "input_boxes"),
    ({"input_points": "[[4, 4]]", "input_labels": "[2]"}, "input_labels"),
])
def test_bad_nested_lists_name_the_field(client: TestClient, fields: dict, param: str) -> None:
    assert _param(client.post("/v1/sam", data=fields, files=NOT_AN_IMAGE)) == param


def test_text_lists_stay_one_item_per_field(client: TestClient) -> None:
    """A ControlNet kind that looks like JSON is still one kind, not a list."""
    response = client.post("/v1/txt2img", data={"prompt": "a", "controlnet": '["depth", "seg"]'},
                           files={"control_images": ("c.png", b"not a png", "image/png")})
    assert _param(response) == "control_images"  # k = 1 kind and 1 image: past the list checks, to the decode


def test_empty_controlnet_lists_are_refused(client: TestClient) -> None:
    """k >= 1: an empty list was a 500 (np.stack of nothing); found by the OpenAPI fuzz test."""
    response = client.post("/v1/txt2img", json={"prompt": "a", "controlnet": [], "control_images": []})
    assert _param(response) in {"controlnet", "control_images"}

"""API keys, CORS, and the url image store (expiry, ids that try to leave the directory)."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from gateway.image_store import ImageStore

ENV_KEY = "sk-env-7f3a9c1e2b"
FILE_KEY = "sk-file-0d4e8b6a5c"
ORIGIN = "https://shop.example"


@pytest.fixture(scope="module")
def secured(launch_gateway, tmp_path_factory):
    keys_file = tmp_path_factory.mktemp("keys") / "keys.txt"
    keys_file.write_text(f"# gateway keys\n{FILE_KEY}\n")
    settings = {"api_keys": ENV_KEY, "api_keys_file": keys_file, "cors_origins": ORIGIN, "image_ttl_s": 1}
    with launch_gateway(**settings) as gateway:  # stopped when the module ends
        yield gateway


def _generate(gateway, **kwargs) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/images/generations", timeout=30,
                      json={"prompt": "a", "num_inference_steps": 2, **kwargs.pop("body", {})}, **kwargs)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ENV_KEY}"},
                                     {"Authorization": "Bearer"}, {"Authorization": f"Bearer {ENV_KEY}x"}])
def test_missing_or_invalid_key_is_401(secured, headers: dict) -> None:
    response = _generate(secured, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.headers["www-authenticate"] == "Bearer"
    native = httpx.post(f"{secured.url}/v1/txt2img", json={"prompt": "a"}, headers=headers)
    assert native.status_code == 401


@pytest.mark.parametrize("key", [ENV_KEY, FILE_KEY])
def test_keys_from_env_and_file_work_and_are_never_logged(secured, key: str) -> None:
    response = _generate(secured, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert httpx.get(f"{secured.url}/healthz").status_code == 200  # operations routes stay open
    log = secured.log_file.read_text()
    assert ENV_KEY not in log and FILE_KEY not in log


def test_cors_off_by_default_and_on_when_configured(gateway, secured) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    assert "access-control-allow-origin" not in httpx.options(f"{gateway.url}/v1/txt2img", headers=preflight).headers
    allowed = httpx.options(f"{secured.url}/v1/txt2img", headers=preflight)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.options(f"{secured.url}/v1/txt2img", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_url_response_expires(secured) -> None:
    response = _generate(secured, headers={"Authorization": f"Bearer {ENV_KEY}"}, body={"response_format": "url"})
    url = response.json()["data"][0]["url"]
    assert httpx.get(url).status_code == 200  # the unguessable URL is the capability (as OpenAI's signed URLs)
    time.sleep(1.3)
    expired = httpx.get(url)
    assert expired.status_code == 404 and expired.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("image_id", [
    "..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..%5C..%5Cetc%5Cpasswd", "....%2F%2Fetc%2Fpasswd",
    "%2Fetc%2Fpasswd", "etc%2Fpasswd", "..", "%2e%2e", "passwd", "A" * 42 + ".", "A" * 43 + "%00",
])
def test_image_ids_that_try_to_leave_the_store_are_refused(gateway, image_id: str) -> None:
    # Raw paths: httpx would otherwise normalise the dots away before sending.
    with httpx.Client() as client:
        request = client.build_request("GET", f"{gateway.url}/v1/images/x")
        request.url = request.url.copy_with(raw_path=f"/v1/images/{image_id}".encode())
        response = client.send(request)
    assert response.status_code == 404
    assert "root:" not in response.text


def test_store_refuses_a_link_out_of_its_directory(tmp_path) -> None:
    store = ImageStore(tmp_path / "images", ttl_s=60)
    image_id = store.save(b"\x89PNG fake")
    assert store.path_for(image_id) is not None
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    link_id = "B" * 43
    os.symlink(outside, store.directory / f"{link_id}.png")
    assert store.path_for(link_id) is None
    assert store.path_for("../secret") is None and store.path_for(image_id + "/..") is None


def test_store_expiry_and_purge(tmp_path) -> None:
    store = ImageStore(tmp_path, ttl_s=0.2)
    first = store.save(b"one")
    time.sleep(0.3)
    second = store.save(b"two")
    assert store.path_for(first) is None  # expired on lookup (and deleted)
    assert store.path_for(second) is not None
    time.sleep(0.3)
    assert store.purge_expired() == 1 and not list(tmp_path.glob("*.png"))

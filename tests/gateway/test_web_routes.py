"""The web page's routes in-process (no tritonserver): `/` and its files are served, its config says what the
forms need, and none of it is in the OpenAPI document. The page itself runs in tests/gateway/test_web_page.py.
"""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.routes.web import WEB_DIR
from gateway.settings import GatewaySettings


@pytest.fixture(scope="module")
def client() -> TestClient:
    # No lifespan: the replica pool never starts, so no replica serves anything.
    settings = GatewaySettings(replicas=["127.0.0.1:9"], api_keys="k1", max_image_size=256, size_multiple=16,
                               schedulers="euler,ddim")
    return TestClient(create_app(settings))


def test_index_is_the_page_and_every_file_it_names_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == (WEB_DIR / "index.html").read_text()
    linked = re.findall(r'(?:href|src)="(/web/[^"]+)"', page.text)
    assert sorted(linked) == ["/web/app.css", "/web/app.js"]
    imported = {name for script in WEB_DIR.glob("*.js")
                for name in re.findall(r'from "\./([^"]+)"', script.read_text())}
    assert imported == {"errors.js", "forms.js", "jobs.js", "sse.js"}
    assert {path.name for path in WEB_DIR.iterdir()} == {"index.html", "app.css", "app.js", *imported}
    for path in [*linked, *(f"/web/{name}" for name in imported)]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content == (WEB_DIR / path.removeprefix("/web/")).read_bytes()


def test_page_needs_nothing_from_another_origin() -> None:
    """Offline: no CDN, no remote fonts or scripts in any of the page's files."""
    for path in WEB_DIR.iterdir():
        assert not re.search(r"https?://", path.read_text()), path.name


def test_config_carries_the_gateways_form_limits_and_key_requirement(client: TestClient) -> None:
    config = client.get("/web/config.json").json()
    assert config["api_keys"] is True
    assert (config["max_image_size"], config["size_multiple"], config["schedulers"]) == (256, 16, ["euler", "ddim"])
    # The pool never started: no replica serves any of the page's routes yet.
    assert config["served"] == {"txt2img": False, "background_replace": False, "restyle_room": False,
                                "product_enhance": False, "product_finder": False}


def test_page_and_files_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path == "/" or path.startswith("/web")]


def test_unknown_file_is_a_404(client: TestClient) -> None:
    assert client.get("/web/nothing.js").status_code == 404

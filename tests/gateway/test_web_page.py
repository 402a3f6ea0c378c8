"""The web page at `/` in a real headless Chromium (Debian's, driven by Playwright) against a real gateway on
the session's tritonserver: the txt2img form generates the API's own image with per-step progress, a photo
workflow takes an uploaded image, errors read as the API words them, cancel stops the Triton request, an
API key typed once is kept, and a catalog job runs from an uploaded sheet to its zip. One gateway and one
browser serve the module.

Each test writes a screenshot of its screen; `UPDATE_SCREENSHOTS=1` writes them to docs/screenshots.
"""

from __future__ import annotations

import base64
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterator

import httpx
import numpy as np
import pytest

from tests.gateway.conftest import (LogWatch, cancelled_steps, decode_png, metric, png_bytes, sample_image,
                                    wait_until)
from tests.catalog.job_inputs import write_csv
from tests.gateway.test_job_routes import translation  # noqa: F401 (fixture: translate served or not)
from tests.gateway.test_streaming import read_events

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (scripts/setup.sh); Playwright's own is never downloaded
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
REPOSITORY_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 860}
TIMEOUT_MS = 120_000
API_KEY = "web-page-key"

Shoot = Callable[[object, str], Path]


@pytest.fixture(scope="module")
def web_gateway(launch_gateway):
    with launch_gateway() as gateway:  # stopped when the module ends
        yield gateway


@pytest.fixture(scope="module")
def keyed_gateway(launch_gateway):
    with launch_gateway(api_keys=API_KEY) as gateway:  # stopped when the module ends
        yield gateway


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def shoot(tmp_path_factory: pytest.TempPathFactory) -> Shoot:
    directory = (REPOSITORY_SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1"
                 else tmp_path_factory.mktemp("screenshots"))
    directory.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def open_page(page, gateway) -> None:
    page.goto(f"{gateway.url}/")
    page.wait_for_selector("body[data-ready=true]")


def fill(page, form: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = page.locator(f"#form-{form} [name={name}]")
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def submit_and_wait(page, form: str, state: str = "done") -> None:
    page.click(f"#form-{form} button[type=submit]")
    page.wait_for_selector(f"#status[data-state={state}]")


def upload(page, form: str, name: str, array: np.ndarray, filename: str) -> None:
    page.set_input_files(f"#form-{form} input[name={name}]",
                         files=[{"name": filename, "mimeType": "image/png", "buffer": png_bytes(array)}])


def blob_bytes(page, url: str) -> bytes:
    """The bytes behind one of the page's blob: links (what a click on Download saves)."""
    text = page.evaluate("""async (url) => {
        const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
        let binary = "";
        for (const byte of bytes) binary += String.fromCharCode(byte);
        return btoa(binary);
    }""", url)
    return base64.b64decode(text)


def progress_lines(page) -> list[str]:
    return page.locator("#progress-log li").all_inner_texts()


def card_parameters(card) -> dict[str, str]:
    terms = card.locator("dt").all_inner_texts()
    return dict(zip(terms, card.locator("dd").all_inner_texts()))


TXT2IMG = {"prompt": "a walnut sideboard, studio light", "width": "64", "height": "64",
           "num_inference_steps": "4", "guidance_scale": "6.5", "scheduler": "euler", "seed": "7"}


def test_txt2img_form_shows_each_step_then_the_apis_image(page, web_gateway, shoot: Shoot) -> None:
    open_page(page, web_gateway)
    fill(page, "txt2img", TXT2IMG)
    submit_and_wait(page, "txt2img")

    lines = progress_lines(page)
    assert [re.match(r"denoise (\d+) / 4 · \d+\.\d\d s$", line)[1] for line in lines] == ["1", "2", "3", "4"], lines
    assert page.eval_on_selector("#progress", "bar => [bar.value, bar.max]") == [4, 4]

    card = page.locator("#gallery .card")
    assert card.count() == 1 and card.get_attribute("data-seed") == "7"
    parameters = card_parameters(card)
    assert parameters["seed"] == "7" and parameters["size"] == "64×64"
    assert {name: parameters[name] for name in ("prompt", "num_inference_steps", "guidance_scale", "scheduler")} == {
        name: TXT2IMG[name] for name in ("prompt", "num_inference_steps", "guidance_scale", "scheduler")}
    assert card.locator(":scope > img").evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [
        True, 64, 64]
    download = card.locator("a", has_text="Download PNG")
    assert download.get_attribute("download") == "txt2img-seed7-0.png"
    # The page sent every parameter: its image is the API's for the same body.
    served = decode_png(blob_bytes(page, download.get_attribute("href")))
    direct = httpx.post(f"{web_gateway.url}/v1/txt2img", data=TXT2IMG, timeout=120)
    assert direct.status_code == 200, direct.text
    np.testing.assert_array_equal(served, decode_png(direct.content))
    shoot(page, "txt2img")


def test_workflow_takes_an_uploaded_photo_with_preview_and_shows_stages_and_intermediates(
        page, web_gateway, shoot: Shoot) -> None:
    open_page(page, web_gateway)
    page.click("#tab-background-replace")
    upload(page, "background-replace", "image", sample_image(), "product.png")
    preview = page.locator("#form-background-replace img.preview").first
    wait_until(lambda: preview.evaluate("img => img.complete && img.naturalWidth") == 128, 10)
    assert preview.is_visible()
    fill(page, "background-replace", {"prompt": "on a marble table, soft light", "num_inference_steps": "2",
                                      "max_side": "64", "seed": "3"})
    page.check("#form-background-replace [name=return_intermediates]")
    submit_and_wait(page, "background-replace")

    stages = [line.split(" ")[0] for line in progress_lines(page)]
    assert stages == ["mask", "depth", "denoise", "denoise", "composite"]
    card = page.locator("#gallery .card")
    assert card.count() == 1 and card_parameters(card)["size"] == "64×48"
    assert card.locator(":scope > img").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 48]
    thumbs = card.locator("a.thumb img").evaluate_all("imgs => imgs.map(img => [img.alt, img.naturalWidth])")
    assert thumbs == [["mask", 64], ["depth", 64]]
    links = {anchor.inner_text(): anchor.get_attribute("download") for anchor in card.locator("a").all()}
    assert links == {"Download PNG": "background-replace-seed3-0.png", "mask": "background-replace-seed3-0-mask.png",
                     "depth": "background-replace-seed3-0-depth.png"}
    mask = decode_png(blob_bytes(page, card.locator("a", has_text="mask").get_attribute("href")))
    assert mask.shape == (48, 64, 3)
    shoot(page, "background-replace")


def api_error(response: httpx.Response) -> tuple[int | None, dict]:
    """The error a streaming request got: the HTTP status and body, or (once the stream has started) the
    `error` event, which has no status of its own."""
    if not response.headers["content-type"].startswith("text/event-stream"):
        assert response.status_code >= 400, response.text
        return response.status_code, response.json()["error"]
    assert response.status_code == 200
    errors = [data for name, data in read_events(response) if name == "error"]
    assert len(errors) == 1, response.text
    return None, errors[0]["error"]


@pytest.mark.parametrize("form, values, images, code", [
    # The gateway's own validation: a 400 naming the field.
    ("txt2img", {"prompt": "a chair", "width": "100", "height": "64", "num_inference_steps": "2"}, {},
     "invalid_value"),
    # Triton's: a mask with no product in it is well-formed but unprocessable (the stream's `error` event,
    # after the mask stage's progress).
    ("background-replace", {"prompt": "a chair", "num_inference_steps": "2", "max_side": "64"},
     {"image": sample_image(), "mask_image": np.zeros((96, 128), np.uint8)}, "unprocessable_input"),
])
def test_error_reads_as_the_api_words_it(page, web_gateway, shoot: Shoot, form: str, values: dict,
                                         images: dict, code: str) -> None:
    route = f"/v1/{form}"
    files = {name: (f"{name}.png", png_bytes(array), "image/png") for name, array in images.items()}
    api = httpx.post(f"{web_gateway.url}{route}", data={**values, "stream": "true"}, files=files or None,
                     timeout=120)
    shown_status, error = api_error(api)
    assert error["code"] == code, error

    open_page(page, web_gateway)
    page.click(f"#tab-{form}")
    for name, array in images.items():
        upload(page, form, name, array, f"{name}.png")
    fill(page, form, values)
    submit_and_wait(page, form, "error")
    assert page.inner_text("#error-message") == error["message"]
    detail = f"field {error['param']} · {error['code']}"
    assert page.inner_text("#error-detail") == (f"HTTP {shown_status} · {detail}" if shown_status else detail)
    assert page.locator("#gallery .card").count() == 0
    shoot(page, f"error-{code.replace('_', '-')}")


def test_cancel_stops_the_triton_request(page, web_gateway, triton_server, shoot: Shoot) -> None:
    log = LogWatch(triton_server.log_file)
    cancelled_before = metric(web_gateway, "gateway_cancelled_total", route="/v1/txt2img", missing=0)
    open_page(page, web_gateway)
    fill(page, "txt2img", {"prompt": "a long walnut sideboard", "width": "256", "height": "256",
                           "num_inference_steps": "150", "seed": "11"})
    page.click("#form-txt2img button[type=submit]")
    page.wait_for_selector("#progress-log li:nth-child(3)")
    assert page.is_enabled("#cancel")
    page.click("#cancel")
    page.wait_for_selector("#status[data-state=cancelled]")

    done, total = cancelled_steps(log, "txt2img_stream")
    assert total == 150 and 3 <= done < 150
    wait_until(lambda: metric(web_gateway, "gateway_cancelled_total", route="/v1/txt2img") == cancelled_before + 1,
               10)
    wait_until(lambda: metric(web_gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 0, 10)
    assert page.is_disabled("#cancel") and page.locator("#gallery .card").count() == 0
    steps_shown = len(progress_lines(page))
    assert 3 <= steps_shown < 150
    shoot(page, "cancelled")


def test_api_key_field_is_shown_when_keys_are_on_and_kept_across_visits(page, keyed_gateway, shoot: Shoot) -> None:
    open_page(page, keyed_gateway)
    assert page.is_visible("#api-key")
    fill(page, "txt2img", {"prompt": "a stool", "width": "32", "height": "32", "num_inference_steps": "2"})
    submit_and_wait(page, "txt2img", "error")
    unauthorised = httpx.post(f"{keyed_gateway.url}/v1/txt2img", json={"prompt": "a stool"}, timeout=30)
    assert unauthorised.status_code == 401
    assert page.inner_text("#error-message") == unauthorised.json()["error"]["message"]

    page.fill("#api-key", API_KEY)
    open_page(page, keyed_gateway)  # a later visit: the key comes back from localStorage
    assert page.input_value("#api-key") == API_KEY
    fill(page, "txt2img", {"prompt": "a stool", "width": "32", "height": "32", "num_inference_steps": "2"})
    submit_and_wait(page, "txt2img")
    assert page.locator("#gallery .card").count() == 1
    shoot(page, "api-key")


def test_key_field_is_hidden_without_keys(page, web_gateway) -> None:
    open_page(page, web_gateway)
    assert not page.is_visible("#api-key")


def test_product_finder_lists_what_the_api_found(page, web_gateway, shoot: Shoot) -> None:
    photo = sample_image()
    # No bar for SAM's mask quality or CLIP's probability: the tiny random models then find something.
    values = {"labels": "handbag, sneaker", "points_per_side": "2", "threshold": "0", "min_mask_score": "0",
              "stability_score_thresh": "0"}
    api = httpx.post(f"{web_gateway.url}/v1/product-finder", timeout=120,
                     data={**values, "labels": ["handbag", "sneaker"]},
                     files={"image": ("shelf.png", png_bytes(photo), "image/png")})
    assert api.status_code == 200, api.text
    found = api.json()["objects"]
    assert found, "the finder found nothing: the page's boxes would go untested"

    open_page(page, web_gateway)
    page.click("#tab-product-finder")
    upload(page, "product-finder", "image", photo, "shelf.png")
    fill(page, "product-finder", values)
    submit_and_wait(page, "product-finder")
    card = page.locator("#gallery .card.finder")
    items = card.locator("ol li").all_inner_texts()
    assert [item.split(" ")[0] for item in items] == [obj["label"] for obj in found]
    assert card.locator(".box").count() == len(found)
    assert f"{len(found)} found in 128×96" in card.inner_text()
    # The first box is drawn where the API put it, in percent of the photo.
    drawn = card.locator(".box").first.evaluate("box => [box.style.left, box.style.top, box.style.width]")
    x1, y1, x2, _ = found[0]["box"]
    assert [float(value.rstrip("%")) for value in drawn] == pytest.approx(
        [100 * x1 / 128, 100 * y1 / 96, 100 * (x2 - x1 + 1) / 128], abs=1e-3)
    shoot(page, "product-finder")


def start_job(page, gateway, sheet: Path, translation_fields: dict[str, str], values: dict[str, str]):
    open_page(page, gateway)
    page.click("#tab-jobs")
    page.set_input_files("#form-jobs input[name=file]",
                         files=[{"name": sheet.name, "mimeType": "text/csv", "buffer": sheet.read_bytes()}])
    if translation_fields.get("translate") == "false":
        page.check("#form-jobs [name=translate]")
        translation_fields = {}
    fill(page, "jobs", {**values, **translation_fields})
    submit_and_wait(page, "jobs")
    job_id = re.search(r"job (\w+) (queued|running)$", page.inner_text("#status"))[1]
    return page.locator(f"#job-list .job[data-job-id='{job_id}']")  # the tab lists earlier jobs too


JOB_FAST = {"width": "64", "height": "64", "num_inference_steps": "2", "max_retries": "0"}


def test_catalog_job_follows_each_article_and_downloads_the_zip(page, web_gateway, translation, tmp_path: Path,
                                                               shoot: Shoot) -> None:
    fields, language = translation
    sheet = write_csv(tmp_path / "articles.csv", 3, language)  # plus an empty and a too long description
    card = start_job(page, web_gateway, sheet, fields, JOB_FAST)
    job_id = card.get_attribute("data-job-id")
    page.wait_for_selector(f"#job-list .job[data-job-id='{job_id}'][data-state=done]", timeout=300_000)

    items = dict(line.split(" ", 2)[:2] for line in card.locator(".items li").all_inner_texts())
    assert items == {"A001": "done", "A002": "done", "A003": "done", "EMPTY": "failed", "LONG": "failed"}
    status = httpx.get(f"{web_gateway.url}/v1/jobs/{job_id}", timeout=10).json()
    assert card.locator(".counts").inner_text().startswith(
        f"3 done ({status['counts']['passed']} passed) · 2 failed · 0 pending of 5")
    assert card.locator("progress").evaluate("bar => bar.value") == 1
    assert card.locator(".cancel-job").is_disabled()
    with page.expect_download() as saved:
        card.locator(".download").click()
    download = saved.value
    assert download.suggested_filename == f"catalog-{job_id}.zip"
    names = set(zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())).namelist())
    assert {"A001.png", "A002.png", "A003.png", "A001.json", "EMPTY.json", "LONG.json", "summary.json", "summary.md",
            "scores.png"} <= names
    shoot(page, "catalog-job")


def test_catalog_job_cancel_button_cancels_it(page, web_gateway, translation, tmp_path: Path) -> None:
    fields, language = translation
    sheet = write_csv(tmp_path / "articles.csv", 10, language, bad_rows=False)
    card = start_job(page, web_gateway, sheet, fields, {**JOB_FAST, "num_inference_steps": "25"})
    job_id = card.get_attribute("data-job-id")
    card.locator(".cancel-job").click()
    page.wait_for_selector(f"#job-list .job[data-job-id='{job_id}'][data-state=cancelled]")
    assert httpx.get(f"{web_gateway.url}/v1/jobs/{job_id}", timeout=10).json()["state"] == "cancelled"
    assert card.locator(".cancel-job").is_disabled()

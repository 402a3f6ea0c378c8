"""Bad uploads and image-route inputs are 400s naming the field; oversized uploads 413; a replica without a
route's model makes only that route unavailable (503), and the gateway stays ready."""

from __future__ import annotations

import struct
import zlib

import httpx
import numpy as np
import pytest

from tests.gateway.conftest import b64_png, box_mask, png_bytes, sample_image

IMAGE = sample_image()
MASK = box_mask()
PNG = png_bytes(IMAGE)
TRANSPARENT_MASK = png_bytes(np.dstack([np.full(MASK.shape + (3,), 255, np.uint8), 255 - MASK]))
BASE = {"prompt": "a rug", "num_inference_steps": 2}


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries almost no data (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _edit(gateway, files: dict, **fields) -> httpx.Response:
    data = {"prompt": "a rug", "num_inference_steps": "2", **{k: str(v) for k, v in fields.items()}}
    return httpx.post(f"{gateway.url}/v1/images/edits", files=files, data=data, timeout=60)


def _file(data: bytes, name: str = "x.png") -> tuple:
    return (name, data, "image/png")


EDIT_CASES = [
    ("corrupt-image", {"image": _file(PNG[: len(PNG) // 2])}, {}, "image"),
    ("not-an-image", {"image": _file(b"GIF89a not really")}, {}, "image"),
    ("text-file", {"image": _file(b"hello world", "notes.txt")}, {}, "image"),
    ("empty-image", {"image": _file(b"")}, {}, "image"),
    ("bomb-header", {"image": _file(_png_header_only(50_000, 50_000))}, {}, "image"),
    ("missing-image", {"mask": _file(TRANSPARENT_MASK)}, {}, "image"),
    ("mask-size-mismatch", {"image": _file(PNG), "mask": _file(png_bytes(np.zeros((64, 64, 4), np.uint8)))}, {}, "mask"),
    ("mask-without-alpha", {"image": _file(PNG), "mask": _file(png_bytes(MASK))}, {}, "mask"),
    ("corrupt-mask", {"image": _file(PNG), "mask": _file(b"\x89PNG\r\n\x1a\nxx")}, {}, "mask"),
    ("strength-above-1", {"image": _file(PNG)}, {"strength": 1.5}, "strength"),
    ("strength-boolean", {"image": _file(PNG)}, {"strength": "true"}, "strength"),
    ("steps-not-a-number", {"image": _file(PNG)}, {"num_inference_steps": "many"}, "num_inference_steps"),
    ("size-not-multiple", {"image": _file(PNG)}, {"size": "120x120"}, "size"),  # Triton's latent stride check
    ("unknown-model", {"image": _file(PNG)}, {"model": "no-such-variant"}, "model"),  # Triton
    ("unknown-field", {"image": _file(PNG)}, {"guidance": 3}, "guidance"),
    ("two-images", {"image": [_file(PNG), _file(PNG)]}, {}, "image"),
]


@pytest.mark.parametrize("files,fields,param", [case[1:] for case in EDIT_CASES], ids=[case[0] for case in EDIT_CASES])
def test_bad_edit_is_400_naming_the_field(gateway, files: dict, fields: dict, param: str) -> None:
    if isinstance(files.get("image"), list):
        files = [("image", item) for item in files["image"]]
    response = _edit(gateway, files, **fields)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert param in error["message"], error


def _control(k_images: int = 1, kinds: list[str] | None = None, **lists) -> dict:
    return {"control_images": [b64_png(IMAGE)] * k_images, "controlnet": kinds or ["depth"] * k_images, **lists}


IMAGE_B64 = b64_png(IMAGE)
NATIVE_CASES = [
    ("img2img", {"image": "%%% not base64"}, "image"),
    ("img2img", {"image": b64_png(IMAGE)[:200]}, "image"),          # truncated
    ("img2img", {}, "image"),                                         # missing
    ("img2img", {"image": IMAGE_B64, "strength": 1.01}, "strength"),
    ("img2img", {"image": IMAGE_B64, "strength": -0.1}, "strength"),
    ("img2img", {"image": IMAGE_B64, "strength": True}, "strength"),
    ("img2img", {"image": IMAGE_B64, "strength": "0.5"}, "strength"),
    ("img2img", {"image": IMAGE_B64, "strength": 0.1, "num_inference_steps": 5}, "strength"),  # no step left: Triton
    ("img2img", {"image": IMAGE_B64, "model": "no-such-variant"}, "model"),                    # Triton
    ("img2img", {"image": IMAGE_B64, "guidance_scale": False}, "guidance_scale"),
    ("inpaint", {"image": IMAGE_B64}, "mask_image"),
    ("inpaint", {"image": IMAGE_B64, "mask_image": b64_png(np.zeros((32, 32), np.uint8))}, "mask_image"),  # Triton
    ("inpaint", {"image": IMAGE_B64, "mask_image": "bm90IGFuIGltYWdl"}, "mask_image"),
    ("txt2img", _control(kinds=["no-such-controlnet"]), "controlnet"),                        # Triton
    ("txt2img", _control(k_images=2, kinds=["depth"]), "controlnet"),                          # k mismatch
    ("txt2img", _control(controlnet_conditioning_scale=[0.5, 0.5]), "controlnet_conditioning_scale"),
    ("txt2img", _control(controlnet_conditioning_scale=[9.0]), "controlnet_conditioning_scale"),  # Triton
    ("txt2img", _control(controlnet_conditioning_scale=[True]), "controlnet_conditioning_scale"),
    ("txt2img", _control(control_guidance_start=[0.9], control_guidance_end=[0.5]), "control_guidance_start"),
    ("txt2img", {"controlnet": ["depth"]}, "control_images"),
    ("txt2img", {"control_images": [IMAGE_B64]}, "controlnet"),
    ("txt2img", {"control_images": ["AAAA"], "controlnet": ["depth"]}, "control_images"),
    ("inpaint", {"image": IMAGE_B64, "mask_image": b64_png(MASK), **_control(kinds=["nope"])}, "controlnet"),
]


@pytest.mark.parametrize("route,fields,param", NATIVE_CASES,
                         ids=[f"{route}-{param}-{i}" for i, (route, _, param) in enumerate(NATIVE_CASES)])
def test_bad_native_input_is_400_naming_the_field(gateway, route: str, fields: dict, param: str) -> None:
    response = httpx.post(f"{gateway.url}/v1/{route}", json={**BASE, **fields}, timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert param in error["message"] and len(error["message"]) > len(param) + 10


def test_multipart_field_errors_name_the_field(gateway) -> None:
    files = {"image": ("a.png", PNG, "image/png")}
    boolean = httpx.post(f"{gateway.url}/v1/img2img", data={"prompt": "a", "seed": "true"}, files=files)
    assert boolean.status_code == 400 and boolean.json()["error"]["param"] == "seed"
    twice = httpx.post(f"{gateway.url}/v1/img2img", data={"prompt": ["a", "b"]}, files=files)
    assert twice.status_code == 400 and twice.json()["error"]["param"] == "prompt"
    misplaced = httpx.post(f"{gateway.url}/v1/img2img", data={"prompt": "a"},
                           files={**files, "strength": ("s.txt", b"0.5", "text/plain")})
    assert misplaced.status_code == 400 and misplaced.json()["error"]["param"] == "strength"


@pytest.fixture(scope="module")
def small_uploads(launch_gateway):
    with launch_gateway(max_upload_bytes=40_000, max_upload_pixels=128 * 64) as gateway:  # stopped when the module ends
        yield gateway


def test_oversized_upload_is_413(small_uploads) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    big = png_bytes(noise)
    assert len(big) > 40_000
    edit = httpx.post(f"{small_uploads.url}/v1/images/edits", data={"prompt": "a"},
                      files={"image": ("big.png", big, "image/png")})
    assert edit.status_code == 413 and edit.json()["error"]["code"] == "request_too_large"
    native = httpx.post(f"{small_uploads.url}/v1/img2img", json={"prompt": "a", "image": b64_png(noise)})
    assert native.status_code == 413


def test_pixel_cap_is_400_naming_the_field(small_uploads) -> None:
    response = httpx.post(f"{small_uploads.url}/v1/inpaint", json={
        "prompt": "a", "image": b64_png(IMAGE), "mask_image": b64_png(MASK)})  # 128 x 96 > 128 x 64
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "image" and response.json()["error"]["code"] == "image_too_large"


def test_replica_without_a_routes_model_only_fails_that_route(start_gateway) -> None:
    """A repository without img2img: its routes are 503 model_not_available; the gateway stays ready."""
    gateway = start_gateway(img2img_model="img2img_not_exported")
    ready = httpx.get(f"{gateway.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["optional"]["img2img_not_exported"] is False and ready.json()["optional"]["inpaint"] is True
    native = httpx.post(f"{gateway.url}/v1/img2img", json={**BASE, "image": b64_png(IMAGE)})
    assert native.status_code == 503, native.text
    assert native.json()["error"]["code"] == "model_not_available" and "img2img_not_exported" in native.text
    edit = httpx.post(f"{gateway.url}/v1/images/edits", data={"prompt": "a"}, files={"image": ("a.png", PNG, "image/png")})
    assert edit.status_code == 503 and edit.json()["error"]["code"] == "model_not_available"
    # The other routes serve as usual.
    assert httpx.post(f"{gateway.url}/v1/txt2img", json=BASE, timeout=60).status_code == 200
    inpaint = httpx.post(f"{gateway.url}/v1/inpaint", json={**BASE, "image": b64_png(IMAGE), "mask_image": b64_png(MASK)},
                         timeout=60)
    assert inpaint.status_code == 200, inpaint.text


def test_required_models_setting_makes_readiness_strict(start_gateway) -> None:
    """GATEWAY_REQUIRED_MODELS lists what a replica needs to be in rotation; a missing one makes it unready."""
    strict = start_gateway(required_models="txt2img,img2img,inpaint")
    assert httpx.get(f"{strict.url}/readyz").status_code == 200
    missing = start_gateway(required_models="txt2img,img2img_not_exported")
    ready = httpx.get(f"{missing.url}/readyz")
    assert ready.status_code == 503
    assert "img2img_not_exported" in ready.json()["replicas"][0]["last_error"]

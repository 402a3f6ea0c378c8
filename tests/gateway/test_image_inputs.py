"""Routes that take images: OpenAI images.edit (inpaint / img2img), native /v1/img2img and /v1/inpaint, and
ControlNet on every native route. Each answer is checked against the same model called directly on Triton."""

from __future__ import annotations


import httpx
import numpy as np
import openai
import pytest

from tests.gateway.conftest import b64_png, box_mask, decode_b64_png, decode_png, png_bytes, sample_image
from tests.gateway.test_streaming import read_events

PROMPT = "a linen sofa in a bright room"
IMAGE = sample_image()  # 128 x 96: multiples of the tiny preset's latent stride, so sizes come from the image
MASK = box_mask()
OPTIONS = {"seed": 17, "num_inference_steps": 6, "guidance_scale": 6.5, "scheduler": "euler"}


def openai_mask(repaint: np.ndarray) -> np.ndarray:
    """OpenAI's mask form: RGBA, fully transparent (alpha 0) where the image is to be edited."""
    rgba = np.full(repaint.shape + (4,), 255, np.uint8)
    rgba[..., 3] = np.where(repaint >= 128, 0, 255)
    return rgba


@pytest.fixture
def files(tmp_path):
    image, mask = tmp_path / "room.png", tmp_path / "mask.png"
    image.write_bytes(png_bytes(IMAGE))
    mask.write_bytes(png_bytes(openai_mask(MASK)))
    return image, mask


def _sdk(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="not-needed", max_retries=0)


def test_openai_sdk_edit_with_mask_equals_triton_inpaint(gateway, generation_clients, files) -> None:
    image_path, mask_path = files
    with open(image_path, "rb") as image, open(mask_path, "rb") as mask:
        result = _sdk(gateway).images.edit(image=image, mask=mask, prompt=PROMPT, n=1, response_format="b64_json",
                                           extra_body=OPTIONS)
    assert result.model_extra["seed"] == OPTIONS["seed"]
    edited = decode_b64_png(result.data[0].b64_json)
    direct = generation_clients["inpaint"].generate(PROMPT, image=IMAGE, mask_image=MASK, **OPTIONS)
    assert edited.shape == (96, 128, 3)
    np.testing.assert_array_equal(edited, direct.images[0])
    # Outside the mask the inpaint pipeline keeps the source far closer than inside it.
    assert np.abs(edited.astype(int) - IMAGE)[MASK == 0].mean() < np.abs(edited.astype(int) - IMAGE)[MASK == 255].mean()


def test_openai_sdk_edit_without_mask_equals_triton_img2img(gateway, generation_clients, files) -> None:
    image_path, _ = files
    with open(image_path, "rb") as image:
        result = _sdk(gateway).images.edit(image=image, prompt=PROMPT, size="128x128",
                                           extra_body={**OPTIONS, "strength": 0.5})
    edited = decode_b64_png(result.data[0].b64_json)
    direct = generation_clients["img2img"].generate(PROMPT, image=IMAGE, strength=0.5, width=128, height=128, **OPTIONS)
    assert edited.shape == (128, 128, 3)
    np.testing.assert_array_equal(edited, direct.images[0])


def test_openai_edit_rgba_image_without_mask_uses_its_transparency(gateway, generation_clients) -> None:
    rgba = np.concatenate([IMAGE, np.where(MASK == 255, 0, 255).astype(np.uint8)[..., None]], axis=-1)
    response = httpx.post(f"{gateway.url}/v1/images/edits", timeout=60,
                          files={"image": ("cutout.png", png_bytes(rgba), "image/png")},
                          data={"prompt": PROMPT, **{k: str(v) for k, v in OPTIONS.items()}, "response_format": "url"})
    assert response.status_code == 200, response.text
    assert response.headers["x-seed"] == "17"
    fetched = httpx.get(response.json()["data"][0]["url"])
    direct = generation_clients["inpaint"].generate(PROMPT, image=IMAGE, mask_image=MASK, **OPTIONS)
    np.testing.assert_array_equal(decode_png(fetched.content), direct.images[0])


def test_native_img2img_json_and_multipart_equal_triton(gateway, generation_clients) -> None:
    body = {"prompt": PROMPT, **OPTIONS, "strength": 0.6, "negative_prompt": "blurry"}
    as_json = httpx.post(f"{gateway.url}/v1/img2img", json={**body, "image": b64_png(IMAGE)}, timeout=60)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"] == "image/png" and as_json.headers["x-seed"] == "17"
    form = httpx.post(f"{gateway.url}/v1/img2img", timeout=60, data={k: str(v) for k, v in body.items()},
                      files={"image": ("photo.jpg", png_bytes(IMAGE), "application/octet-stream")})
    assert form.status_code == 200, form.text
    direct = generation_clients["img2img"].generate(PROMPT, image=IMAGE, strength=0.6, negative_prompt="blurry",
                                                   **OPTIONS)
    np.testing.assert_array_equal(decode_png(as_json.content), direct.images[0])
    np.testing.assert_array_equal(decode_png(form.content), direct.images[0])


def test_native_inpaint_json_b64_response_and_multipart(gateway, generation_clients) -> None:
    body = {"prompt": PROMPT, **OPTIONS, "num_images": 2, "response_format": "b64_json", "width": 128, "height": 128}
    as_json = httpx.post(f"{gateway.url}/v1/inpaint", timeout=60,
                         json={**body, "image": b64_png(IMAGE), "mask_image": "data:image/png;base64," + b64_png(MASK)})
    assert as_json.status_code == 200, as_json.text
    payload = as_json.json()
    assert (payload["width"], payload["height"], payload["seed"]) == (128, 128, 17) and len(payload["images"]) == 2
    direct = generation_clients["inpaint"].generate(PROMPT, image=IMAGE, mask_image=MASK, num_images=2, width=128,
                                                   height=128, **OPTIONS)
    for item, expected in zip(payload["images"], direct.images):
        np.testing.assert_array_equal(decode_b64_png(item["b64_json"]), expected)
    # A greyscale-as-RGB mask file and an RGBA photo are converted (mask: luminance, image: RGB).
    rgba = np.concatenate([IMAGE, np.full(MASK.shape + (1,), 255, np.uint8)], axis=-1)
    form = httpx.post(f"{gateway.url}/v1/inpaint", timeout=60, data={k: str(v) for k, v in body.items()},
                      files={"image": ("photo.png", png_bytes(rgba), "image/png"),
                             "mask_image": ("mask.png", png_bytes(np.repeat(MASK[..., None], 3, axis=-1)), "image/png")})
    assert form.status_code == 200, form.text
    np.testing.assert_array_equal(decode_b64_png(form.json()["images"][1]["b64_json"]), direct.images[1])


def test_native_inpaint_sse_progress_then_image(gateway) -> None:
    body = {"prompt": PROMPT, **OPTIONS, "strength": 0.5, "image": b64_png(IMAGE), "mask_image": b64_png(MASK)}
    with httpx.stream("POST", f"{gateway.url}/v1/inpaint", json={**body, "stream": True}, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    names = [name for name, _ in events]
    assert names == ["progress"] * 3 + ["image"]  # strength 0.5 of 6 steps
    assert [data["step"] for _, data in events[:-1]] == [1, 2, 3] and events[0][1]["total"] == 3
    plain = httpx.post(f"{gateway.url}/v1/inpaint", json=body, timeout=60)
    np.testing.assert_array_equal(decode_b64_png(events[-1][1]["images"][0]["b64_json"]), decode_png(plain.content))


def test_openai_edit_stream(gateway) -> None:
    response = httpx.post(f"{gateway.url}/v1/images/edits", timeout=60,
                          files={"image": ("a.png", png_bytes(IMAGE), "image/png"),
                                 "mask": ("m.png", png_bytes(openai_mask(MASK)), "image/png")},
                          data={"prompt": PROMPT, "stream": "true", "seed": "3", "num_inference_steps": "3"})
    assert response.status_code == 200, response.text
    assert response.text.count("event: image_edit.progress") == 3 and "event: image_edit.completed" in response.text


def test_controlnet_on_every_native_route_json_and_multipart(gateway, generation_clients, controlnet_kinds) -> None:
    if controlnet_kinds != ["depth", "seg"]:
        pytest.skip(f"the session repository has ControlNets {controlnet_kinds}, not depth and seg")
    depth = np.repeat(np.linspace(0, 255, 128, dtype=np.uint8)[None, :, None], 96, axis=0).repeat(3, axis=-1)
    seg = sample_image(seed=5)
    control = {"controlnet": ["depth", "seg"], "controlnet_conditioning_scale": [0.8, 0.5],
               "control_guidance_start": [0.0, 0.2], "control_guidance_end": [1.0, 0.9]}
    extra = {"txt2img": {}, "img2img": {"image": IMAGE, "strength": 0.7},
             "inpaint": {"image": IMAGE, "mask_image": MASK}}
    for route, inputs in extra.items():
        body = {"prompt": PROMPT, **OPTIONS, **control, "control_images": [b64_png(depth), b64_png(seg)],
                **{name: (b64_png(value) if isinstance(value, np.ndarray) else value) for name, value in inputs.items()}}
        as_json = httpx.post(f"{gateway.url}/v1/{route}", json=body, timeout=60)
        assert as_json.status_code == 200, (route, as_json.text)
        fields = {name: [str(v) for v in value] if isinstance(value, list) else str(value)
                  for name, value in {"prompt": PROMPT, **OPTIONS, **control, **inputs}.items()
                  if not isinstance(value, np.ndarray)}  # repeated form fields for the lists
        uploads = [("control_images", ("depth.png", png_bytes(depth), "image/png")),
                   ("control_images", ("seg.png", png_bytes(seg), "image/png"))]
        uploads += [(name, (f"{name}.png", png_bytes(value), "image/png")) for name, value in inputs.items()
                    if isinstance(value, np.ndarray)]
        form = httpx.post(f"{gateway.url}/v1/{route}", data=fields, files=uploads, timeout=60)
        assert form.status_code == 200, (route, form.text)
        direct = generation_clients[route].generate(PROMPT, **OPTIONS, **control, **inputs,
                                                   control_image=np.stack([depth, seg]))
        np.testing.assert_array_equal(decode_png(as_json.content), direct.images[0])
        np.testing.assert_array_equal(decode_png(form.content), direct.images[0])

"""The photo workflows served by Triton equal the same steps run by hand with rembg, transformers and diffusers
(max |diff| <= 1), and their guarantees hold bit for bit: the product (background_replace), the kept classes
(restyle_room) and everything outside the product region (product_enhance) are the input photo's pixels."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from clients.triton_client import TritonGenerationClient
from export.perception.foreground import build_tiny_onnx
from export.perception.sources import depth_tiny, segmenter_tiny
from export.sources import preset_controlnet, tiny_source
from serving.perception.ade20k import ADE20K_CLASSES
from serving.pipeline_settings import default_settings
from serving.pipelines.generation_inputs import size_multiple
from benchmarks.references import workflows as by_hand
from benchmarks.references.conditioned import box_mask, photo
from tests.serving.reference import max_pixel_difference

log = logging.getLogger(__name__)

PROMPT = "a perfume bottle on a marble podium at sunset"
ROOM = "a scandinavian living room, light oak, linen"
PHOTO = photo(150, 110, seed=3)  # portrait, larger than max_side: fitted down, not a multiple of the stride
COMMON = dict(seed=77, num_inference_steps=6, scheduler="ddim", guidance_scale=6.0)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from rembg import new_session

    onnx_file = build_tiny_onnx(tmp_path_factory.mktemp("rembg") / "tiny_u2net.onnx")
    return {"base": tiny_source(), "depth": depth_tiny(), "segmenter": segmenter_tiny(),
            "rembg": new_session("u2net_custom", model_path=str(onnx_file)),
            "controlnets": {kind: preset_controlnet("tiny", kind) for kind in ("depth", "seg")}}


@pytest.fixture(scope="module")
def multiple(tiny_repository) -> int:
    return size_multiple(default_settings(tiny_repository))


def serve(server, workflow: str, **inputs) -> dict[str, np.ndarray]:
    client = TritonGenerationClient(server.grpc_url, model_name=workflow)
    try:
        return client.infer(**inputs)
    finally:
        client.close()


def assert_equal_to_by_hand(name: str, served: dict, expected: dict, outputs: tuple[str, ...]) -> None:
    difference = max_pixel_difference(served["image"], expected["image"])
    log.info("parity %s: max |served - by hand| = %d", name, difference)
    assert served["image"].shape[1:3] == expected["fitted"].shape[:2]
    assert difference <= 1
    for output in outputs:  # the intermediate results are the by-hand ones
        assert max_pixel_difference(served[output], expected[output]) <= 1, output


@pytest.mark.parametrize(("dilation", "feather"), [(0, 0), (3, 2)])
def test_background_replace_equals_by_hand(triton_server, weights, multiple, dilation, feather):
    options = dict(COMMON, num_images=1 + (dilation > 0))
    served = serve(triton_server, "background_replace", prompt=PROMPT, image=PHOTO, max_side=96,
                   mask_dilation=dilation, mask_feather=feather, controlnet_conditioning_scale=0.8, **options)
    expected = by_hand.background_replace(weights, PHOTO, PROMPT, max_side=96, multiple=multiple, dilation=dilation,
                                          feather=feather, scale=0.8, **options)
    assert_equal_to_by_hand(f"background_replace d{dilation} f{feather}", served, expected, ("mask", "depth"))


def test_background_replace_keeps_the_product_bit_for_bit(triton_server, multiple):
    """Where the composite's mask is 255, every output image is the fitted photo, bit for bit (the random tiny
    rembg gives soft masks with no opaque pixel, so the product mask is given here)."""
    product = box_mask(*PHOTO.shape[:2])
    served = serve(triton_server, "background_replace", prompt=PROMPT, image=PHOTO, mask_image=product, max_side=96,
                   mask_dilation=2, mask_feather=3, **dict(COMMON, num_images=2))
    fitted = by_hand.fit(PHOTO, 96, multiple)
    opaque = served["mask"] == 255
    assert opaque.any() and (served["mask"] == 0).any()
    for image in served["image"]:
        np.testing.assert_array_equal(image[opaque], fitted[opaque])
        assert max_pixel_difference(image[~opaque], fitted[~opaque]) > 10  # the background was replaced


def test_background_replace_takes_the_alpha_of_a_cutout(triton_server, multiple):
    rgba = np.concatenate([PHOTO, np.zeros(PHOTO.shape[:2] + (1,), np.uint8)], axis=-1)
    rgba[30:110, 20:90, 3] = 255
    served = serve(triton_server, "background_replace", prompt=PROMPT, image=rgba, max_side=96, **COMMON)
    fitted = by_hand.fit(rgba, 96, multiple)
    np.testing.assert_array_equal(served["mask"], fitted[..., 3])
    opaque = served["mask"] == 255
    np.testing.assert_array_equal(served["image"][0][opaque], fitted[..., :3][opaque])


@pytest.mark.parametrize("mode", ["txt2img", "img2img", "keep-walls"])
def test_restyle_room_equals_by_hand(triton_server, weights, multiple, mode):
    inputs = dict(COMMON, depth_scale=0.9, seg_scale=1.1)
    keep_ids: tuple[int, ...] = ()
    if mode == "img2img":
        inputs["strength"] = 0.7
    if mode == "keep-walls":
        # The tiny segmenter's random weights label the photo with a few classes; keep the two most common.
        labels = np.bincount(by_hand.segmentation_labels(weights["segmenter"], by_hand.fit(PHOTO, 96, multiple)).ravel())
        keep_ids = tuple(int(i) for i in np.argsort(labels)[::-1][:2])
        inputs["keep_classes"] = [ADE20K_CLASSES[i] for i in keep_ids]
    served = serve(triton_server, "restyle_room", prompt=ROOM, image=PHOTO, max_side=96, **inputs)
    reference_options = {k: v for k, v in inputs.items() if k not in ("depth_scale", "seg_scale", "keep_classes",
                                                                      "strength")}
    expected = by_hand.restyle_room(weights, PHOTO, ROOM, max_side=96, multiple=multiple,
                                    strength=inputs.get("strength"), scales=(0.9, 1.1), keep_ids=keep_ids,
                                    **reference_options)
    assert_equal_to_by_hand(f"restyle_room {mode}", served, expected, ("depth", "segmentation", "mask"))
    kept = served["mask"] == 255
    assert kept.any() == bool(keep_ids)
    np.testing.assert_array_equal(served["image"][0][kept], expected["fitted"][kept])


def test_product_enhance_equals_by_hand_and_keeps_the_rest(triton_server, weights, multiple):
    mask = box_mask(*PHOTO.shape[:2])
    served = serve(triton_server, "product_enhance", prompt="rich brown leather handbag", image=PHOTO, mask_image=mask,
                   max_side=96, strength=0.75, mask_dilation=4, **COMMON)
    expected = by_hand.product_enhance(weights, PHOTO, mask, "rich brown leather handbag", max_side=96,
                                       multiple=multiple, strength=0.75, dilation=4, **COMMON)
    assert_equal_to_by_hand("product_enhance", served, expected, ("mask", "depth"))
    outside = served["mask"] == 0
    assert outside.any() and (~outside).any()
    np.testing.assert_array_equal(served["image"][0][outside], expected["fitted"][outside])
    assert max_pixel_difference(served["image"][0][~outside], expected["fitted"][~outside]) > 0  # it did repaint


# The tiny random SAM's masks are noise over the whole image: every stability score is ~0 (so that filter is
# off) and on a photo of 90 x 120 px every box spans it, so box NMS 0.7 leaves one mask. On a few pixels the
# boxes differ and several masks stay (measured with the pipeline: 5 objects, and 3 where 2 empty masks are
# skipped); CLIP's threshold 0 keeps every crop not classified as background.
FINDER_CASES = {
    "several_objects": (photo(12, 16, seed=3), dict(points_per_side=6, min_mask_score=0.0)),
    "empty_masks_skipped": (photo(6, 8, seed=3), dict(points_per_side=6, min_mask_score=0.5)),
}


@pytest.mark.parametrize("case", sorted(FINDER_CASES))
def test_product_finder_equals_sam_automatic_and_clip_by_hand(triton_server, case):
    from export.perception.sources import clip_tiny, sam_tiny

    image, grid = FINDER_CASES[case]
    labels = ["handbag", "sneaker"]
    options = dict(grid, stability_score_thresh=0.0, threshold=0.0)
    served = serve(triton_server, "product_finder", image=image, labels=labels, max_objects=64, **options)
    expected = by_hand.product_finder(sam_tiny(), clip_tiny(), image, labels, **options)
    log.info("product_finder %s: %d objects served, %d by hand", case, len(served["labels"]), len(expected))
    assert len(expected) >= 2  # several objects, or the comparison proves little
    assert [label.decode() for label in served["labels"]] == [f["label"] for f in expected]
    score_diff = np.abs(served["scores"] - np.array([f["score"] for f in expected])).max()
    log.info("product_finder %s: max score diff %.2e", case, score_diff)
    assert score_diff <= 1e-4
    np.testing.assert_array_equal(served["masks"] == 255, np.stack([f["mask"] for f in expected]))
    np.testing.assert_array_equal(served["boxes"], np.array([f["box"] for f in expected], np.float32))


def test_product_finder_finds_nothing_when_nothing_passes(triton_server):
    served = serve(triton_server, "product_finder", image=photo(64, 64, seed=2), labels=["handbag"], threshold=1.0,
                   points_per_side=2, min_mask_score=0.0, stability_score_thresh=0.0)
    assert served["labels"].shape == (0,) and served["masks"].shape == (0, 64, 64) and served["boxes"].shape == (0, 4)

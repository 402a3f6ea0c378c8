"""product_finder's stages without Triton, against stand-ins for sam_automatic and clip_classify: its inputs
under sam_automatic's names and dtypes, each mask's inclusive box crop classified over the labels plus
"background", empty masks and background crops dropped, the rest by probability; and `python -m export` installs
it once sam_automatic and clip_classify are exported."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from serving.contracts import PRODUCT_FINDER
from serving.pipelines.errors import InvalidInputError
from serving.workflows.product_finder import ProductFinder

PHOTO = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
LABELS = np.array([b"handbag", b"sneaker"], np.object_)


def mask_of(box: tuple[int, int, int, int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    mask = np.zeros(PHOTO.shape[:2], np.uint8)
    mask[y1:y2 + 1, x1:x2 + 1] = 1
    return mask


class StandIns:
    """sam_automatic answers `boxes` as masks (None: an empty mask); clip_classify answers `probs` in turn."""

    def __init__(self, boxes: list[tuple[int, int, int, int] | None], probs: list[list[float]]) -> None:
        self.boxes, self.probs = boxes, list(probs)
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, model: str, inputs: dict, outputs: list[str]) -> dict[str, np.ndarray]:
        self.calls.append((model, inputs))
        if model == "clip_classify":
            return {"probs": np.array(self.probs.pop(0), np.float32)}
        assert model == "sam_automatic" and outputs == ["masks", "scores", "bounding_boxes"]
        masks = [np.zeros(PHOTO.shape[:2], np.uint8) if box is None else mask_of(box) for box in self.boxes]
        return {"masks": np.array(masks, np.uint8).reshape(-1, *PHOTO.shape[:2]),
                "scores": np.linspace(0.9, 0.5, len(masks), dtype=np.float32),
                "bounding_boxes": np.array([box or (0, 0, 0, 0) for box in self.boxes], np.float32).reshape(-1, 4)}

    def sent(self, model: str) -> list[dict]:
        return [inputs for name, inputs in self.calls if name == model]


def find(models: StandIns, **options) -> dict[str, np.ndarray]:
    inputs = {"image": PHOTO, "labels": LABELS,
              **{name: np.array([value], np.float32 if isinstance(value, float) else np.int32)
                 for name, value in options.items()}}
    return ProductFinder(Path("."), models, PRODUCT_FINDER)(inputs)


def test_defaults_are_sam_automatics_own_under_its_names() -> None:
    models = StandIns([], [])
    find(models)
    sent, = models.sent("sam_automatic")
    assert sorted(sent) == ["image", "points_per_crop", "pred_iou_thresh", "stability_score_thresh"]
    np.testing.assert_array_equal(sent["image"], PHOTO)
    assert sent["points_per_crop"].dtype == np.int32 and sent["points_per_crop"].tolist() == [6]
    assert sent["pred_iou_thresh"].dtype == np.float32 and sent["pred_iou_thresh"].tolist() == [np.float32(0.88)]
    assert sent["stability_score_thresh"].dtype == np.float32
    assert sent["stability_score_thresh"].tolist() == [np.float32(0.95)]


def test_options_pass_through() -> None:
    models = StandIns([], [])
    find(models, points_per_side=3, min_mask_score=0.25, stability_score_thresh=0.0)
    sent, = models.sent("sam_automatic")
    assert (sent["points_per_crop"].tolist(), sent["pred_iou_thresh"].tolist(),
            sent["stability_score_thresh"].tolist()) == ([3], [0.25], [0.0])


def test_box_crops_classified_empty_masks_and_background_dropped_best_first() -> None:
    boxes = [(2, 1, 5, 3), None, (0, 0, 11, 9), (7, 4, 7, 8)]
    probs = [[0.6, 0.3, 0.1], [0.2, 0.1, 0.7], [0.1, 0.8, 0.1]]  # handbag, background, sneaker
    models = StandIns(boxes, probs)
    found = find(models, threshold=0.0)
    crops = [inputs["image"] for inputs in models.sent("clip_classify")]
    assert [crop.shape for crop in crops] == [(3, 4, 3), (10, 12, 3), (5, 1, 3)]  # inclusive boxes; none empty
    np.testing.assert_array_equal(crops[0], PHOTO[1:4, 2:6])
    assert all(inputs["labels"].tolist() == [b"handbag", b"sneaker", b"background"]
               for inputs in models.sent("clip_classify"))
    assert found["labels"].tolist() == [b"sneaker", b"handbag"]
    np.testing.assert_allclose(found["scores"], [0.8, 0.6])
    np.testing.assert_array_equal(found["boxes"], [[7, 4, 7, 8], [2, 1, 5, 3]])
    np.testing.assert_array_equal(found["masks"], [mask_of(boxes[3]) * 255, mask_of(boxes[0]) * 255])


def test_threshold_and_max_objects() -> None:
    boxes = [(0, 0, 3, 3), (4, 4, 8, 8), (1, 1, 2, 2)]
    probs = [[0.5, 0.3, 0.2], [0.9, 0.05, 0.05], [0.3, 0.4, 0.3]]
    found = find(StandIns(boxes, probs), threshold=0.45, max_objects=1)
    assert found["labels"].tolist() == [b"handbag"] and found["boxes"].tolist() == [[4, 4, 8, 8]]
    nothing = find(StandIns(boxes, probs), threshold=1.0)
    assert nothing["masks"].shape == (0, 10, 12) and nothing["boxes"].shape == (0, 4)


@pytest.mark.parametrize(("options", "name", "words"), [
    (dict(stability_score_thresh=1.5), "stability_score_thresh", "[0, 1]"),
    (dict(min_mask_score=-0.1), "min_mask_score", "[0, 1]"),
    (dict(points_per_side=9), "points_per_side", "[1, 8]"),
])
def test_a_bad_option_is_named_before_any_model_runs(options, name, words) -> None:
    models = StandIns([], [])
    with pytest.raises(InvalidInputError, match=rf"'{name}'.*{re.escape(words)}"):
        find(models, **options)
    assert models.calls == []


def test_export_installs_it_once_sam_automatic_and_clip_classify_are_there(tmp_path) -> None:
    from export.orchestrators import installable
    from serving.pipeline_settings import ASSETS_DIR, CATALOG_FILE

    (tmp_path / ASSETS_DIR).mkdir(parents=True)
    (tmp_path / ASSETS_DIR / CATALOG_FILE).write_text("{}")
    for model in ("sam", "clip_classify"):
        (tmp_path / model).mkdir()
        (tmp_path / model / "config.pbtxt").write_text("")
    assert not installable(tmp_path, PRODUCT_FINDER)  # SAM's prompted model alone is not enough
    (tmp_path / "sam_automatic").mkdir()
    (tmp_path / "sam_automatic" / "config.pbtxt").write_text("")
    assert installable(tmp_path, PRODUCT_FINDER)

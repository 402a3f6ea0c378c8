"""sam equals transformers' SamProcessor + SamModel + post_process_masks on the same tiny weights: binarised
masks identical (IoU 1.0), IoU scores within 1e-4; boxes, points, both, many prompts on one embedding."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from clients.perception_client import PerceptionClient
from export.perception.sources import sam_tiny
from benchmarks.references.perception import photo

log = logging.getLogger(__name__)

BOXES = [[10, 20, 80, 70], [0, 0, 50, 50], [60, 5, 119, 89]]
POINTS = [[[30, 40], [70, 20]], [[60, 10], [5, 80]], [[100, 60], [40, 45]]]
LABELS = [[1, 0], [1, 1], [0, 1]]
CASES = {
    "boxes": dict(input_boxes=BOXES),
    "points": dict(input_points=POINTS, input_labels=LABELS),
    "points_and_boxes": dict(input_points=POINTS, input_labels=LABELS, input_boxes=BOXES),
    "one_point_default_label": dict(input_points=[[[64, 48]]]),
}


@pytest.fixture(scope="module")
def sam_source():
    return sam_tiny()


@pytest.fixture(scope="module")
def client(perception_server):
    client = PerceptionClient(perception_server.grpc_url)
    yield client
    client.close()


def transformers_sam(source, image: np.ndarray, prompts: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from transformers import SamProcessor

    processor = SamProcessor(image_processor=source.image_processor)
    kwargs = {}
    if "input_boxes" in prompts:
        kwargs["input_boxes"] = [prompts["input_boxes"]]
    if "input_points" in prompts:
        kwargs["input_points"] = [prompts["input_points"]]
        kwargs["input_labels"] = [prompts.get("input_labels", np.ones(np.shape(prompts["input_points"])[:2], int).tolist())]
    inputs = processor(images=Image.fromarray(image), return_tensors="pt", **kwargs)
    with torch.no_grad():
        outputs = source.model(**{k: v for k, v in inputs.items() if k not in ("original_sizes", "reshaped_input_sizes")})
    sizes = inputs["original_sizes"], inputs["reshaped_input_sizes"]
    masks = processor.image_processor.post_process_masks(outputs.pred_masks, *sizes)[0]
    logits = processor.image_processor.post_process_masks(outputs.pred_masks, *sizes, binarize=False)[0]
    return masks.numpy(), outputs.iou_scores[0].numpy(), logits.numpy()


@pytest.mark.parametrize("case", sorted(CASES))
def test_masks_and_scores_match_transformers(client, sam_source, case):
    image = photo(90, 120, seed=11)
    served = client.infer("sam", image=image, **{k: np.asarray(v) for k, v in CASES[case].items()})
    masks, scores, logits = transformers_sam(sam_source, image, CASES[case])
    assert served["masks"].shape == masks.shape and served["masks"].shape[1:] == (3, 90, 120)
    served_masks = served["masks"].astype(bool)
    union = np.logical_or(served_masks, masks).sum(axis=(-2, -1))
    iou = np.where(union > 0, np.logical_and(served_masks, masks).sum(axis=(-2, -1)) / np.maximum(union, 1), 1.0)
    log.info("sam %s: min IoU %.5f (%d masks of %d at 1.0), %d pixels differ, max score diff %.2e, coverage %.2f",
             case, iou.min(), int((iou == 1.0).sum()), iou.size, int((served_masks != masks).sum()),
             np.abs(served["iou_scores"] - scores).max(), masks.mean())
    differing = served_masks != masks
    assert np.abs(logits[differing]).max(initial=0.0) < 1e-4, "a mask differs where the logit is not a tie"
    assert iou.min() >= 0.999
    np.testing.assert_allclose(served["iou_scores"], scores, atol=1e-4, rtol=0)
    assert 0.05 < masks.mean() < 0.95  # masks with both inside and outside pixels


def test_one_embedding_per_request(client):
    before = client.model_statistics("sam_image_encoder")["inference_count"]
    client.infer("sam", image=photo(90, 120, seed=1), input_boxes=np.asarray(BOXES * 4, np.float32))
    assert int(client.model_statistics("sam_image_encoder")["inference_count"]) == int(before) + 1

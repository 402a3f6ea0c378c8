"""sam_automatic equals transformers' pipeline("mask-generation") on the same tiny SAM weights: the same
masks (binarised, IoU 1.0), in the same order, scores within 1e-4, the same boxes; one image embedding per
crop, the grid decoded in points_per_batch batches.

The tiny random SAM predicts noisy masks (logits of order 0.1): every stability score is ~0, and most
boxes span the whole image. So the cases keep stability_score_thresh at 0, filter on the predicted IoU,
and use a box-NMS threshold of 0.99, which still drops most of the 192 masks of an 8 x 8 grid (boxes
differing by a pixel or two from a better one) and keeps several."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.mask_generation import mask_generation_pipeline
from clients.perception_client import PerceptionClient
from export.descriptors.perception import SamImageEncoderDescriptor, SamMaskDecoderDescriptor
from export.perception.sources import sam_tiny
from serving.perception.sam_automatic import SamAutomaticPipeline
from serving.perception.stages import IMAGE_PROCESSOR_DIR
from benchmarks.references.perception import photo

log = logging.getLogger(__name__)

IMAGE = photo(90, 120, seed=11)
CASES = {
    # IoU filter + NMS over 4 decoder batches of one crop
    "grid8_batches16": dict(points_per_crop=8, points_per_batch=16, pred_iou_thresh=0.7, stability_score_thresh=0.0,
                            crops_nms_thresh=0.99),
    # crop layer 1: 5 crops, 5 embeddings; the crops' masks meet the crop-edge filter and the padding back
    "crop_layer1": dict(points_per_crop=6, crops_n_layers=1, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                        crops_nms_thresh=0.99),
}
EMPTY = dict(points_per_crop=4)  # the pipeline's thresholds (0.88, 0.95): no mask of the tiny model passes


@pytest.fixture(scope="module")
def sam_source():
    return sam_tiny()


@pytest.fixture(scope="module")
def reference(sam_source):
    return mask_generation_pipeline(sam_source)


@pytest.fixture(scope="module")
def client(perception_server):
    client = PerceptionClient(perception_server.grpc_url)
    yield client
    client.close()


def reference_outputs(reference, image: np.ndarray, options: dict) -> dict[str, np.ndarray]:
    result = reference(Image.fromarray(image[..., :3]), **options)
    height, width = image.shape[:2]
    masks = np.stack(result["masks"]) if len(result["masks"]) else np.zeros((0, height, width), bool)
    return {"masks": masks, "scores": result["scores"].numpy(), "bounding_boxes": result["bounding_boxes"].numpy()}


def assert_same(served: dict[str, np.ndarray], expected: dict[str, np.ndarray], case: str) -> None:
    count = len(expected["masks"])
    assert served["masks"].shape == expected["masks"].shape, (served["masks"].shape, expected["masks"].shape)
    served_masks = served["masks"].astype(bool)
    union = np.logical_or(served_masks, expected["masks"]).sum(axis=(-2, -1))
    iou = np.logical_and(served_masks, expected["masks"]).sum(axis=(-2, -1)) / np.maximum(union, 1)
    score_diff = np.abs(served["scores"] - expected["scores"]).max(initial=0.0)
    log.info("sam_automatic %s: %d masks, min IoU %.5f, %d pixels differ, max score diff %.2e, scores %s",
             case, count, iou.min(initial=1.0), int((served_masks != expected["masks"]).sum()), score_diff,
             np.round(expected["scores"], 4).tolist())
    np.testing.assert_array_equal(served_masks, expected["masks"])
    np.testing.assert_allclose(served["scores"], expected["scores"], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(served["bounding_boxes"], expected["bounding_boxes"])


def as_inputs(options: dict) -> dict[str, np.ndarray]:
    return {name: np.array([value], np.float32 if isinstance(value, float) else np.int32)
            for name, value in options.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_masks_scores_and_boxes_match_the_pipeline(client, reference, case):
    served = client.sam_automatic(IMAGE, **CASES[case])
    expected = reference_outputs(reference, IMAGE, CASES[case])
    assert len(expected["masks"]) >= 2  # several masks, or the case proves little
    assert_same(served, expected, case)
    assert 0.05 < expected["masks"].mean() < 0.95


def test_no_mask_passing_is_an_empty_answer(client, reference):
    served = client.sam_automatic(IMAGE, **EMPTY)
    assert_same(served, reference_outputs(reference, IMAGE, EMPTY), "empty")
    assert served["masks"].shape == (0, 90, 120) and served["bounding_boxes"].shape == (0, 4)


def test_rgba_alpha_is_ignored(client):
    rgba = np.concatenate([IMAGE, np.full((*IMAGE.shape[:2], 1), 7, np.uint8)], axis=-1)
    served, rgb = (client.sam_automatic(image, **CASES["grid8_batches16"]) for image in (rgba, IMAGE))
    np.testing.assert_array_equal(served["masks"], rgb["masks"])


@pytest.mark.parametrize(("options", "crops", "decoder_calls"), [
    (dict(points_per_crop=8, points_per_batch=16), 1, 4),  # 64 points in batches of 16
    (dict(points_per_crop=5, points_per_batch=64, crops_n_layers=1), 5, 5),  # 25 points on each of 5 crops
])
def test_one_embedding_per_crop_and_one_decoder_call_per_batch(client, options, crops, decoder_calls):
    def counts() -> tuple[int, int]:
        return tuple(int(client.model_statistics(name)["inference_count"])
                     for name in ("sam_image_encoder", "sam_mask_decoder"))

    before = counts()
    client.sam_automatic(IMAGE, **options)
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (crops, decoder_calls)


def test_in_process_stages_match_the_pipeline(sam_source, reference, tmp_path):
    """The orchestrator's stages without Triton: its networks as the exported modules, in torch."""
    encoder = SamImageEncoderDescriptor.from_module(sam_source.model).wrap(sam_source.model).eval()
    decoder = SamMaskDecoderDescriptor.from_module(sam_source.model).wrap(sam_source.model).eval()

    def call(model, inputs, outputs):
        with torch.no_grad():
            if model == "sam_image_encoder":
                return {"image_embeddings": encoder(torch.from_numpy(inputs["pixel_values"]))[0].numpy()}
            scores, masks = decoder(*(torch.from_numpy(inputs[name])
                                      for name in ("image_embeddings", "prompt_points", "prompt_labels")))
            return {"iou_scores": scores.numpy(), "pred_masks": masks.numpy()}

    sam_source.image_processor.save_pretrained(tmp_path / IMAGE_PROCESSOR_DIR)
    served = SamAutomaticPipeline(tmp_path, call)({"image": IMAGE, **as_inputs(CASES["grid8_batches16"])})
    expected = reference_outputs(reference, IMAGE, CASES["grid8_batches16"])
    assert len(expected["masks"]) >= 2
    assert_same(served, expected, "in-process")

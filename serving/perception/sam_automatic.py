"""sam_automatic orchestrator: Segment Anything's automatic masks, as transformers' pipeline("mask-generation").

The pipeline's steps with the model's own image processor (SamImageProcessor): generate_crop_boxes (the
image and its crops, a point grid on each), one image embedding per crop (`sam_image_encoder`), the grid
decoded `points_per_batch` points at a time (`sam_mask_decoder`: 3 masks per point, SamModel's multimask
output, which the pipeline uses), post_process_masks + filter_masks per batch, then
post_process_for_mask_generation's box NMS over every kept mask. Only that NMS is not the processor's
call: it needs torchvision, so `box_nms.batched_nms` (the same algorithm) stands in for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serving.perception.box_nms import batched_nms
from serving.perception.contracts import (
    MAX_IMAGE_SIDE, SAM_CROPS_N_LAYERS, SAM_CROPS_NMS_THRESH, SAM_POINTS_PER_BATCH, SAM_POINTS_PER_CROP,
    SAM_PRED_IOU_THRESH, SAM_STABILITY_SCORE_THRESH,
)
from serving.perception.inputs import Inputs, parse_image
from serving.perception.sam import SamPipeline
from serving.perception.stages import load_image_processor, to_rgb
from serving.stage_types import ComponentCaller
from serving.tensor_values import UNIT_RANGE, int_in, optional_float_in

log = logging.getLogger(__name__)

# The pipeline's defaults for what the contract does not expose.
CROP_OVERLAP_RATIO = 512 / 1500
CROP_N_POINTS_DOWNSCALE_FACTOR = 1
MASK_THRESHOLD = 0
STABILITY_SCORE_OFFSET = 1
FILTER_CHUNK = 4  # grid points per filter_masks call (12 masks)


@dataclass(frozen=True)
class MaskGenerationOptions:
    points_per_crop: int
    points_per_batch: int
    pred_iou_thresh: float
    stability_score_thresh: float
    crops_nms_thresh: float
    crops_n_layers: int

    @classmethod
    def parse(cls, inputs: Inputs) -> "MaskGenerationOptions":
        return cls(
            points_per_crop=int_in(inputs, "points_per_crop", *SAM_POINTS_PER_CROP),
            points_per_batch=int_in(inputs, "points_per_batch", *SAM_POINTS_PER_BATCH),
            pred_iou_thresh=optional_float_in(inputs, "pred_iou_thresh", SAM_PRED_IOU_THRESH, *UNIT_RANGE),
            stability_score_thresh=optional_float_in(inputs, "stability_score_thresh", SAM_STABILITY_SCORE_THRESH,
                                                     *UNIT_RANGE),
            crops_nms_thresh=optional_float_in(inputs, "crops_nms_thresh", SAM_CROPS_NMS_THRESH, *UNIT_RANGE),
            crops_n_layers=int_in(inputs, "crops_n_layers", *SAM_CROPS_N_LAYERS),
        )


class SamAutomaticPipeline:
    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        self.call = call
        self.image_processor = load_image_processor(assets)

    def __call__(self, inputs: Inputs) -> dict[str, np.ndarray]:
        import torch

        # 1. check inputs
        image = to_rgb(parse_image(inputs, "image", MAX_IMAGE_SIDE))
        options = MaskGenerationOptions.parse(inputs)
        # 2. the image and its crops, each with a point grid in its resized coordinates, and their pixel values
        processor = self.image_processor
        target_size = processor.size.get("longest_edge", processor.size.get("height"))
        crop_boxes, grid_points, cropped_images, grid_labels = processor.generate_crop_boxes(
            image, target_size, options.crops_n_layers, CROP_OVERLAP_RATIO, options.points_per_crop,
            CROP_N_POINTS_DOWNSCALE_FACTOR)
        processed = processor(images=cropped_images, return_tensors="np")
        full_size = processed["original_sizes"][0].tolist()
        rle_masks, scores, boxes = [], [], []
        for crop in range(len(cropped_images)):
            # 3. one image embedding per crop
            pixel_values = processed["pixel_values"][crop:crop + 1].astype(np.float32)
            embeddings = self.call("sam_image_encoder", {"pixel_values": pixel_values},
                                   ["image_embeddings"])["image_embeddings"]
            # 4. its grid decoded a batch at a time, each batch filtered (as the pipeline's _forward)
            for start in range(0, grid_points.shape[1], options.points_per_batch):
                batch = slice(start, start + options.points_per_batch)
                prompt_points, prompt_labels = SamPipeline.unified_prompts({
                    "input_points": grid_points[:, batch, crop:crop + 1].numpy(),
                    "input_labels": grid_labels[:, batch, crop:crop + 1].numpy()})
                decoded = self.call("sam_mask_decoder", {"image_embeddings": embeddings, "prompt_points": prompt_points,
                                                         "prompt_labels": prompt_labels}, ["iou_scores", "pred_masks"])
                logits = processor.post_process_masks(
                    torch.from_numpy(decoded["pred_masks"]), processed["original_sizes"][crop:crop + 1].tolist(),
                    mask_threshold=MASK_THRESHOLD,
                    reshaped_input_sizes=processed["reshaped_input_sizes"][crop:crop + 1].tolist(), binarize=False)
                iou_scores = torch.from_numpy(decoded["iou_scores"][0])
                # filter_masks judges each mask alone, but its RLE encoding scans every mask's pixel changes once
                # per mask (quadratic in the batch): smaller calls give the same masks in a fraction of the time.
                for part in range(0, len(iou_scores), FILTER_CHUNK):
                    kept_masks, kept_scores, kept_boxes = processor.filter_masks(
                        logits[0][part:part + FILTER_CHUNK], iou_scores[part:part + FILTER_CHUNK], full_size,
                        crop_boxes[crop], options.pred_iou_thresh, options.stability_score_thresh, MASK_THRESHOLD,
                        STABILITY_SCORE_OFFSET)
                    rle_masks.extend(kept_masks)
                    scores.append(kept_scores)
                    boxes.append(kept_boxes)
        # 5. overlaps removed (post_process_for_mask_generation), best score first
        return self.post_process(rle_masks, torch.cat(scores), torch.cat(boxes), options.crops_nms_thresh, full_size)

    @staticmethod
    def post_process(rle_masks: list[dict], scores, boxes, crops_nms_thresh: float,
                     full_size: list[int]) -> dict[str, np.ndarray]:
        """SamImageProcessor.post_process_for_mask_generation with box_nms.batched_nms for torchvision's."""
        import torch
        from transformers.models.sam.image_processing_pil_sam import _rle_to_mask

        keep = batched_nms(boxes.float(), scores, torch.zeros(boxes.shape[0]), crops_nms_thresh)
        log.debug("sam_automatic: %d masks kept by the filters, %d after NMS", len(rle_masks), len(keep))
        masks = [_rle_to_mask(rle_masks[i]) for i in keep.tolist()]
        return {
            "masks": np.stack(masks).astype(np.uint8) if masks else np.zeros((0, *full_size), np.uint8),
            "scores": scores[keep].numpy().astype(np.float32),
            "bounding_boxes": boxes[keep].numpy().astype(np.float32).reshape(-1, 4),
        }

"""sam orchestrator: Segment Anything as transformers' SamProcessor + SamModel + post_process_masks.
The image embedding is computed once per request (`sam_image_encoder`) and every prompt of the request is
decoded from it in one `sam_mask_decoder` call."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from serving.perception.contracts import MAX_IMAGE_SIDE, MAX_SAM_PROMPTS
from serving.perception.inputs import Inputs, parse_image
from serving.perception.stages import load_image_processor, to_rgb
from serving.pipelines.errors import InvalidInputError
from serving.stage_types import ComponentCaller

# Labels of the decoder's unified prompt tensor (see export/descriptors/perception.py).
PAD, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT = -1, 2, 3


def _inside(name: str, coordinates: np.ndarray, width: int, height: int) -> None:
    if not np.isfinite(coordinates).all():
        raise InvalidInputError(name, "coordinates must be finite numbers")
    x, y = coordinates[..., 0::2], coordinates[..., 1::2]
    if (x < 0).any() or (y < 0).any() or (x > width).any() or (y > height).any():
        raise InvalidInputError(name, f"prompts must lie inside the {width} x {height} image (0..{width}, 0..{height})")


def parse_prompts(inputs: Inputs, width: int, height: int) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    boxes, points, labels = inputs.get("input_boxes"), inputs.get("input_points"), inputs.get("input_labels")
    if boxes is None and points is None:
        raise InvalidInputError("input_points", "give input_points and/or input_boxes")
    count = None
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=np.float32)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or not 1 <= len(boxes) <= MAX_SAM_PROMPTS:
            raise InvalidInputError("input_boxes", f"must be [P, 4] with P = 1..{MAX_SAM_PROMPTS}, got {list(boxes.shape)}")
        _inside("input_boxes", boxes, width, height)
        if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
            raise InvalidInputError("input_boxes", "each box is x1, y1, x2, y2 with x1 <= x2 and y1 <= y2")
        count = len(boxes)
    if points is not None:
        points = np.asarray(points, dtype=np.float32)
        if points.ndim != 3 or points.shape[2] != 2 or not 1 <= len(points) <= MAX_SAM_PROMPTS or points.shape[1] < 1:
            raise InvalidInputError("input_points", f"must be [P, N, 2] with P = 1..{MAX_SAM_PROMPTS}, got {list(points.shape)}")
        _inside("input_points", points, width, height)
        if count is not None and len(points) != count:
            raise InvalidInputError("input_points", f"has {len(points)} prompts for {count} boxes; give one per box")
        labels = np.ones(points.shape[:2], np.int64) if labels is None else np.asarray(labels)
        if labels.shape != points.shape[:2] or not np.isin(labels, (0, 1)).all():
            raise InvalidInputError("input_labels", f"must be [P, N] = {list(points.shape[:2])} of 0 or 1")
    elif labels is not None:
        raise InvalidInputError("input_labels", "needs input_points")
    return boxes, points, labels


class SamPipeline:
    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        from transformers import SamProcessor

        self.call = call
        self.processor = SamProcessor(image_processor=load_image_processor(assets))

    def __call__(self, inputs: Inputs) -> dict[str, np.ndarray]:
        import torch

        # 1. check inputs
        image = to_rgb(parse_image(inputs, "image", MAX_IMAGE_SIDE))
        boxes, points, labels = parse_prompts(inputs, *image.size)
        # 2. SamProcessor: resize + pad the image, rescale the prompts to it
        kwargs = {}
        if boxes is not None:
            kwargs["input_boxes"] = [boxes.tolist()]
        if points is not None:
            kwargs.update(input_points=[points.tolist()], input_labels=[labels.tolist()])
        processed = self.processor(images=image, return_tensors="np", **kwargs)
        prompt_points, prompt_labels = self.unified_prompts(processed)
        # 3. one image embedding, 4. every prompt decoded from it
        embeddings = self.call("sam_image_encoder", {"pixel_values": processed["pixel_values"].astype(np.float32)},
                               ["image_embeddings"])["image_embeddings"]
        decoded = self.call("sam_mask_decoder", {"image_embeddings": embeddings, "prompt_points": prompt_points,
                                                 "prompt_labels": prompt_labels}, ["iou_scores", "pred_masks"])
        # 5. the processor's post-processing: upscale, remove padding, resize to the image, binarise at 0
        masks = self.processor.image_processor.post_process_masks(
            torch.from_numpy(decoded["pred_masks"]), torch.as_tensor(processed["original_sizes"]),
            torch.as_tensor(processed["reshaped_input_sizes"]))[0]
        return {"masks": masks.numpy().astype(np.uint8), "iou_scores": decoded["iou_scores"][0]}

    @staticmethod
    def unified_prompts(processed) -> tuple[np.ndarray, np.ndarray]:
        """Points (plus one padding point when there are no boxes), then box corners labelled 2 and 3."""
        points, labels = [], []
        has_boxes = "input_boxes" in processed
        if "input_points" in processed:
            p = np.asarray(processed["input_points"][0], np.float32)
            points.append(p)
            labels.append(np.asarray(processed["input_labels"][0], np.int64))
            if not has_boxes:
                points.append(np.zeros((len(p), 1, 2), np.float32))
                labels.append(np.full((len(p), 1), PAD, np.int64))
        if has_boxes:
            b = np.asarray(processed["input_boxes"][0], np.float32)
            points.append(b.reshape(len(b), 2, 2))
            labels.append(np.tile(np.array([[BOX_TOP_LEFT, BOX_BOTTOM_RIGHT]], np.int64), (len(b), 1)))
        return np.concatenate(points, axis=1)[None], np.concatenate(labels, axis=1)[None]

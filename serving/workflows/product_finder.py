"""product_finder: the objects of given classes in a photo, each with its label, CLIP probability and mask.

Stages: SAM prompts on a point grid (as SAM's automatic mask generator: cell centres) -> per point the
mask SAM scores best, kept when its predicted IoU reaches `min_mask_score` -> overlapping proposals removed
(mask IoU > 0.7, best score first) -> each proposal's box crop classified by `clip_classify` over the
labels plus "background" -> objects whose best label is not background and reaches `threshold`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from serving.contracts import MAX_FINDER_LABELS, OrchestratorContract
from serving.perception.inputs import parse_texts
from serving.pipelines.diffusion import ComponentCaller, ProgressCallback
from serving.pipelines.errors import InvalidInputError
from serving.pipelines.generation_inputs import image_value, int_in, reject_unexpected
from serving.workflows.stages import PhotoWorkflow

BACKGROUND = "background"
OVERLAP_IOU = 0.7  # SAM's automatic mask generator drops proposals overlapping a better one this much
Inputs = dict


def point_grid(points_per_side: int, height: int, width: int) -> np.ndarray:
    """[n*n, 1, 2] pixel prompts at the centres of an n x n grid (SAM's build_point_grid, scaled)."""
    offset = 1 / (2 * points_per_side)
    side = np.linspace(offset, 1 - offset, points_per_side)
    xs, ys = np.meshgrid(side * width, side * height)
    return np.stack([xs.ravel(), ys.ravel()], axis=-1)[:, None, :].astype(np.float32)


def best_proposals(masks: np.ndarray, scores: np.ndarray, min_score: float) -> list[tuple[float, np.ndarray]]:
    """Per prompt the best-scored of SAM's 3 masks, non-empty and scored >= min_score, overlaps removed."""
    best = scores.argmax(axis=1)
    candidates = [(float(scores[i, j]), masks[i, j].astype(bool)) for i, j in enumerate(best)]
    candidates = [c for c in candidates if c[0] >= min_score and c[1].any()]
    candidates.sort(key=lambda c: -c[0])
    kept: list[tuple[float, np.ndarray]] = []
    for score, mask in candidates:
        if all(np.logical_and(mask, other).sum() / np.logical_or(mask, other).sum() <= OVERLAP_IOU
               for _, other in kept):
            kept.append((score, mask))
    return kept


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


class ProductFinder:
    def __init__(self, assets: Path, call: ComponentCaller, contract: OrchestratorContract) -> None:
        self.call = call
        self.contract = contract

    def __call__(self, inputs: Inputs, on_step: ProgressCallback | None = None,
                 is_cancelled: Callable[[], bool] = lambda: False) -> dict[str, np.ndarray]:
        # 1. inputs
        reject_unexpected(inputs, self.contract)
        image = image_value(inputs, "image", (3, 4))
        if image is None:
            raise InvalidInputError("image", "is required")
        rgb = np.ascontiguousarray(image[..., :3])
        labels = parse_texts(inputs, "labels", MAX_FINDER_LABELS)
        if BACKGROUND in labels:
            raise InvalidInputError("labels", f"{BACKGROUND!r} is implicit (the rejection class); name objects only")
        threshold = self._fraction(inputs, "threshold")
        min_score = self._fraction(inputs, "min_mask_score")
        grid = int_in(inputs, "points_per_side", int(self.contract.input("points_per_side").default), 1, 8)
        max_objects = int_in(inputs, "max_objects", int(self.contract.input("max_objects").default), 1, 64)
        height, width = rgb.shape[:2]
        # 2. SAM proposals for every grid point in one request (one image embedding)
        points = point_grid(grid, height, width)
        sam = self.call("sam", {"image": rgb, "input_points": points,
                                "input_labels": np.ones(points.shape[:2], np.int32)}, ["masks", "iou_scores"])
        proposals = best_proposals(sam["masks"], sam["iou_scores"], min_score)
        # 3. each proposal's crop classified over the labels and the rejection class
        candidates = labels + [BACKGROUND]
        found = []
        for _, mask in proposals:
            if is_cancelled():
                break
            x1, y1, x2, y2 = box_of(mask)
            probs = self.call("clip_classify", {"image": np.ascontiguousarray(rgb[y1:y2 + 1, x1:x2 + 1]),
                                                "labels": np.array([c.encode() for c in candidates], np.object_)},
                              ["probs"])["probs"]
            best = int(probs.argmax())
            if candidates[best] != BACKGROUND and probs[best] >= threshold:
                found.append((float(probs[best]), candidates[best], mask, (x1, y1, x2, y2)))
        found.sort(key=lambda item: -item[0])
        found = found[:max_objects]
        return {
            "labels": np.array([label.encode() for _, label, _, _ in found], dtype=np.object_),
            "scores": np.array([score for score, _, _, _ in found], dtype=np.float32),
            "masks": (np.stack([mask for _, _, mask, _ in found]) * 255).astype(np.uint8) if found
            else np.zeros((0, height, width), np.uint8),
            "boxes": np.array([box for _, _, _, box in found], dtype=np.float32).reshape(-1, 4),
        }

    def _fraction(self, inputs: Inputs, name: str) -> float:
        return PhotoWorkflow.fraction(inputs, name, float(self.contract.input(name).default))

"""product_finder: the objects of given classes in a photo, each with its label, CLIP probability and mask.

Stages: `sam_automatic` (Segment Anything's automatic masks, as transformers' pipeline("mask-generation"):
a point grid, masks kept when their predicted IoU is above `min_mask_score` and their stability score above
`stability_score_thresh`, overlaps removed by box NMS) -> each mask's box crop classified by `clip_classify`
over the labels plus "background" -> objects whose best label is not background and reaches `threshold`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from serving.contracts import MAX_FINDER_LABELS, OrchestratorContract
from serving.perception.inputs import parse_texts
from serving.pipelines.errors import InvalidInputError
from serving.pipelines.generation_inputs import image_value, reject_unexpected
from serving.stage_types import ComponentCaller, ProgressCallback
from serving.tensor_values import UNIT_RANGE, int_in, optional_float_in

log = logging.getLogger(__name__)

BACKGROUND = "background"
Inputs = dict


class Proposal(NamedTuple):
    mask: np.ndarray  # [H, W] bool
    box: tuple[int, int, int, int]  # x1, y1, x2, y2: the mask's first and last pixel column and row


class FoundObject(NamedTuple):
    score: float
    label: str
    proposal: Proposal


def proposals_of(masks: np.ndarray, boxes: np.ndarray) -> list[Proposal]:
    """sam_automatic's masks with their boxes, best score first. With no IoU or stability filter the pipeline
    keeps empty masks too (box 0, 0, 0, 0): they mark no object, so they are dropped."""
    return [Proposal(mask.astype(bool), tuple(int(v) for v in box)) for mask, box in zip(masks, boxes) if mask.any()]


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
        max_objects = int_in(inputs, "max_objects", int(self.contract.input("max_objects").default), 1, 64)
        # 2. SAM's automatic masks (checked here, so that errors name this workflow's inputs)
        proposals = self.propose(rgb, self._mask_generation_inputs(inputs))
        # 3. each proposal's crop classified over the labels and the rejection class
        found = []
        for proposal in proposals:
            if is_cancelled():
                break
            best = self.classify(rgb, proposal, labels)
            if best is not None and best.score >= threshold:
                found.append(best)
        found.sort(key=lambda item: -item.score)
        log.debug("product_finder: %d proposals, %d objects found", len(proposals), len(found))
        return self.outputs(found[:max_objects], rgb.shape[:2])

    def _mask_generation_inputs(self, inputs: Inputs) -> dict[str, np.ndarray]:
        """This workflow's inputs under sam_automatic's names; the NMS threshold stays sam_automatic's default."""
        points = int_in(inputs, "points_per_side", int(self.contract.input("points_per_side").default), 1, 8)
        return {"points_per_crop": np.array([points], np.int32),
                "pred_iou_thresh": np.array([self._fraction(inputs, "min_mask_score")], np.float32),
                "stability_score_thresh": np.array([self._fraction(inputs, "stability_score_thresh")], np.float32)}

    def propose(self, rgb: np.ndarray, options: dict[str, np.ndarray]) -> list[Proposal]:
        masks = self.call("sam_automatic", {"image": rgb, **options}, ["masks", "scores", "bounding_boxes"])
        return proposals_of(masks["masks"], masks["bounding_boxes"])

    def classify(self, rgb: np.ndarray, proposal: Proposal, labels: list[str]) -> FoundObject | None:
        """The proposal's box crop through clip_classify; None when "background" is its best label."""
        candidates = labels + [BACKGROUND]
        x1, y1, x2, y2 = proposal.box
        probs = self.call("clip_classify", {"image": np.ascontiguousarray(rgb[y1:y2 + 1, x1:x2 + 1]),
                                            "labels": np.array([c.encode() for c in candidates], np.object_)},
                          ["probs"])["probs"]
        best = int(probs.argmax())
        return None if candidates[best] == BACKGROUND else FoundObject(float(probs[best]), candidates[best], proposal)

    @staticmethod
    def outputs(found: list[FoundObject], size: tuple[int, int]) -> dict[str, np.ndarray]:
        masks = [item.proposal.mask for item in found]
        return {
            "labels": np.array([item.label.encode() for item in found], dtype=np.object_),
            "scores": np.array([item.score for item in found], dtype=np.float32),
            "masks": (np.stack(masks) * 255).astype(np.uint8) if masks else np.zeros((0, *size), np.uint8),
            "boxes": np.array([item.proposal.box for item in found], dtype=np.float32).reshape(-1, 4),
        }

    def _fraction(self, inputs: Inputs, name: str) -> float:
        return optional_float_in(inputs, name, float(self.contract.input(name).default), *UNIT_RANGE)

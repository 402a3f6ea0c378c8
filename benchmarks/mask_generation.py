"""transformers' pipeline("mask-generation") on this machine: the in-process reference of `sam_automatic`
(the parity test and the perception benchmark).

The pipeline's last step, SamImageProcessor.post_process_for_mask_generation, imports torchvision's
batched_nms, and there is no CPU torchvision for this torch. With torchvision installed the pipeline runs
as it is. Without it, `torchvision.ops.boxes` is stood in for, while the pipeline runs, by a line-by-line
transcription of torchvision's CPU kernel (torchvision/csrc/ops/cpu/nms_kernel.cpp and ops/boxes.py),
written apart from serving's vectorised box_nms so the parity test compares two implementations, and the
processor's own function is called past its torchvision check.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
import types
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np
import torch

STAND_IN = "torchvision.ops.boxes"


def torchvision_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """nms_kernel_impl, loop for loop, in the boxes' float type (compared with the threshold in double)."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    dtype = boxes.numpy().dtype.type
    x1, y1, x2, y2 = ([dtype(v) for v in boxes[:, k].tolist()] for k in range(4))
    areas = [(x2[i] - x1[i]) * (y2[i] - y1[i]) for i in range(len(x1))]
    order = scores.sort(0, descending=True)[1].tolist()
    suppressed = [False] * len(order)
    keep = []
    for _i, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[_i + 1:]:
            if suppressed[j]:
                continue
            w = max(dtype(0), min(x2[i], x2[j]) - max(x1[i], x1[j]))
            h = max(dtype(0), min(y2[i], y2[j]) - max(y1[i], y1[j]))
            inter = w * h
            with np.errstate(divide="ignore", invalid="ignore"):
                ovr = inter / (areas[i] + areas[j] - inter)
            if float(ovr) > iou_threshold:
                suppressed[j] = True
    return torch.tensor(keep, dtype=torch.int64)


def torchvision_batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor,
                            iou_threshold: float) -> torch.Tensor:
    """batched_nms: per-class NMS above 4000 coordinates on CPU, else the coordinate offset trick."""
    if boxes.numel() > 4000:
        keep_mask = torch.zeros_like(scores, dtype=torch.bool)
        for class_id in torch.unique(idxs):
            curr_indices = torch.where(idxs == class_id)[0]
            curr_keep_indices = torchvision_nms(boxes[curr_indices], scores[curr_indices], iou_threshold)
            keep_mask[curr_indices[curr_keep_indices]] = True
        keep_indices = torch.where(keep_mask)[0]
        return keep_indices[scores[keep_indices].sort(descending=True)[1]]
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    return torchvision_nms(boxes + offsets[:, None], scores, iou_threshold)


def has_torchvision() -> bool:
    return importlib.util.find_spec("torchvision") is not None


@contextmanager
def _nms_stand_in() -> Iterator[None]:
    if has_torchvision() or STAND_IN in sys.modules:
        yield
        return
    module = types.ModuleType(STAND_IN)
    module.batched_nms = torchvision_batched_nms
    sys.modules[STAND_IN] = module
    try:
        yield
    finally:
        sys.modules.pop(STAND_IN, None)


def mask_generation_pipeline(source: Any) -> Callable[..., dict[str, Any]]:
    """pipeline("mask-generation") on a PerceptionSource's SamModel and image processor; the returned call
    takes the image and the pipeline's keyword arguments and always asks for the bounding boxes."""
    from transformers import pipeline

    processor = copy.deepcopy(source.image_processor)  # the source's own processor stays as exported
    if not has_torchvision():
        module = sys.modules[type(processor).__module__]
        processor.post_process_for_mask_generation = module._post_process_for_mask_generation
    generator = pipeline("mask-generation", model=source.model, image_processor=processor)

    def generate(image: Any, **kwargs: Any) -> dict[str, Any]:
        with _nms_stand_in():
            return generator(image, output_bboxes_mask=True, **kwargs)

    return generate

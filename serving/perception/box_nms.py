"""torchvision.ops.batched_nms without torchvision.

SamImageProcessor's post_process_for_mask_generation removes overlapping masks with torchvision's
batched_nms, and there is no CPU torchvision for this torch (DESIGN.md section 5). This is the same
algorithm step for step, so the kept indices and their order are torchvision's: its CPU kernel (boxes
ordered by the same aten sort of the scores, areas and IoU in the boxes' dtype, a box suppressed when its
IoU with a kept one is above the threshold, compared in double) and both of batched_nms's paths (above
4000 coordinates on CPU, NMS per class and the kept indices re-sorted by score).
"""

from __future__ import annotations

import numpy as np
import torch

VANILLA_ABOVE = 4000  # torchvision switches to per-class NMS above this many box coordinates on CPU


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept, highest score first (torchvision.ops.nms on CPU)."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    order = scores.sort(0, descending=True)[1].numpy()
    # numpy float32 arithmetic is the kernel's scalar_t arithmetic, element for element.
    x1, y1, x2, y2 = (np.ascontiguousarray(column) for column in boxes.numpy().T)
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for position, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[position + 1:]
        rest = rest[~suppressed[rest]]
        width = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(min=0)
        height = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(min=0)
        inter = width * height
        with np.errstate(divide="ignore", invalid="ignore"):  # two empty boxes: 0/0 is NaN, never above
            iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest[iou.astype(np.float64) > iou_threshold]] = True
    return torch.as_tensor(np.array(keep, dtype=np.int64))


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each category of `idxs`; indices highest score first (torchvision.ops.batched_nms on CPU)."""
    if boxes.numel() > VANILLA_ABOVE:
        keep_mask = torch.zeros_like(scores, dtype=torch.bool)
        for class_id in torch.unique(idxs):
            current = torch.where(idxs == class_id)[0]
            keep_mask[current[nms(boxes[current], scores[current], iou_threshold)]] = True
        keep_indices = torch.where(keep_mask)[0]
        return keep_indices[scores[keep_indices].sort(descending=True)[1]]
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    # categories apart: each shifted beyond the largest coordinate, so boxes of two never overlap
    offsets = idxs.to(boxes) * (boxes.max() + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou_threshold)

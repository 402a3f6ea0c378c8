"""serving's box_nms keeps the boxes torchvision's batched_nms keeps, in its order: checked against the
loop-for-loop transcription of torchvision's CPU kernel that the mask-generation reference runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.mask_generation import torchvision_batched_nms
from serving.perception.box_nms import VANILLA_ABOVE, batched_nms


def random_boxes(count: int, seed: int, side: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer pixel boxes as SAM's masks give them (many equal or nearly equal, some empty), tied scores."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, side, size=(count, 2, 2))
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    boxes[rng.random(count) < 0.2] = [0, 0, side - 1, side - 1]  # the whole image, as noisy masks give
    boxes[rng.random(count) < 0.05] = 0  # an empty mask's box
    scores = rng.choice(np.linspace(0.5, 1.1, 7), size=count).astype(np.float32)  # ties between boxes
    return torch.from_numpy(boxes).float(), torch.from_numpy(scores)


CASES = [(count, threshold) for count in (0, 1, 40, 300) for threshold in (0.0, 0.5, 0.7, 0.99, 1.0)]
CASES.append((VANILLA_ABOVE // 4 + 10, 0.7))  # above 4000 coordinates: torchvision's per-class path


@pytest.mark.parametrize(("count", "threshold"), CASES)
def test_same_kept_indices_in_the_same_order(count, threshold):
    boxes, scores = random_boxes(count, seed=count)
    idxs = torch.zeros(count)
    expected = torchvision_batched_nms(boxes, scores, idxs, threshold)
    kept = batched_nms(boxes, scores, idxs, threshold)
    assert kept.dtype == torch.int64
    assert kept.tolist() == expected.tolist()
    if count >= 40 and 0.0 < threshold < 1.0:
        assert 1 < len(kept) < count  # the case suppresses something and keeps more than one


def test_categories_never_suppress_each_other():
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert torchvision_batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]

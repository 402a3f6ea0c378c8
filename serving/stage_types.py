"""Types every orchestrator's stages share: the component caller and progress reports.

Kept apart from the diffusion pipeline so that orchestrators which run no diffusion (translate, product_finder)
import neither torch nor diffusers, and the perception ones not diffusers: each Triton stub process pays its imports
at start (torch, diffusers and transformers: ~4 s of CPU on this 2-core machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np


class ComponentCaller(Protocol):
    """numpy in and out; a caller that serves CUDA pipelines also takes torch tensors and `on_gpu=True`, and then
    returns torch tensors (serving.bls.bls_call)."""

    def __call__(self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class StepProgress:
    step: int  # 1-based, completed steps
    total: int
    elapsed_s: float
    stage: str = "denoise"  # workflows report their other stages (mask, depth, ...) with the steps so far


ProgressCallback = Callable[[StepProgress], None]

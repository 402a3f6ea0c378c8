"""The runner of the generation orchestrators (txt2img, img2img, inpaint): contract inputs -> image and seed."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from serving.contracts import OrchestratorContract
from serving.pipelines.diffusion import DiffusionPipeline
from serving.pipelines.generation_inputs import GenerationParams, parse_generation_inputs
from serving.stage_types import ComponentCaller, ProgressCallback

Inputs = Mapping[str, "np.ndarray | None"]


def generation_outputs(images: np.ndarray, params: GenerationParams) -> dict[str, np.ndarray]:
    return {"image": images, "seed": np.array([params.seed], dtype=np.int64)}


class GenerationRunner:
    def __init__(self, assets: Path, call: ComponentCaller, contract: OrchestratorContract) -> None:
        self.pipeline = DiffusionPipeline(assets, call)
        self.contract = contract

    def parse(self, inputs: Inputs, contract: OrchestratorContract | None = None) -> GenerationParams:
        return parse_generation_inputs(inputs, contract or self.contract, self.pipeline.catalog,
                                       self.pipeline.settings_of)

    def __call__(self, inputs: Inputs, on_step: ProgressCallback | None = None,
                 is_cancelled: Callable[[], bool] = lambda: False) -> dict[str, np.ndarray]:
        params = self.parse(inputs)
        return generation_outputs(self.pipeline(params, on_step=on_step, is_cancelled=is_cancelled), params)

"""What every photo workflow does: check its inputs, fit the photo to the model, call the perception
orchestrators, run a conditioned generation through the shared diffusion pipeline, report its stages."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from serving.contracts import OrchestratorContract
from serving.pipelines.errors import InvalidInputError
from serving.pipelines.generation_inputs import (
    DEFAULT_STEPS,
    STEPS_RANGE,
    CONDITIONING_SCALE_RANGE,
    GenerationParams,
    image_value,
    reject_unexpected,
    size_multiple,
    text_value,
)
from serving.pipelines.generation_runner import GenerationRunner
from serving.pipeline_settings import PipelineSettings
from serving.stage_types import ComponentCaller, ProgressCallback, StepProgress
from serving.tensor_values import int_in, optional_float_in
from serving.workflows.photo import fit_size, resize

Inputs = Mapping[str, "np.ndarray | None"]
# The inputs a workflow passes through to the generation unchanged (checked there, errors name them).
GENERATION_FIELDS = ("prompt", "negative_prompt", "num_inference_steps", "guidance_scale", "seed", "scheduler",
                     "num_images", "model")
EDGE_RANGE = (0, 64)  # mask dilation and feather, pixels


class StageReporter:
    """Progress of one request: each stage as it starts, then the generation's denoising steps."""

    def __init__(self, on_step: ProgressCallback | None, total_steps: int) -> None:
        self.on_step = on_step
        self.total = total_steps
        self.started = time.perf_counter()

    def stage(self, name: str, step: int = 0) -> None:
        if self.on_step is not None:
            self.on_step(StepProgress(step, self.total, time.perf_counter() - self.started, name))

    def denoise(self, progress: StepProgress) -> None:
        if self.on_step is not None:
            self.on_step(StepProgress(progress.step, progress.total, time.perf_counter() - self.started))


class PhotoWorkflow:
    """Base of the workflows: the generation runner, the BLS caller and the input helpers."""

    def __init__(self, assets: Path, call: ComponentCaller, contract: OrchestratorContract) -> None:
        self.generation = GenerationRunner(assets, call, contract)
        self.call = call
        self.contract = contract

    # --- inputs -------------------------------------------------------------------------------

    def check_names(self, inputs: Inputs) -> None:
        reject_unexpected(inputs, self.contract)

    def settings(self, inputs: Inputs) -> PipelineSettings:
        catalog = self.generation.pipeline.catalog
        model = text_value(inputs, "model") or catalog.default
        settings_of = self.generation.pipeline.settings_of
        if model not in settings_of:
            raise InvalidInputError("model", f"unknown model variant {model!r}; available: {', '.join(catalog.variants)}")
        return settings_of[model]

    @staticmethod
    def photo(inputs: Inputs, channels: tuple[int, ...] = (3,)) -> np.ndarray:
        image = image_value(inputs, "image", channels)
        if image is None:
            raise InvalidInputError("image", "is required")
        return image

    @staticmethod
    def mask(inputs: Inputs, name: str, image: np.ndarray, required: bool) -> np.ndarray | None:
        mask = image_value(inputs, name, None)
        if mask is None and required:
            raise InvalidInputError(name, "is required")
        if mask is not None and mask.shape != image.shape[:2]:
            raise InvalidInputError(name, f"is {mask.shape[1]}x{mask.shape[0]} but image is "
                                          f"{image.shape[1]}x{image.shape[0]}; they must match")
        return mask

    @staticmethod
    def scale(inputs: Inputs, name: str) -> float:
        return optional_float_in(inputs, name, 1.0, *CONDITIONING_SCALE_RANGE)

    @staticmethod
    def pixels(inputs: Inputs, name: str, default: int) -> int:
        return int_in(inputs, name, default, *EDGE_RANGE)

    @staticmethod
    def steps(inputs: Inputs) -> int:
        return int_in(inputs, "num_inference_steps", DEFAULT_STEPS, *STEPS_RANGE)

    def target_size(self, inputs: Inputs, image: np.ndarray, settings: PipelineSettings) -> tuple[int, int]:
        """The output size: the photo's aspect ratio, longest side at most `max_side`, on the latent stride."""
        limit = min(settings.max_height, settings.max_width)
        max_side = int_in(inputs, "max_side", max(settings.default_height, settings.default_width), 1, limit)
        return fit_size(image.shape[0], image.shape[1], max_side, size_multiple(settings))

    # --- stages -------------------------------------------------------------------------------

    def perceive(self, model: str, image: np.ndarray, output: str) -> np.ndarray:
        return self.call(model, {"image": np.ascontiguousarray(image)}, [output])[output]

    def generate(self, contract: OrchestratorContract, inputs: Inputs, conditioned: dict[str, np.ndarray],
                 reporter: StageReporter, is_cancelled: Callable[[], bool]) -> tuple[np.ndarray, GenerationParams]:
        """The workflow's generation: its pass-through fields plus the conditions it built, checked by
        `contract` (img2img, inpaint, txt2img) and run by the shared diffusion pipeline."""
        request = {name: inputs.get(name) for name in GENERATION_FIELDS}
        params = self.generation.parse({**request, **conditioned}, contract)
        images = self.generation.pipeline(params, on_step=reporter.denoise, is_cancelled=is_cancelled)
        return images, params

    @staticmethod
    def fitted(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return resize(image, size)

"""The diffusers reference for served pipelines: same weights, seed, scheduler, steps and guidance.

The scheduler of each contract name is spelled out here with its diffusers class and overrides, the way a
diffusers user would write it, independently of serving.schedulers: a wrong class or a missing override in
the served mapping cannot pass by being used on both sides.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from export.sources import PipelineSource

REFERENCE_SCHEDULERS: dict[str, Callable[[dict[str, Any]], SchedulerMixin]] = {
    "ddim": lambda config: DDIMScheduler.from_config(config),
    "euler": lambda config: EulerDiscreteScheduler.from_config(config),
    "euler_ancestral": lambda config: EulerAncestralDiscreteScheduler.from_config(config),
    # DPM-Solver++(2M): the multistep solver in its "++" (data prediction) form, second order.
    "dpmpp_2m": lambda config: DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++",
                                                                       solver_order=2),
    # PLMS as Stable Diffusion runs it: no Runge-Kutta warm-up steps.
    "pndm": lambda config: PNDMScheduler.from_config(config, skip_prk_steps=True),
    "unipc": lambda config: UniPCMultistepScheduler.from_config(config),
}

# The parity matrix every component runtime is held to: each contract scheduler once, with sizes that are not
# square, negative prompts, guidance on and off, and several images per request.
PARITY_CASES = [
    # scheduler, height, width, negative prompt, guidance, num_images
    ("ddim", 128, 128, None, 7.5, 1),
    ("euler", 64, 96, "blurry, low quality", 7.5, 1),
    ("euler_ancestral", 128, 128, "watermark", 5.0, 1),
    ("dpmpp_2m", 64, 96, None, 7.5, 2),
    ("pndm", 128, 128, None, 7.5, 1),
    ("unipc", 64, 64, None, 1.0, 1),  # guidance <= 1: no CFG, the UNet sees batch n
]


def diffusers_txt2img(source: PipelineSource, prompt: str, *, seed: int, scheduler: str, num_inference_steps: int,
                      guidance_scale: float, height: int, width: int, negative_prompt: str | None = None,
                      num_images: int = 1) -> np.ndarray:
    """uint8 NHWC images from StableDiffusionPipeline, rounded as its PIL output would be."""
    pipeline = source.diffusers_pipeline(REFERENCE_SCHEDULERS[scheduler](source.scheduler_config))
    pipeline.set_progress_bar_config(disable=True)
    images = pipeline(
        prompt,
        negative_prompt=negative_prompt,
        num_inference_steps=num_inference_steps,
        guidance_scale=guidance_scale,
        height=height,
        width=width,
        num_images_per_prompt=num_images,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
    ).images
    return (images * 255).round().astype(np.uint8)


def max_pixel_difference(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape, (a.shape, b.shape)
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())

"""The diffusers reference for served pipelines: same weights, seed, scheduler, steps and guidance."""

from __future__ import annotations

import numpy as np
import torch

from export.sources import PipelineSource
from serving.schedulers import create_scheduler


def diffusers_txt2img(source: PipelineSource, prompt: str, *, seed: int, scheduler: str, num_inference_steps: int,
                      guidance_scale: float, height: int, width: int, negative_prompt: str | None = None,
                      num_images: int = 1) -> np.ndarray:
    """uint8 NHWC images from StableDiffusionPipeline, rounded as its PIL output would be."""
    pipeline = source.diffusers_pipeline(create_scheduler(scheduler, source.scheduler_config))
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

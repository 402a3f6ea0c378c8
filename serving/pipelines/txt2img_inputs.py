"""Parsing and validation of txt2img request inputs (the public contract of DESIGN section 3)."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from serving.pipeline_settings import PipelineSettings
from serving.pipelines.errors import InvalidInputError
from serving.schedulers import SCHEDULERS

STEPS_RANGE = (1, 150)
GUIDANCE_RANGE = (0.0, 30.0)
NUM_IMAGES_RANGE = (1, 8)
SEED_RANGE = (0, 2**63 - 1)
DEFAULT_STEPS = 30
DEFAULT_GUIDANCE = 7.5
DEFAULT_SCHEDULER = "ddim"
TXT2IMG_INPUTS = ("prompt", "negative_prompt", "num_inference_steps", "guidance_scale", "seed", "height", "width",
                  "scheduler", "num_images")


@dataclass(frozen=True)
class Txt2ImgParams:
    prompt: str
    negative_prompt: str
    num_inference_steps: int
    guidance_scale: float
    seed: int
    height: int
    width: int
    scheduler: str
    num_images: int

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self.guidance_scale > 1.0


def _single(inputs: Mapping[str, np.ndarray | None], name: str) -> object | None:
    value = inputs.get(name)
    if value is None:
        return None
    flat = np.asarray(value).reshape(-1)
    if flat.size != 1:
        raise InvalidInputError(name, f"expected exactly one value (dims [1]), got {flat.size}")
    item = flat[0]
    if isinstance(item, bytes):  # BYTES tensors arrive as numpy object arrays of bytes
        return item.decode("utf-8")
    return item.item() if isinstance(item, np.generic) else item


def _text(inputs: Mapping[str, np.ndarray | None], name: str) -> str | None:
    try:
        value = _single(inputs, name)
    except UnicodeDecodeError:
        raise InvalidInputError(name, "must be UTF-8 text") from None
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(name, "must be a string (BYTES)")
    return value


def _int_in(inputs: Mapping[str, np.ndarray | None], name: str, default: int, low: int, high: int) -> int:
    value = _single(inputs, name)
    if value is None:
        return default
    if isinstance(value, float) and not value.is_integer():
        raise InvalidInputError(name, f"must be an integer in [{low}, {high}]")
    value = int(value)
    if not low <= value <= high:
        raise InvalidInputError(name, f"{value} is outside the allowed range [{low}, {high}]")
    return value


def _size(inputs: Mapping[str, np.ndarray | None], name: str, default: int, maximum: int, multiple: int) -> int:
    value = _int_in(inputs, name, default, 1, 2**31 - 1)
    if value % multiple:
        raise InvalidInputError(name, f"{value} is not a multiple of {multiple} (the model's latent stride)")
    if value > maximum:
        raise InvalidInputError(name, f"{value} exceeds the configured maximum {maximum}; allowed: {multiple}..{maximum} in steps of {multiple}")
    return value


def size_multiple(settings: PipelineSettings) -> int:
    """Pixel sizes must be multiples of 8 and of VAE factor x UNet latent stride."""
    stride = settings.vae_scale_factor * settings.unet_latent_stride
    return math.lcm(8, stride)


def parse_txt2img_inputs(inputs: Mapping[str, np.ndarray | None], settings: PipelineSettings) -> Txt2ImgParams:
    prompt = _text(inputs, "prompt")
    if prompt is None:
        raise InvalidInputError("prompt", "is required")
    if not prompt.strip():
        raise InvalidInputError("prompt", "must be a non-empty string")
    guidance = _single(inputs, "guidance_scale")
    guidance = DEFAULT_GUIDANCE if guidance is None else float(guidance)
    if not math.isfinite(guidance) or not GUIDANCE_RANGE[0] <= guidance <= GUIDANCE_RANGE[1]:
        raise InvalidInputError("guidance_scale", f"{guidance} is not a finite number in [{GUIDANCE_RANGE[0]:g}, {GUIDANCE_RANGE[1]:g}]")
    scheduler = _text(inputs, "scheduler") or DEFAULT_SCHEDULER
    if scheduler not in SCHEDULERS:
        raise InvalidInputError("scheduler", f"unknown scheduler {scheduler!r}; allowed: {', '.join(SCHEDULERS)}")
    seed = _single(inputs, "seed")
    multiple = size_multiple(settings)
    return Txt2ImgParams(
        prompt=prompt,
        negative_prompt=_text(inputs, "negative_prompt") or "",
        num_inference_steps=_int_in(inputs, "num_inference_steps", DEFAULT_STEPS, *STEPS_RANGE),
        guidance_scale=guidance,
        seed=secrets.randbelow(2**31) if seed is None else _int_in(inputs, "seed", 0, *SEED_RANGE),
        height=_size(inputs, "height", settings.default_height, settings.max_height, multiple),
        width=_size(inputs, "width", settings.default_width, settings.max_width, multiple),
        scheduler=scheduler,
        num_images=_int_in(inputs, "num_images", 1, *NUM_IMAGES_RANGE),
    )

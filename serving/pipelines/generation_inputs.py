"""Parsing and validation of generation requests (txt2img, img2img, inpaint, ControlNet inputs).

Every rule here is the one `serving.contracts` documents; each error names the input it is about.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from serving.contracts import OrchestratorContract
from serving.pipeline_settings import PipelineSettings, VariantCatalog
from serving.pipelines.errors import InvalidInputError
from serving.tensor_values import UNIT_RANGE, float_in, int_in, optional_float_in, single_value
from serving.schedulers import SCHEDULERS

STEPS_RANGE = (1, 150)
GUIDANCE_RANGE = (0.0, 30.0)
NUM_IMAGES_RANGE = (1, 8)
SEED_RANGE = (0, 2**63 - 1)
CONDITIONING_SCALE_RANGE = (0.0, 5.0)
MAX_INPUT_SIDE = 4096  # input photos are resized to the requested size; larger ones are refused
DEFAULT_STEPS = 30
DEFAULT_GUIDANCE = 7.5
DEFAULT_SCHEDULER = "ddim"

Inputs = Mapping[str, "np.ndarray | None"]


@dataclass(frozen=True)
class ControlParams:
    """k ControlNets, each with its conditioning image, scale and guidance window (as MultiControlNet)."""

    kinds: tuple[str, ...]
    images: np.ndarray  # uint8 [k, H, W, 3]
    scales: tuple[float, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]


@dataclass(frozen=True)
class GenerationParams:
    prompt: str
    negative_prompt: str
    num_inference_steps: int
    guidance_scale: float
    seed: int
    height: int
    width: int
    scheduler: str
    num_images: int
    model: str = ""
    image: np.ndarray | None = None  # uint8 [H, W, 3]: img2img / inpaint source
    mask_image: np.ndarray | None = None  # uint8 [H, W]: inpaint mask, white repaints
    strength: float = 1.0
    control: ControlParams | None = None

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self.guidance_scale > 1.0

    @property
    def denoising_steps(self) -> int:
        """Steps left after strength, as diffusers' get_timesteps."""
        return min(int(self.num_inference_steps * self.strength), self.num_inference_steps)


def text_value(inputs: Inputs, name: str) -> str | None:
    try:
        value = single_value(inputs, name)
    except UnicodeDecodeError:
        raise InvalidInputError(name, "must be UTF-8 text") from None
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(name, "must be a string (BYTES)")
    return value


def size_multiple(settings: PipelineSettings) -> int:
    """Pixel sizes must be multiples of 8 and of VAE factor x UNet latent stride."""
    stride = settings.vae_scale_factor * settings.unet_latent_stride
    return math.lcm(8, stride)


def _check_size(name: str, value: int, maximum: int, multiple: int) -> int:
    if value % multiple:
        raise InvalidInputError(name, f"{value} is not a multiple of {multiple} (the model's latent stride)")
    if value > maximum:
        raise InvalidInputError(name, f"{value} exceeds the configured maximum {maximum}; allowed: "
                                      f"{multiple}..{maximum} in steps of {multiple}")
    return value


def image_value(inputs: Inputs, name: str, channels: int | tuple[int, ...] | None) -> np.ndarray | None:
    """An image tensor [H, W, C] (C in `channels`; [H, W] when channels is None) of uint8, non-empty and not huge."""
    value = inputs.get(name)
    if value is None:
        return None
    value = np.asarray(value)
    allowed = (channels,) if isinstance(channels, int) else channels
    shape_rule = (f"[H, W, {'|'.join(map(str, allowed))}] {'RGB or RGBA' if 4 in allowed else 'RGB'}" if channels
                  else "[H, W] single-channel")
    if value.dtype != np.uint8:
        raise InvalidInputError(name, f"must be uint8 {shape_rule}, got {value.dtype}")
    if value.ndim != (3 if channels else 2) or (channels and value.shape[-1] not in allowed):
        raise InvalidInputError(name, f"must be {shape_rule}, got shape {list(value.shape)}")
    if min(value.shape[:2]) == 0:
        raise InvalidInputError(name, f"is empty (shape {list(value.shape)})")
    if max(value.shape[:2]) > MAX_INPUT_SIDE:
        raise InvalidInputError(name, f"{value.shape[1]}x{value.shape[0]} exceeds the maximum side {MAX_INPUT_SIDE}")
    return value


def _sizes(inputs: Inputs, settings: PipelineSettings, reference: tuple[str, np.ndarray] | None) -> tuple[int, int]:
    """Requested height/width; absent ones come from the input image (rounded down to the stride) or the model."""
    multiple = size_multiple(settings)
    sizes = []
    for axis, maximum, native in (("height", settings.max_height, settings.default_height),
                                  ("width", settings.max_width, settings.default_width)):
        requested = int_in(inputs, axis, 0, 1, 2**31 - 1)
        if requested:
            sizes.append(_check_size(axis, requested, maximum, multiple))
            continue
        if reference is None:
            sizes.append(native)
            continue
        name, image = reference
        side = image.shape[0 if axis == "height" else 1]
        rounded = side // multiple * multiple
        if not multiple <= rounded <= maximum:
            raise InvalidInputError(name, f"its {axis} {side} rounds down to {rounded}, outside {multiple}..{maximum}; "
                                          f"give {axis} explicitly")
        sizes.append(rounded)
    return sizes[0], sizes[1]


def _floats(inputs: Inputs, name: str, k: int, default: float, low: float, high: float) -> tuple[float, ...]:
    value = inputs.get(name)
    if value is None:
        return (default,) * k
    flat = np.asarray(value).reshape(-1)
    if flat.size != k:
        raise InvalidInputError(name, f"has {flat.size} values; it needs one per ControlNet ({k})")
    return tuple(float_in(name, v, low, high) for v in flat)


def _control(inputs: Inputs, catalog: VariantCatalog, settings: PipelineSettings, model: str) -> ControlParams | None:
    images = inputs.get("control_image")
    kinds_value = inputs.get("controlnet")
    if images is None:
        if kinds_value is not None:
            raise InvalidInputError("control_image", "is required when controlnet is given")
        return None
    images = np.asarray(images)
    if images.ndim == 3:  # one control image sent as [H, W, 3]
        images = images[None]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise InvalidInputError("control_image", f"must be uint8 [k, H, W, 3], got {images.dtype} {list(images.shape)}")
    if min(images.shape[1:3]) == 0 or max(images.shape[1:3]) > MAX_INPUT_SIDE:
        raise InvalidInputError("control_image", f"size {images.shape[2]}x{images.shape[1]} is empty or above "
                                                 f"the maximum side {MAX_INPUT_SIDE}")
    if kinds_value is None:
        raise InvalidInputError("controlnet", "is required with control_image: which ControlNet for each image")
    try:
        kinds = tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.asarray(kinds_value).reshape(-1))
    except UnicodeDecodeError:
        raise InvalidInputError("controlnet", "must be UTF-8 text") from None
    k = len(kinds)
    if k != images.shape[0]:
        raise InvalidInputError("controlnet", f"names {k} ControlNets but control_image holds {images.shape[0]} images")
    for kind in kinds:
        if kind not in catalog.controlnets:
            available = ", ".join(sorted(catalog.controlnets)) or "none exported"
            raise InvalidInputError("controlnet", f"unknown ControlNet {kind!r}; available: {available}")
    if "unet_controlnet" not in settings.components:
        raise InvalidInputError("controlnet", f"model variant {model!r} was exported without ControlNet support "
                                              "(export it with --controlnet)")
    starts = _floats(inputs, "control_guidance_start", k, 0.0, 0.0, 1.0)
    ends = _floats(inputs, "control_guidance_end", k, 1.0, 0.0, 1.0)
    for start, end in zip(starts, ends):
        if start >= end:
            raise InvalidInputError("control_guidance_start", f"{start:g} must be below its control_guidance_end {end:g}")
    scales = _floats(inputs, "controlnet_conditioning_scale", k, 1.0, *CONDITIONING_SCALE_RANGE)
    return ControlParams(kinds, images, scales, starts, ends)


def reject_unexpected(inputs: Inputs, contract: OrchestratorContract) -> None:
    """An input the contract does not declare is an error naming it (Triton passes only declared ones, but
    in-process callers such as the workflows can send anything)."""
    unexpected = sorted(name for name, value in inputs.items() if value is not None and name not in contract.input_names)
    if unexpected:
        raise InvalidInputError(unexpected[0], f"is not an input of {contract.name}")


def parse_generation_inputs(inputs: Inputs, contract: OrchestratorContract, catalog: VariantCatalog,
                            settings_of: Mapping[str, PipelineSettings]) -> GenerationParams:
    """Checks a request against `contract`; `settings_of` maps each exported variant to its settings."""
    reject_unexpected(inputs, contract)
    prompt = text_value(inputs, "prompt")
    if prompt is None:
        raise InvalidInputError("prompt", "is required")
    if not prompt.strip():
        raise InvalidInputError("prompt", "must be a non-empty string")
    model = text_value(inputs, "model") or catalog.default
    if model not in settings_of:
        raise InvalidInputError("model", f"unknown model variant {model!r}; available: {', '.join(catalog.variants)}")
    settings = settings_of[model]
    guidance = optional_float_in(inputs, "guidance_scale", DEFAULT_GUIDANCE, *GUIDANCE_RANGE)
    scheduler = text_value(inputs, "scheduler") or DEFAULT_SCHEDULER
    if scheduler not in SCHEDULERS:
        raise InvalidInputError("scheduler", f"unknown scheduler {scheduler!r}; allowed: {', '.join(SCHEDULERS)}")
    seed = single_value(inputs, "seed")
    steps = int_in(inputs, "num_inference_steps", DEFAULT_STEPS, *STEPS_RANGE)

    image = mask = None
    if "image" in contract.input_names:
        image = image_value(inputs, "image", 3)
        if image is None:
            raise InvalidInputError("image", "is required")
    if "mask_image" in contract.input_names:
        mask = image_value(inputs, "mask_image", None)
        if mask is None:
            raise InvalidInputError("mask_image", "is required")
        if mask.shape != image.shape[:2]:
            raise InvalidInputError("mask_image", f"is {mask.shape[1]}x{mask.shape[0]} but image is "
                                                  f"{image.shape[1]}x{image.shape[0]}; they must match")
    strength = 1.0
    if "strength" in contract.input_names:
        strength = optional_float_in(inputs, "strength", float(contract.input("strength").default), *UNIT_RANGE)
        if min(int(steps * strength), steps) < 1:
            raise InvalidInputError("strength", f"{strength:g} x {steps} steps leaves no denoising step; raise "
                                                "strength or num_inference_steps")
    control = _control(inputs, catalog, settings, model)
    if settings.is_inpainting_unet and mask is None:
        raise InvalidInputError("model", f"variant {model!r} is an inpainting checkpoint; use it through inpaint")
    reference = ("image", image) if image is not None else (("control_image", control.images[0]) if control else None)
    height, width = _sizes(inputs, settings, reference)
    return GenerationParams(
        prompt=prompt,
        negative_prompt=text_value(inputs, "negative_prompt") or "",
        num_inference_steps=steps,
        guidance_scale=guidance,
        seed=secrets.randbelow(2**31) if seed is None else int_in(inputs, "seed", 0, *SEED_RANGE),
        height=height,
        width=width,
        scheduler=scheduler,
        num_images=int_in(inputs, "num_images", 1, *NUM_IMAGES_RANGE),
        model=model,
        image=image,
        mask_image=mask,
        strength=strength,
        control=control,
    )

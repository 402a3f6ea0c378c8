"""diffusers references for img2img, inpaint and ControlNet requests: same weights, seed, scheduler and inputs.

The scheduler classes are spelled out here, independently of serving.schedulers, so a wrong mapping
in the served code cannot pass by being used on both sides.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import (
    ControlNetModel,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    StableDiffusionControlNetImg2ImgPipeline,
    StableDiffusionControlNetInpaintPipeline,
    StableDiffusionControlNetPipeline,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
)
from diffusers.image_processor import VaeImageProcessor
from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel
from PIL import Image

from export.sources import PipelineSource

REFERENCE_SCHEDULERS = {
    "ddim": lambda config: DDIMScheduler.from_config(config),
    "euler": lambda config: EulerDiscreteScheduler.from_config(config),
    "euler_ancestral": lambda config: EulerAncestralDiscreteScheduler.from_config(config),
    "dpmpp_2m": lambda config: DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++",
                                                                       solver_order=2),
}


def reference_images(source: PipelineSource, prompt: str, *, scheduler: str, seed: int,
                     image: np.ndarray | None = None, mask_image: np.ndarray | None = None,
                     controlnets: list[ControlNetModel] | None = None, control_image: np.ndarray | None = None,
                     controlnet_conditioning_scale: list[float] | None = None,
                     control_guidance_start: list[float] | None = None,
                     control_guidance_end: list[float] | None = None,
                     num_images: int = 1, **options) -> np.ndarray:
    """uint8 NHWC from the diffusers pipeline matching the request's inputs."""
    components = dict(vae=source.vae, text_encoder=source.text_encoder, tokenizer=source.tokenizer, unet=source.unet,
                      scheduler=REFERENCE_SCHEDULERS[scheduler](source.scheduler_config), safety_checker=None,
                      feature_extractor=None, requires_safety_checker=False)
    kwargs = dict(options, num_images_per_prompt=num_images, output_type="np",
                  generator=torch.Generator("cpu").manual_seed(seed))
    if image is not None:
        kwargs["image"] = Image.fromarray(image, "RGB")
    if mask_image is not None:
        kwargs["mask_image"] = Image.fromarray(mask_image, "L")
    if controlnets:
        components["controlnet"] = controlnets[0] if len(controlnets) == 1 else MultiControlNetModel(controlnets)
        controls = [Image.fromarray(c, "RGB") for c in control_image]
        key = "control_image" if image is not None else "image"
        kwargs[key] = controls[0] if len(controls) == 1 else controls
        single = len(controlnets) == 1
        for name, values in (("controlnet_conditioning_scale", controlnet_conditioning_scale),
                             ("control_guidance_start", control_guidance_start),
                             ("control_guidance_end", control_guidance_end)):
            if values is not None:
                kwargs[name] = values[0] if single else list(values)
        cls = (StableDiffusionControlNetInpaintPipeline if mask_image is not None
               else StableDiffusionControlNetImg2ImgPipeline if image is not None
               else StableDiffusionControlNetPipeline)
    else:
        cls = (StableDiffusionInpaintPipeline if mask_image is not None
               else StableDiffusionImg2ImgPipeline if image is not None
               else StableDiffusionPipeline)
    if cls is StableDiffusionImg2ImgPipeline:
        # It takes no height/width: it keeps the image's size, so the image is resized beforehand exactly as
        # the image processor of the other pipelines resizes it.
        height, width = kwargs.pop("height", None), kwargs.pop("width", None)
        if height and width:
            kwargs["image"] = VaeImageProcessor().resize(kwargs["image"], height, width)
    pipeline = cls(**components)
    pipeline.set_progress_bar_config(disable=True)
    images = pipeline(prompt, **kwargs).images
    return (images * 255).round().astype(np.uint8)


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth synthetic RGB photo (gradients and a disc), so resizing and encoding see structure."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(seed)
    cy, cx, r = height * rng.uniform(0.3, 0.7), width * rng.uniform(0.3, 0.7), min(height, width) * 0.25
    disc = ((y - cy) ** 2 + (x - cx) ** 2 < r**2).astype(np.float32)
    channels = [x / width * 255, y / height * 255, disc * 200 + 30]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def box_mask(height: int, width: int) -> np.ndarray:
    """255 (repaint) in a centred box, 0 elsewhere."""
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 255
    return mask

"""Stable Diffusion generation as shared stages: txt2img, img2img and inpaint, each with optional ControlNets.

One pipeline runs every generation orchestrator; what differs between them is how the latents
start (noise, a noised encoded image, or an inpainting setup) and whether ControlNet residuals
join the UNet call. Each stage follows the matching diffusers pipeline line by line (same
tokenizer, image processors, seeded CPU generator and the order it is drawn from, scheduler
classes, guidance arithmetic, inpaint blending and post-processing), so the served image equals
the diffusers reference: StableDiffusion{,Img2Img,Inpaint}Pipeline and their ControlNet variants.
Every network is a Triton component called through `call`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np
import torch
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image
from transformers import CLIPTokenizer

from serving.pipeline_settings import PipelineSettings, VariantCatalog
from serving.pipelines.errors import RequestCancelled
from serving.pipelines.generation_inputs import DEFAULT_SCHEDULER, ControlParams, GenerationParams
from serving.schedulers import create_scheduler
from serving.stage_types import ComponentCaller, ProgressCallback, StepProgress

log = logging.getLogger(__name__)


def to_uint8_images(decoded: "np.ndarray | torch.Tensor") -> np.ndarray:
    """VAE output in [-1, 1], NCHW -> uint8 NHWC, exactly as diffusers' VaeImageProcessor.postprocess."""
    images = torch.as_tensor(decoded)
    images = (images / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).float().cpu().numpy()
    return (images * 255).round().astype(np.uint8)


_TOKENIZERS: dict[str, CLIPTokenizer] = {}  # by the digest of their files


def load_tokenizer(directory: Path) -> CLIPTokenizer:
    """One tokenizer per distinct set of files: variants of one base (a LoRA, an inpainting checkpoint) ship
    the same files, and each load costs ~0.7 s of CPU at every orchestrator's start."""
    files = sorted(path for path in directory.iterdir() if path.is_file())
    digest = hashlib.sha256(b"".join(path.name.encode() + b"\0" + path.read_bytes() for path in files)).hexdigest()
    if digest not in _TOKENIZERS:
        _TOKENIZERS[digest] = CLIPTokenizer.from_pretrained(directory)
    return _TOKENIZERS[digest]


@dataclass
class Variant:
    """One exported checkpoint: its settings (component names, sizes), tokenizer and scheduler config."""

    name: str
    settings: PipelineSettings
    tokenizer: CLIPTokenizer
    scheduler_config: dict
    image_processor: VaeImageProcessor
    mask_processor: VaeImageProcessor
    control_image_processor: VaeImageProcessor

    @classmethod
    def load(cls, name: str, directory: Path) -> "Variant":
        settings = PipelineSettings.read(directory)
        factor = settings.vae_scale_factor
        scheduler_config = json.loads((directory / "scheduler_config.json").read_text())
        # Built once at load: the default scheduler's module is imported here, not in a first request (which
        # would then start late and miss the step batching it could share with requests already running).
        create_scheduler(DEFAULT_SCHEDULER, scheduler_config)
        return cls(
            name=name,
            settings=settings,
            tokenizer=load_tokenizer(directory / "tokenizer"),
            scheduler_config=scheduler_config,
            # The processors of diffusers' pipelines (inpaint mask: grayscale, binarised, not normalised).
            image_processor=VaeImageProcessor(vae_scale_factor=factor, do_convert_rgb=True),
            mask_processor=VaeImageProcessor(vae_scale_factor=factor, do_normalize=False, do_binarize=True,
                                             do_convert_grayscale=True),
            control_image_processor=VaeImageProcessor(vae_scale_factor=factor, do_convert_rgb=True,
                                                      do_normalize=False),
        )

    def component(self, role: str) -> str:
        return self.settings.components.get(role, role)

    @property
    def device(self) -> torch.device:
        return torch.device(self.settings.device)


@dataclass
class Denoising:
    """Per-request state the stages share (diffusers keeps it in locals of __call__)."""

    params: GenerationParams
    variant: Variant
    scheduler: object
    generator: torch.Generator
    timesteps: torch.Tensor
    prompt_embeds: torch.Tensor
    step_kwargs: dict

    @property
    def device(self) -> torch.device:
        return self.variant.device


class LatentStart(Protocol):
    """How the latents start and what the loop adds for them (inpainting's mask channels and blending)."""

    def initial_latents(self, run: Denoising) -> torch.Tensor: ...

    def unet_sample(self, model_input: torch.Tensor) -> torch.Tensor: ...

    def after_step(self, run: Denoising, index: int, latents: torch.Tensor) -> torch.Tensor: ...


class DiffusionPipeline:
    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        assets = Path(assets)
        self.catalog = VariantCatalog.read(assets)
        if not self.catalog.variants:
            # Without a variant there is nothing to serve: fail the model load instead of every request.
            raise FileNotFoundError(f"no pipeline variants in {assets}; re-run `python -m export`")
        self.variants = {name: Variant.load(name, assets / name) for name in self.catalog.variants}
        self.call = call

    @property
    def settings_of(self) -> dict[str, PipelineSettings]:
        return {name: variant.settings for name, variant in self.variants.items()}

    def __call__(self, params: GenerationParams, on_step: ProgressCallback | None = None,
                 is_cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
        started = time.perf_counter()
        variant = self.variants[params.model]
        # 1. Inputs were checked by parse_generation_inputs.
        # 2. Encode the prompt (and the negative prompt for classifier-free guidance) in one call.
        prompt_embeds = self.encode_prompt(variant, params)
        # 3. ControlNet conditioning images, resized and repeated as the ControlNet pipelines do.
        control = (ControlNetGuidance(functools.partial(self.invoke, variant), params.control, variant, params,
                                      self.catalog.controlnets)
                   if params.control else None)
        # 4. Timesteps from a fresh scheduler (schedulers hold per-run state), shortened by strength.
        scheduler = create_scheduler(params.scheduler, variant.scheduler_config)
        timesteps = self.set_timesteps(scheduler, params, variant.device)
        generator = torch.Generator("cpu").manual_seed(params.seed)
        run = Denoising(params, variant, scheduler, generator, timesteps, prompt_embeds,
                        self.extra_step_kwargs(scheduler, generator))
        # 5. Initial latents: noise, a noised encoded image, or an inpainting setup.
        start = self.latent_start(params)
        latents = start.initial_latents(run)
        # 6. Denoise. The per-sample timestep input is built from a host copy (no device sync per step).
        total = len(timesteps)
        for i, (t, t_host) in enumerate(zip(timesteps, timesteps.cpu().tolist())):
            if is_cancelled():
                raise RequestCancelled(i, total)
            latents = self.denoise_step(run, start, control, i, t, latents, t_host)
            if on_step is not None:
                on_step(StepProgress(i + 1, total, time.perf_counter() - started))
        # 7. Decode.
        images = self.decode(variant, latents)
        log.info("%s %dx%d x%d, %d steps %s%s, seed %d: %.2f s", type(start).__name__, params.width, params.height,
                 params.num_images, total, params.scheduler,
                 f", controlnet {'+'.join(params.control.kinds)}" if params.control else "", params.seed,
                 time.perf_counter() - started)
        return images

    # --- stages -------------------------------------------------------------------------------

    def invoke(self, variant: Variant, model: str, inputs: Mapping[str, "np.ndarray | torch.Tensor"],
               outputs: Sequence[str]) -> dict[str, torch.Tensor]:
        """One component call with torch tensors, passed through DLPack (serving.bls): on the GPU they stay in device
        memory between the orchestrator and its components; on the CPU outputs come back as numpy views."""
        if variant.device.type == "cuda":
            return {name: value.to(variant.device) for name, value in
                    self.call(model, inputs, outputs, on_gpu=True).items()}
        return {name: torch.from_numpy(value) for name, value in self.call(model, inputs, outputs).items()}

    def encode_prompt(self, variant: Variant, params: GenerationParams) -> torch.Tensor:
        texts = [params.negative_prompt, params.prompt] if params.do_classifier_free_guidance else [params.prompt]
        input_ids = variant.tokenizer(
            texts, padding="max_length", max_length=variant.tokenizer.model_max_length, truncation=True,
            return_tensors="np",
        ).input_ids.astype(np.int64)
        hidden = self.invoke(variant, variant.component("text_encoder"), {"input_ids": input_ids},
                             ["last_hidden_state"])["last_hidden_state"]
        # [negative x n, prompt x n], the order diffusers concatenates for guidance.
        return hidden.repeat_interleave(params.num_images, dim=0)

    @staticmethod
    def set_timesteps(scheduler, params: GenerationParams, device: torch.device | str = "cpu") -> torch.Tensor:
        """diffusers' set_timesteps + get_timesteps: strength < 1 skips the first steps."""
        scheduler.set_timesteps(params.num_inference_steps, device=device)
        if params.image is None:
            return scheduler.timesteps
        t_start = max(params.num_inference_steps - params.denoising_steps, 0)
        timesteps = scheduler.timesteps[t_start * scheduler.order:]
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(t_start * scheduler.order)
        return timesteps

    def latent_start(self, params: GenerationParams) -> LatentStart:
        if params.mask_image is not None:
            return InpaintStart(self)
        if params.image is not None:
            return ImageStart(self)
        return NoiseStart(self)

    @staticmethod
    def extra_step_kwargs(scheduler, generator: torch.Generator) -> dict:
        accepted = set(inspect.signature(scheduler.step).parameters)
        kwargs = {}
        if "eta" in accepted:
            kwargs["eta"] = 0.0
        if "generator" in accepted:
            kwargs["generator"] = generator
        return kwargs

    def denoise_step(self, run: Denoising, start: LatentStart, control: "ControlNetGuidance | None", index: int,
                     t: torch.Tensor, latents: torch.Tensor, t_host: float) -> torch.Tensor:
        params, scheduler = run.params, run.scheduler
        cfg = params.do_classifier_free_guidance
        model_input = torch.cat([latents] * 2) if cfg else latents
        model_input = scheduler.scale_model_input(model_input, t)
        # One request of batch 2n (the CFG pair); the per-sample timestep lets Triton batch across requests.
        timestep = np.full((model_input.shape[0], 1), t_host, dtype=np.float32)
        inputs = {"sample": start.unet_sample(model_input), "timestep": timestep,
                  "encoder_hidden_states": run.prompt_embeds}
        unet = run.variant.component("unet")
        if control is not None:
            inputs.update(control.residuals(index, len(run.timesteps), model_input, timestep, run.prompt_embeds))
            unet = run.variant.component("unet_controlnet")
        noise_pred = self.invoke(run.variant, unet, inputs, ["noise_pred"])["noise_pred"]
        if cfg:
            noise_uncond, noise_text = noise_pred.chunk(2)
            noise_pred = noise_uncond + params.guidance_scale * (noise_text - noise_uncond)
        latents = scheduler.step(noise_pred, t, latents, **run.step_kwargs, return_dict=False)[0]
        return start.after_step(run, index, latents)

    def decode(self, variant: Variant, latents: torch.Tensor) -> np.ndarray:
        scaled = latents / variant.settings.vae_scaling_factor
        decoded = self.invoke(variant, variant.component("vae_decoder"), {"latent_sample": scaled}, ["sample"])["sample"]
        return to_uint8_images(decoded)

    # --- helpers the latent starts share --------------------------------------------------------

    def noise(self, run: Denoising) -> torch.Tensor:
        settings, params = run.variant.settings, run.params
        factor = settings.vae_scale_factor
        shape = (params.num_images, settings.latent_channels, params.height // factor, params.width // factor)
        # Drawn on the CPU from the request's CPU generator, as diffusers' randn_tensor does for a CPU generator.
        return torch.randn(shape, generator=run.generator, dtype=torch.float32).to(run.device)

    def encode_image(self, run: Denoising, pixels: torch.Tensor) -> torch.Tensor:
        """vae_encoder, then a sample of the latent distribution from the request's generator, scaled."""
        parameters = self.invoke(run.variant, run.variant.component("vae_encoder"), {"sample": pixels},
                                 ["latent_parameters"])["latent_parameters"]
        latents = sample_latent_distribution(parameters, run.generator)
        return run.variant.settings.vae_scaling_factor * latents

    @staticmethod
    def preprocess_image(run: Denoising) -> torch.Tensor:
        """The init image as diffusers' image processor prepares it: resized, in [-1, 1], NCHW."""
        params = run.params
        return run.variant.image_processor.preprocess(
            Image.fromarray(params.image, "RGB"), height=params.height, width=params.width).to(run.device, torch.float32)


def sample_latent_distribution(parameters: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A sample of the VAE encoder's diagonal Gaussian, exactly as diffusers' `DiagonalGaussianDistribution.sample`.

    Importing that class loads all of diffusers.models: ~3.5 s of CPU and ~115 MB in every orchestrator process
    at server start. A test holds this equal to diffusers' class.
    """
    mean, logvar = torch.chunk(parameters, 2, dim=1)
    std = torch.exp(0.5 * torch.clamp(logvar, -30.0, 20.0))
    return mean + std * randn_tensor(mean.shape, generator=generator, device=parameters.device, dtype=parameters.dtype)


class NoiseStart:
    """txt2img: latents are seeded noise scaled by the scheduler's initial sigma."""

    def __init__(self, pipeline: DiffusionPipeline) -> None:
        self.pipeline = pipeline

    def initial_latents(self, run: Denoising) -> torch.Tensor:
        return self.pipeline.noise(run) * run.scheduler.init_noise_sigma

    def unet_sample(self, model_input: torch.Tensor) -> torch.Tensor:
        return model_input

    def after_step(self, run: Denoising, index: int, latents: torch.Tensor) -> torch.Tensor:
        return latents


class ImageStart(NoiseStart):
    """img2img: the encoded image, noised to the first kept timestep (StableDiffusionImg2ImgPipeline.prepare_latents)."""

    def initial_latents(self, run: Denoising) -> torch.Tensor:
        image_latents = self.pipeline.encode_image(run, self.pipeline.preprocess_image(run))
        image_latents = torch.cat([image_latents] * run.params.num_images)
        noise = torch.randn(image_latents.shape, generator=run.generator, dtype=torch.float32).to(run.device)
        latent_timestep = run.timesteps[:1].repeat(run.params.num_images)
        return run.scheduler.add_noise(image_latents, noise, latent_timestep)


class InpaintStart:
    """StableDiffusionInpaintPipeline: 9-channel UNets see mask and masked-image latents as extra channels;
    4-channel UNets keep the unmasked area by blending the noised image latents back after every step."""

    def __init__(self, pipeline: DiffusionPipeline) -> None:
        self.pipeline = pipeline

    def initial_latents(self, run: Denoising) -> torch.Tensor:
        pipeline, params, settings = self.pipeline, run.params, run.variant.settings
        init_image = pipeline.preprocess_image(run)
        n = params.num_images
        self.blend = not settings.is_inpainting_unet
        strength_is_max = params.strength == 1.0
        # prepare_latents: the image is encoded first when its latents are needed (the draw order matters).
        image_latents = None
        if self.blend or not strength_is_max:
            image_latents = pipeline.encode_image(run, init_image)
            image_latents = image_latents.repeat(n // image_latents.shape[0], 1, 1, 1)
        self.noise = pipeline.noise(run)
        if strength_is_max:
            latents = self.noise * run.scheduler.init_noise_sigma
        else:
            latents = run.scheduler.add_noise(image_latents, self.noise, run.timesteps[:1].repeat(n))
        self.image_latents = image_latents
        # prepare_mask_latents: the mask at latent size, and the masked image's latents (always encoded).
        mask = run.variant.mask_processor.preprocess(
            Image.fromarray(params.mask_image, "L"), height=params.height, width=params.width).to(run.device)
        masked_image = init_image * (mask < 0.5)
        factor = settings.vae_scale_factor
        mask = torch.nn.functional.interpolate(mask, size=(params.height // factor, params.width // factor))
        masked_image_latents = pipeline.encode_image(run, masked_image)
        mask = mask.repeat(n // mask.shape[0], 1, 1, 1)
        masked_image_latents = masked_image_latents.repeat(n // masked_image_latents.shape[0], 1, 1, 1)
        self.mask = mask  # one per image (the blend uses the conditional half)
        cfg = params.do_classifier_free_guidance
        self.mask_input = torch.cat([mask] * 2) if cfg else mask
        self.masked_image_input = torch.cat([masked_image_latents] * 2) if cfg else masked_image_latents
        return latents

    def unet_sample(self, model_input: torch.Tensor) -> torch.Tensor:
        if self.blend:
            return model_input
        return torch.cat([model_input, self.mask_input, self.masked_image_input], dim=1)

    def after_step(self, run: Denoising, index: int, latents: torch.Tensor) -> torch.Tensor:
        if not self.blend:
            return latents
        init_latents_proper = self.image_latents
        if index < len(run.timesteps) - 1:
            noise_timestep = run.timesteps[index + 1]
            init_latents_proper = run.scheduler.add_noise(init_latents_proper, self.noise, noise_timestep.reshape(1))
        return (1 - self.mask) * init_latents_proper + self.mask * latents


class ControlNetGuidance:
    """ControlNet residuals for the UNet: one component call per active ControlNet, summed (MultiControlNet)."""

    def __init__(self, call: Callable[[str, Mapping, Sequence[str]], dict[str, torch.Tensor]], control: ControlParams,
                 variant: Variant, params: GenerationParams, controlnets: Mapping[str, str]) -> None:
        self.call = call
        self.control = control
        self.models = [controlnets[kind] for kind in control.kinds]
        self.output_names = list(variant.settings.controlnet_residuals)
        cfg = params.do_classifier_free_guidance
        self.images = []
        for image in control.images:
            # prepare_control_image: resized to the output size, in [0, 1], repeated per image and CFG half.
            pixels = variant.control_image_processor.preprocess(
                Image.fromarray(image, "RGB"), height=params.height, width=params.width).to(variant.device, torch.float32)
            pixels = pixels.repeat_interleave(params.num_images, dim=0)
            self.images.append(torch.cat([pixels] * 2) if cfg else pixels)

    def keep(self, index: int, total: int) -> list[float]:
        """1 inside each ControlNet's [start, end] window of the steps, 0 outside (diffusers' controlnet_keep)."""
        return [1.0 - float(index / total < s or (index + 1) / total > e)
                for s, e in zip(self.control.starts, self.control.ends)]

    def residuals(self, index: int, total: int, model_input: torch.Tensor, timestep: np.ndarray,
                  prompt_embeds: torch.Tensor) -> dict[str, torch.Tensor]:
        summed: dict[str, torch.Tensor] | None = None
        batch = model_input.shape[0]
        for model, image, scale, keep in zip(self.models, self.images, self.control.scales, self.keep(index, total)):
            conditioning_scale = np.full((batch, 1), scale * keep, dtype=np.float32)
            outputs = self.call(model, {"sample": model_input, "timestep": timestep,
                                        "encoder_hidden_states": prompt_embeds, "controlnet_cond": image,
                                        "conditioning_scale": conditioning_scale}, self.output_names)
            summed = outputs if summed is None else {name: summed[name] + outputs[name] for name in summed}
        return summed

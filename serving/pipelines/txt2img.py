"""Text-to-image: the stages of diffusers' StableDiffusionPipeline.__call__, with each network a Triton component.

Numerics follow diffusers step by step (same tokenizer, seeded torch generator, scheduler classes,
guidance arithmetic and post-processing), so the served image equals the diffusers reference.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np
import torch
from transformers import CLIPTokenizer

from serving.pipeline_settings import PipelineSettings
from serving.pipelines.errors import RequestCancelled
from serving.pipelines.txt2img_inputs import Txt2ImgParams
from serving.schedulers import create_scheduler

log = logging.getLogger(__name__)


class ComponentCaller(Protocol):
    def __call__(self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class StepProgress:
    step: int  # 1-based, completed steps
    total: int
    elapsed_s: float


ProgressCallback = Callable[[StepProgress], None]


def to_uint8_images(decoded: np.ndarray) -> np.ndarray:
    """VAE output in [-1, 1], NCHW -> uint8 NHWC, exactly as diffusers' VaeImageProcessor.postprocess."""
    images = torch.from_numpy(decoded)
    images = (images / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).float().numpy()
    return (images * 255).round().astype(np.uint8)


class Txt2ImgPipeline:
    def __init__(self, assets: Path, call: ComponentCaller, text_encoder: str = "text_encoder",
                 unet: str = "unet", vae_decoder: str = "vae_decoder") -> None:
        assets = Path(assets)
        self.settings = PipelineSettings.read(assets)
        self.tokenizer = CLIPTokenizer.from_pretrained(assets / "tokenizer")
        self.scheduler_config = json.loads((assets / "scheduler_config.json").read_text())
        self.call = call
        self.models = {"text_encoder": text_encoder, "unet": unet, "vae_decoder": vae_decoder}

    def __call__(self, params: Txt2ImgParams, on_step: ProgressCallback | None = None,
                 is_cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
        started = time.perf_counter()
        # 1. Inputs were checked by parse_txt2img_inputs.
        # 2. Encode the prompt (and the negative prompt for classifier-free guidance) in one call.
        prompt_embeds = self.encode_prompt(params)
        # 3. Timesteps from a fresh scheduler (schedulers hold per-run state).
        scheduler = create_scheduler(params.scheduler, self.scheduler_config)
        scheduler.set_timesteps(params.num_inference_steps, device="cpu")
        # 4. Initial latents from the seed, as diffusers' randn_tensor on a CPU generator.
        generator = torch.Generator("cpu").manual_seed(params.seed)
        latents = self.prepare_latents(params, generator) * scheduler.init_noise_sigma
        # 5. Denoise.
        step_kwargs = self.extra_step_kwargs(scheduler, generator)
        total = len(scheduler.timesteps)
        for i, t in enumerate(scheduler.timesteps):
            if is_cancelled():
                raise RequestCancelled(i, total)
            latents = self.denoise_step(scheduler, latents, t, prompt_embeds, params, step_kwargs)
            if on_step is not None:
                on_step(StepProgress(i + 1, total, time.perf_counter() - started))
        # 6. Decode.
        images = self.decode(latents)
        log.info("txt2img %dx%d x%d, %d steps %s, seed %d: %.2f s", params.width, params.height,
                 params.num_images, total, params.scheduler, params.seed, time.perf_counter() - started)
        return images

    def encode_prompt(self, params: Txt2ImgParams) -> np.ndarray:
        texts = [params.negative_prompt, params.prompt] if params.do_classifier_free_guidance else [params.prompt]
        input_ids = self.tokenizer(
            texts, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True,
            return_tensors="np",
        ).input_ids.astype(np.int64)
        hidden = self.call(self.models["text_encoder"], {"input_ids": input_ids}, ["last_hidden_state"])["last_hidden_state"]
        # [negative x n, prompt x n], the order diffusers concatenates for guidance.
        return np.repeat(hidden, params.num_images, axis=0)

    def prepare_latents(self, params: Txt2ImgParams, generator: torch.Generator) -> torch.Tensor:
        factor = self.settings.vae_scale_factor
        shape = (params.num_images, self.settings.latent_channels, params.height // factor, params.width // factor)
        return torch.randn(shape, generator=generator, dtype=torch.float32)

    @staticmethod
    def extra_step_kwargs(scheduler, generator: torch.Generator) -> dict:
        accepted = set(inspect.signature(scheduler.step).parameters)
        kwargs = {}
        if "eta" in accepted:
            kwargs["eta"] = 0.0
        if "generator" in accepted:
            kwargs["generator"] = generator
        return kwargs

    def denoise_step(self, scheduler, latents: torch.Tensor, t: torch.Tensor, prompt_embeds: np.ndarray,
                     params: Txt2ImgParams, step_kwargs: dict) -> torch.Tensor:
        cfg = params.do_classifier_free_guidance
        model_input = torch.cat([latents] * 2) if cfg else latents
        model_input = scheduler.scale_model_input(model_input, t)
        # One request of batch 2n (the CFG pair); the per-sample timestep lets Triton batch across requests.
        timestep = np.full((model_input.shape[0], 1), float(t), dtype=np.float32)
        noise_pred = torch.from_numpy(self.call(
            self.models["unet"],
            {"sample": model_input.numpy(), "timestep": timestep, "encoder_hidden_states": prompt_embeds},
            ["noise_pred"],
        )["noise_pred"])
        if cfg:
            noise_uncond, noise_text = noise_pred.chunk(2)
            noise_pred = noise_uncond + params.guidance_scale * (noise_text - noise_uncond)
        return scheduler.step(noise_pred, t, latents, **step_kwargs, return_dict=False)[0]

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        scaled = (latents / self.settings.vae_scaling_factor).numpy()
        decoded = self.call(self.models["vae_decoder"], {"latent_sample": scaled}, ["sample"])["sample"]
        return to_uint8_images(decoded)

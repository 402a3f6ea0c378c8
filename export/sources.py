"""Where a pipeline's weights come from: a random-weight preset or `from_pretrained` (hub id or local dir).

Presets use the real diffusers/transformers classes with a fixed seed, so the same preset always
builds the same weights (tests rebuild them to get the reference pipeline).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from diffusers import AutoencoderKL, ControlNetModel, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from export.tokenizer import CLIP_MAX_LENGTH, offline_clip_tokenizer

log = logging.getLogger(__name__)

# Stable Diffusion 1.x noise schedule (what every SD1.5 scheduler_config.json holds).
SD_SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}


@dataclass
class PipelineSource:
    """The torch modules and configs of one Stable Diffusion style pipeline."""

    name: str
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    scheduler_config: dict[str, Any]
    # ControlNets by kind ("depth", "seg"...), exported as controlnet_<kind> and shared by all variants
    controlnets: dict[str, ControlNetModel] = field(default_factory=dict)

    def module(self, attribute: str) -> torch.nn.Module:
        return getattr(self, attribute)

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def unet_latent_stride(self) -> int:
        """Latent sizes must be multiples of this (one halving per UNet downsampler)."""
        return 2 ** (len(self.unet.config.block_out_channels) - 1)

    def diffusers_pipeline(self, scheduler: SchedulerMixin | None = None) -> StableDiffusionPipeline:
        """The reference pipeline on these exact weights."""
        return StableDiffusionPipeline(
            vae=self.vae,
            text_encoder=self.text_encoder,
            tokenizer=self.tokenizer,
            unet=self.unet,
            scheduler=scheduler or DDIMScheduler.from_config(self.scheduler_config),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )

    def save_pretrained(self, directory: Path) -> None:
        self.diffusers_pipeline().save_pretrained(directory)


def _seeded(builder: Callable[[], torch.nn.Module], seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return builder().eval()


def _clip_text_config(**overrides: Any) -> CLIPTextConfig:
    tokenizer_ids = {"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407}
    return CLIPTextConfig(vocab_size=49408, max_position_embeddings=CLIP_MAX_LENGTH, **tokenizer_ids, **overrides)


def _tiny_unet(in_channels: int = 4) -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=16,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )


def _sd15_unet(in_channels: int = 4) -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=64,
        in_channels=in_channels,
        cross_attention_dim=768,
        attention_head_dim=8,
        block_out_channels=(320, 640, 1280, 1280),
        layers_per_block=2,
    )


def tiny_source(seed: int = 0, unet_in_channels: int = 4) -> PipelineSource:
    """Random weights, real architectures, small sizes: fast on CPU, for tests and the demo.

    `unet_in_channels=9` gives an inpainting checkpoint (latents + mask + masked-image latents).
    """
    text_encoder = _seeded(lambda: CLIPTextModel(_clip_text_config(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, projection_dim=32,
    )), seed)
    unet = _seeded(lambda: _tiny_unet(unet_in_channels), seed + 1 + 10 * (unet_in_channels != 4))
    vae = _seeded(lambda: AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(32, 32, 64, 64),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=128,
    ), seed + 2)
    name = "tiny" if unet_in_channels == 4 else "tiny-inpaint"
    return PipelineSource(name, text_encoder, offline_clip_tokenizer(), unet, vae, dict(SD_SCHEDULER_CONFIG))


def sd15_source(seed: int = 0, unet_in_channels: int = 4) -> PipelineSource:
    """The full Stable Diffusion 1.5 architecture with random weights (no download), for benchmarks."""
    text_encoder = _seeded(lambda: CLIPTextModel(_clip_text_config(
        hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
        projection_dim=768, hidden_act="quick_gelu",
    )), seed)
    unet = _seeded(lambda: _sd15_unet(unet_in_channels), seed + 1 + 10 * (unet_in_channels != 4))
    vae = _seeded(lambda: AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    ), seed + 2)
    name = "sd15" if unet_in_channels == 4 else "sd15-inpaint"
    return PipelineSource(name, text_encoder, offline_clip_tokenizer(), unet, vae, dict(SD_SCHEDULER_CONFIG))


# Unet architectures of the presets, for building their ControlNets.
PRESET_UNETS: dict[str, Callable[[], UNet2DConditionModel]] = {"tiny": _tiny_unet, "sd15": _sd15_unet}
CONTROLNET_SEEDS = {"depth": 100, "seg": 101, "canny": 102}


def preset_controlnet(preset: str, kind: str) -> ControlNetModel:
    """A random-weight ControlNet of the preset's architecture (from a 4-channel UNet, as real ones are).

    A fresh ControlNet's output convolutions are zero-initialised, so it would change nothing and a
    test of it would prove nothing: they are re-initialised at random here.
    """
    architecture = preset.removesuffix("-inpaint")
    seed = CONTROLNET_SEEDS.get(kind, 100 + sum(map(ord, kind)))
    torch.manual_seed(seed)
    controlnet = ControlNetModel.from_unet(PRESET_UNETS[architecture]())
    zero_convs = [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block,
                  controlnet.controlnet_cond_embedding.conv_out]
    for conv in zero_convs:
        conv.reset_parameters()
    return controlnet.eval()


def pretrained_controlnet(path_or_id: str) -> ControlNetModel:
    log.info("loading ControlNet weights from %s", path_or_id)
    return ControlNetModel.from_pretrained(path_or_id).eval()


PRESETS: dict[str, Callable[[], PipelineSource]] = {
    "tiny": tiny_source,
    "sd15": sd15_source,
    "tiny-inpaint": lambda: tiny_source(unet_in_channels=9),
    "sd15-inpaint": lambda: sd15_source(unet_in_channels=9),
}


def pretrained_source(path_or_id: str) -> PipelineSource:
    """A diffusers Stable Diffusion checkpoint: a Hugging Face id or a directory from `save_pretrained`."""
    log.info("loading pipeline weights from %s", path_or_id)
    pipeline = StableDiffusionPipeline.from_pretrained(path_or_id, safety_checker=None, requires_safety_checker=False)
    return PipelineSource(
        name=Path(path_or_id).name or str(path_or_id),
        text_encoder=pipeline.text_encoder.eval(),
        tokenizer=pipeline.tokenizer,
        unet=pipeline.unet.eval(),
        vae=pipeline.vae.eval(),
        scheduler_config=dict(pipeline.scheduler.config),
    )


def load_source(preset: str | None = None, model: str | None = None) -> PipelineSource:
    if (preset is None) == (model is None):
        raise ValueError("give exactly one of a preset or a model id/path")
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[preset]()
    return pretrained_source(model)

"""A ControlNet (diffusers ControlNetModel): latents + conditioning image -> the UNet's residuals.

Served as one Triton model per ControlNet kind (`controlnet_depth`, `controlnet_seg`...). Its
outputs carry the names of `unet_controlnet`'s residual inputs, so they pass straight through.
Timestep and conditioning scale are per-sample inputs, so steps of different requests (and
different scales or guidance windows) batch together in one execution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import ControlNetModel

from export.descriptors.base import ComponentDescriptor, TensorSpec
from export.descriptors.unet import controlnet_residual_specs, uniform_layers_per_block


class _ControlNetForExport(torch.nn.Module):
    def __init__(self, controlnet: ControlNetModel) -> None:
        super().__init__()
        self.controlnet = controlnet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                controlnet_cond: torch.Tensor, conditioning_scale: torch.Tensor) -> tuple[torch.Tensor, ...]:
        down, mid = self.controlnet(
            sample, timestep.reshape(-1), encoder_hidden_states, controlnet_cond=controlnet_cond,
            conditioning_scale=1.0, guess_mode=False, return_dict=False,
        )
        # diffusers scales every residual by one scalar; here each sample carries its own.
        scale = conditioning_scale.reshape(-1, 1, 1, 1)
        return tuple(residual * scale for residual in down) + (mid * scale,)


class ControlNetDescriptor(ComponentDescriptor):
    name = "controlnet"
    source_attribute = "controlnet"
    atol = 1e-3

    def __init__(self, in_channels: int, cross_attention_dim: int, sequence_length: int, sample_size: int,
                 block_out_channels: tuple[int, ...], layers_per_block: int, conditioning_factor: int,
                 conditioning_channels: int) -> None:
        self.in_channels = in_channels
        self.cross_attention_dim = cross_attention_dim
        self.sequence_length = sequence_length
        self.sample_size = sample_size
        self.block_out_channels = tuple(block_out_channels)
        self.layers_per_block = layers_per_block
        # The conditioning embedding downsamples the image to latent size (the VAE factor, 8 for SD).
        self.conditioning_factor = conditioning_factor
        self.conditioning_channels = conditioning_channels

    @classmethod
    def from_module(cls, module: torch.nn.Module, sequence_length: int = 77,
                    sample_size: int | None = None) -> "ControlNetDescriptor":
        config = module.config
        layers = uniform_layers_per_block(config)
        factor = 2 ** (len(config.conditioning_embedding_out_channels) - 1)
        # ControlNet configs carry no sample size: the pipeline's UNet's (hints_from), else SD's 64.
        sample_size = sample_size or 64
        return cls(config.in_channels, config.cross_attention_dim, sequence_length, sample_size,
                   tuple(config.block_out_channels), layers, factor, config.conditioning_channels)

    @classmethod
    def hints_from(cls, source) -> dict:
        return {"sample_size": source.unet.config.sample_size}

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        return ControlNetModel.from_pretrained(directory).eval()

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        f = self.conditioning_factor
        return (
            TensorSpec("sample", "float32", (self.in_channels, f"height/{f}", f"width/{f}")),
            TensorSpec("timestep", "float32", (1,)),
            TensorSpec("encoder_hidden_states", "float32", (self.sequence_length, self.cross_attention_dim)),
            TensorSpec("controlnet_cond", "float32", (self.conditioning_channels, "height", "width")),
            TensorSpec("conditioning_scale", "float32", (1,)),
        )

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return controlnet_residual_specs(self.block_out_channels, self.layers_per_block,
                                         divisor=self.conditioning_factor)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _ControlNetForExport(module)

    def default_sizes(self) -> dict[str, int]:
        """Pixel sizes: the conditioning image is full resolution; latents are 1/factor of it."""
        native = self.sample_size * self.conditioning_factor
        return {"height": native, "width": native}

    def sizes_for_image(self, height: int, width: int, vae_scale_factor: int) -> dict[str, int]:
        return {"height": height, "width": width}

    def _sample(self, spec: TensorSpec, shape: list[int], rng: np.random.Generator) -> np.ndarray:
        if spec.name == "timestep":
            return rng.uniform(0, 1000, size=shape).astype(np.float32)
        if spec.name == "controlnet_cond":
            return rng.uniform(0, 1, size=shape).astype(np.float32)
        if spec.name == "conditioning_scale":
            return rng.uniform(0.2, 2.0, size=shape).astype(np.float32)
        return super()._sample(spec, shape, rng)

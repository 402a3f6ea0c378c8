"""VAE decoder (latents -> image in [-1, 1]) and encoder (image -> latent distribution parameters)."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL

from export.descriptors.base import ComponentDescriptor, TensorSpec


class _VaeDecoderForExport(torch.nn.Module):
    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.vae.decode(latent_sample, return_dict=False)[0],)


class _VaeEncoderForExport(torch.nn.Module):
    """Returns the diagonal Gaussian's parameters (mean, logvar stacked on channels) so the caller
    samples with its own seeded generator, exactly as diffusers' `latent_dist.sample(generator)`."""

    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, sample: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.vae.quant_conv(self.vae.encoder(sample)),)


class _VaeDescriptor(ComponentDescriptor):
    source_attribute = "vae"
    atol = 1e-3

    def __init__(self, latent_channels: int, scale_factor: int, sample_size: int) -> None:
        self.latent_channels = latent_channels
        self.scale_factor = scale_factor
        self.sample_size = sample_size

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> "_VaeDescriptor":
        config = module.config
        return cls(config.latent_channels, 2 ** (len(config.block_out_channels) - 1), config.sample_size)

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        return AutoencoderKL.from_pretrained(directory).eval()

    def default_sizes(self) -> dict[str, int]:
        return {"height": self.sample_size, "width": self.sample_size}

    def _latent(self, name: str, channels: int) -> TensorSpec:
        s = self.scale_factor
        return TensorSpec(name, "float32", (channels, f"height/{s}", f"width/{s}"))


class VaeDecoderDescriptor(_VaeDescriptor):
    name = "vae_decoder"
    max_batch_size = 8

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (self._latent("latent_sample", self.latent_channels),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("sample", "float32", (3, "height", "width")),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _VaeDecoderForExport(module)


class VaeEncoderDescriptor(_VaeDescriptor):
    name = "vae_encoder"
    max_batch_size = 8

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("sample", "float32", (3, "height", "width")),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (self._latent("latent_parameters", 2 * self.latent_channels),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _VaeEncoderForExport(module)

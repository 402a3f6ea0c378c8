"""The denoising UNet, plain and with ControlNet residual inputs.

The timestep is a per-sample input (dims [1]) so Triton's dynamic batcher can merge steps of
different requests into one execution; the classifier-free-guidance pair travels as batch 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DConditionModel

from export.descriptors.base import ComponentDescriptor, TensorSpec


class _UNetForExport(torch.nn.Module):
    def __init__(self, unet: UNet2DConditionModel) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                *residuals: torch.Tensor) -> tuple[torch.Tensor]:
        down, mid = (list(residuals[:-1]), residuals[-1]) if residuals else (None, None)
        noise_pred = self.unet(
            sample,
            timestep.reshape(-1),
            encoder_hidden_states,
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
            return_dict=False,
        )[0]
        return (noise_pred,)


def uniform_layers_per_block(config) -> int:
    """layers_per_block of a UNet or ControlNet config (an int, or one value per block that must agree)."""
    layers = config.layers_per_block
    if isinstance(layers, int):
        return layers
    if len(set(layers)) != 1:
        raise ValueError("networks with a different layers_per_block per block are not supported")
    return layers[0]


def controlnet_residual_specs(block_out_channels: tuple[int, ...], layers_per_block: int,
                              divisor: int) -> tuple[TensorSpec, ...]:
    """The ControlNet residuals a UNet adds: one per down-block layer and downsampler, plus the mid block's.

    Axes are named relative to the tensor the sizes describe: `divisor` is that tensor's stride to the
    UNet's latent (1 when sizes are latent sizes, the VAE factor when they are pixel sizes).
    """
    last = len(block_out_channels) - 1
    shapes = [(block_out_channels[0], 1)]
    for i, width in enumerate(block_out_channels):
        shapes += [(width, 2**i)] * layers_per_block
        if i != last:
            shapes.append((width, 2 ** (i + 1)))

    def axes(stride: int) -> tuple[str, str]:
        stride *= divisor
        return ("height", "width") if stride == 1 else (f"height/{stride}", f"width/{stride}")

    specs = [TensorSpec(f"down_block_additional_residual_{k}", "float32", (c, *axes(stride)))
             for k, (c, stride) in enumerate(shapes)]
    specs.append(TensorSpec("mid_block_additional_residual", "float32", (block_out_channels[-1], *axes(2**last))))
    return tuple(specs)


class UNetDescriptor(ComponentDescriptor):
    name = "unet"
    source_attribute = "unet"
    atol = 1e-3

    def __init__(self, in_channels: int, out_channels: int, cross_attention_dim: int, sequence_length: int,
                 sample_size: int, block_out_channels: tuple[int, ...], layers_per_block: int) -> None:
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.cross_attention_dim = cross_attention_dim
        self.sequence_length = sequence_length
        self.sample_size = sample_size
        self.block_out_channels = tuple(block_out_channels)
        self.layers_per_block = layers_per_block

    @classmethod
    def from_module(cls, module: torch.nn.Module, sequence_length: int = 77) -> "UNetDescriptor":
        config = module.config
        layers = uniform_layers_per_block(config)
        return cls(config.in_channels, config.out_channels, config.cross_attention_dim, sequence_length,
                   config.sample_size, tuple(config.block_out_channels), layers)

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        return UNet2DConditionModel.from_pretrained(directory).eval()

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (
            TensorSpec("sample", "float32", (self.in_channels, "height", "width")),
            TensorSpec("timestep", "float32", (1,)),
            TensorSpec("encoder_hidden_states", "float32", (self.sequence_length, self.cross_attention_dim)),
        )

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("noise_pred", "float32", (self.out_channels, "height", "width")),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _UNetForExport(module)

    def default_sizes(self) -> dict[str, int]:
        return {"height": self.sample_size, "width": self.sample_size}

    def sizes_for_image(self, height: int, width: int, vae_scale_factor: int) -> dict[str, int]:
        return {"height": height // vae_scale_factor, "width": width // vae_scale_factor}

    @property
    def latent_stride(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)

    def _sample(self, spec: TensorSpec, shape: list[int], rng: np.random.Generator) -> np.ndarray:
        if spec.name == "timestep":
            return rng.uniform(0, 1000, size=shape).astype(np.float32)
        return super()._sample(spec, shape, rng)


class UNetControlNetDescriptor(UNetDescriptor):
    """The same UNet taking ControlNet residuals: one named input per down-block residual plus the mid one."""

    name = "unet_controlnet"

    def residual_specs(self) -> tuple[TensorSpec, ...]:
        return controlnet_residual_specs(self.block_out_channels, self.layers_per_block, divisor=1)

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return super().inputs + self.residual_specs()

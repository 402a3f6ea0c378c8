"""CLIP text encoder: token ids -> per-token hidden states (the UNet's cross-attention context)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import CLIPTextModel

from export.descriptors.base import ComponentDescriptor, TensorSpec


class _TextEncoderForExport(torch.nn.Module):
    def __init__(self, text_encoder: CLIPTextModel) -> None:
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.text_encoder(input_ids, return_dict=False)[0],)


class TextEncoderDescriptor(ComponentDescriptor):
    name = "text_encoder"
    source_attribute = "text_encoder"

    def __init__(self, sequence_length: int, hidden_size: int, vocab_size: int) -> None:
        self.sequence_length = sequence_length
        self.hidden_size = hidden_size
        self.vocab_size = vocab_size

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> "TextEncoderDescriptor":
        config = module.config
        return cls(config.max_position_embeddings, config.hidden_size, config.vocab_size)

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        return CLIPTextModel.from_pretrained(directory).eval()

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("input_ids", "int64", (self.sequence_length,)),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("last_hidden_state", "float32", (self.sequence_length, self.hidden_size)),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _TextEncoderForExport(module)

    def default_sizes(self) -> dict[str, int]:
        return {}

    def _sample(self, spec: TensorSpec, shape: list[int], rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.vocab_size, size=shape).astype(np.int64)

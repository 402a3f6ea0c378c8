"""MarianMT as two components: `translator_encoder` (source tokens -> hidden states, once per text) and
`translator_decoder` (one decoding step with past key/values, once per generated token).

The decoder step is shaped so that requests at *different* steps batch in Triton's dynamic batcher:
the past key/values are padded to a common length with `past_mask` (1 = a real past token) and each
row's position is explicit (`position_ids`), so a request at step 3 and one at step 9 whose past is
padded to the same length travel as one execution. Masked positions get the dtype's minimum before
the softmax, as transformers' own masks, so padding changes no token.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import MarianMTModel

from export.descriptors.base import ComponentDescriptor, TensorSpec


class _EncoderForExport(torch.nn.Module):
    def __init__(self, model: MarianMTModel) -> None:
        super().__init__()
        self.encoder = model.get_encoder()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.encoder(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0],)


def _additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[b, k] of 1/0 -> [b, 1, 1, k] of 0/min, added to attention scores."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def _attend(attention, query_states: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
            mask: torch.Tensor) -> torch.Tensor:
    """MarianAttention's eager computation for one query token: [b, heads, 1, d] -> [b, 1, d_model]."""
    scores = torch.matmul(query_states, keys.transpose(2, 3)) * attention.scaling + mask
    weights = torch.softmax(scores, dim=-1)
    output = torch.matmul(weights, values).transpose(1, 2)
    return attention.out_proj(output.reshape(output.shape[0], 1, -1))


def _heads(projection: torch.nn.Linear, states: torch.Tensor, head_dim: int) -> torch.Tensor:
    """[b, t, d_model] -> [b, heads, t, head_dim]."""
    batch, length, _ = states.shape
    return projection(states).view(batch, length, -1, head_dim).transpose(1, 2)


class _DecoderStepForExport(torch.nn.Module):
    """MarianDecoder + lm_head for one new token per row, the past passed in and the new key/values out.

    The layer arithmetic is MarianDecoderLayer's (post-norm self-attention, cross-attention, FFN) on the
    model's own submodules; written out because transformers' decoder derives positions and the causal
    mask from one shared past length, which is exactly what differs between batched requests here.
    """

    def __init__(self, model: MarianMTModel) -> None:
        super().__init__()
        self.decoder = model.get_decoder()
        self.lm_head = model.lm_head
        self.register_buffer("final_logits_bias", model.final_logits_bias.detach().clone(), persistent=False)
        attention = self.decoder.layers[0].self_attn
        self.head_dim = attention.head_dim

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor, encoder_hidden_states: torch.Tensor,
                encoder_attention_mask: torch.Tensor, past_key_values: torch.Tensor,
                past_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        decoder = self.decoder
        hidden = decoder.embed_tokens(input_ids) * decoder.embed_scale + decoder.embed_positions.weight[position_ids]
        dtype = hidden.dtype
        ones = torch.ones_like(past_mask[:, :1])
        self_mask = _additive_mask(torch.cat([past_mask, ones], dim=1), dtype)
        cross_mask = _additive_mask(encoder_attention_mask, dtype)
        presents = []
        for index, layer in enumerate(decoder.layers):
            attention = layer.self_attn
            query = _heads(attention.q_proj, hidden, self.head_dim)
            key, value = _heads(attention.k_proj, hidden, self.head_dim), _heads(attention.v_proj, hidden, self.head_dim)
            presents.append(torch.stack([key, value], dim=1))
            keys = torch.cat([past_key_values[:, index, 0], key], dim=2)
            values = torch.cat([past_key_values[:, index, 1], value], dim=2)
            hidden = layer.self_attn_layer_norm(hidden + _attend(attention, query, keys, values, self_mask))

            cross = layer.encoder_attn
            query = _heads(cross.q_proj, hidden, self.head_dim)
            keys = _heads(cross.k_proj, encoder_hidden_states, self.head_dim)
            values = _heads(cross.v_proj, encoder_hidden_states, self.head_dim)
            hidden = layer.encoder_attn_layer_norm(hidden + _attend(cross, query, keys, values, cross_mask))

            hidden = layer.final_layer_norm(hidden + layer.fc2(layer.activation_fn(layer.fc1(hidden))))
        logits = self.lm_head(hidden[:, 0]) + self.final_logits_bias
        return logits, torch.stack(presents, dim=1)


class _TranslatorDescriptor(ComponentDescriptor):
    source_attribute = "model"
    max_batch_size = 64

    def __init__(self, d_model: int, layers: int, heads: int, vocab_size: int, max_positions: int) -> None:
        self.d_model = d_model
        self.layers = layers
        self.heads = heads
        self.head_dim = d_model // heads
        self.vocab_size = vocab_size
        self.max_positions = max_positions

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> "_TranslatorDescriptor":
        config = module.config
        return cls(config.d_model, config.decoder_layers, config.decoder_attention_heads,
                   config.decoder_vocab_size or config.vocab_size, config.max_position_embeddings)

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        return MarianMTModel.from_pretrained(directory).eval()

    def default_sizes(self) -> dict[str, int]:
        return {"source_length": 16, "past_length": 16}

    def sizes_for_image(self, height: int, width: int, vae_scale_factor: int) -> dict[str, int]:
        return self.default_sizes()

    def _sample(self, spec: TensorSpec, shape: list[int], rng: np.random.Generator) -> np.ndarray:
        if spec.name == "input_ids":
            return rng.integers(0, self.vocab_size, size=shape).astype(np.int64)
        if spec.name == "position_ids":
            return rng.integers(0, self.max_positions, size=shape).astype(np.int64)
        if spec.name.endswith("mask"):  # padded rows: a random length of 1s, then 0s
            lengths = rng.integers(1, shape[1] + 1, size=(shape[0], 1))
            return (np.arange(shape[1])[None, :] < lengths).astype(np.int64)
        return rng.standard_normal(shape).astype(np.float32)


class TranslatorEncoderDescriptor(_TranslatorDescriptor):
    name = "translator_encoder"

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("input_ids", "int64", ("source_length",)),
                TensorSpec("attention_mask", "int64", ("source_length",)))

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("last_hidden_state", "float32", ("source_length", self.d_model)),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _EncoderForExport(module)


class TranslatorDecoderDescriptor(_TranslatorDescriptor):
    name = "translator_decoder"

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (
            TensorSpec("input_ids", "int64", (1,)),
            TensorSpec("position_ids", "int64", (1,)),
            TensorSpec("encoder_hidden_states", "float32", ("source_length", self.d_model)),
            TensorSpec("encoder_attention_mask", "int64", ("source_length",)),
            TensorSpec("past_key_values", "float32", (self.layers, 2, self.heads, "past_length", self.head_dim)),
            TensorSpec("past_mask", "int64", ("past_length",)),
        )

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("logits", "float32", (self.vocab_size,)),
                TensorSpec("present_key_values", "float32", (self.layers, 2, self.heads, 1, self.head_dim)))

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _DecoderStepForExport(module)


TRANSLATOR_DESCRIPTORS = (TranslatorEncoderDescriptor, TranslatorDecoderDescriptor)

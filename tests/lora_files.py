"""LoRA files built here (peft adapters with random non-zero weights), saved as diffusers-format safetensors."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline
from diffusers.utils import convert_state_dict_to_diffusers, convert_state_dict_to_kohya
from peft import LoraConfig, get_peft_model_state_dict
from safetensors.torch import save_file

from export.sources import PipelineSource

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_ENCODER_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


def _adapters(source: PipelineSource, seed: int, rank: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(seed)
    unet, text_encoder = copy.deepcopy(source.unet), copy.deepcopy(source.text_encoder)
    # init_lora_weights=False: random B as well as A, so the LoRA changes the output.
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=UNET_TARGETS, init_lora_weights=False))
    text_encoder.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=TEXT_ENCODER_TARGETS,
                                        init_lora_weights=False))
    return unet, text_encoder


def write_kohya_lora(source: PipelineSource, path: Path, seed: int = 7, rank: int = 4) -> Path:
    """The same adapters as `write_lora`, in kohya's format (lora_unet_*/lora_te_* keys, lora_down/up, alpha)."""
    unet, text_encoder = _adapters(source, seed, rank)
    state = {f"unet.{key}": value for key, value in get_peft_model_state_dict(unet).items()}
    state.update({f"text_encoder.{key}": value for key, value in get_peft_model_state_dict(text_encoder).items()})
    save_file({key: value.contiguous() for key, value in convert_state_dict_to_kohya(state).items()}, str(path))
    return path


def write_lora(source: PipelineSource, directory: Path, seed: int = 7, rank: int = 4) -> Path:
    """`directory/pytorch_lora_weights.safetensors` with adapters on the UNet's and text encoder's attention."""
    unet, text_encoder = _adapters(source, seed, rank)
    StableDiffusionPipeline.save_lora_weights(
        directory,
        unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
        text_encoder_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(text_encoder)),
        safe_serialization=True,
    )
    return Path(directory) / "pytorch_lora_weights.safetensors"


def fuse_lora_reference(source: PipelineSource, lora_file: Path, scale: float) -> PipelineSource:
    """The reference for a LoRA variant: the LoRA loaded and fused by diffusers itself (in place)."""
    pipeline = source.diffusers_pipeline()
    pipeline.load_lora_weights(str(lora_file))
    pipeline.fuse_lora(lora_scale=scale)
    pipeline.unload_lora_weights()
    return source

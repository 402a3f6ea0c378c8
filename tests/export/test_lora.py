"""LoRA fusing at export: diffusers- and kohya-format files give the same fused weights, as diffusers fuses them."""

from __future__ import annotations

import pytest
import torch

from export.lora import LoraSpec, fuse_loras
from export.sources import tiny_source
from tests.lora_files import fuse_lora_reference, write_kohya_lora, write_lora


def _max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_diffusers_and_kohya_files_fuse_to_the_same_weights(tmp_path):
    base = tiny_source()
    diffusers_file = write_lora(base, tmp_path / "diffusers")
    kohya_file = write_kohya_lora(base, tmp_path / "kohya.safetensors")
    from_diffusers = fuse_loras(tiny_source(), [LoraSpec.parse(f"{diffusers_file}:0.8")])
    from_kohya = fuse_loras(tiny_source(), [LoraSpec.parse(f"{kohya_file}:0.8")])
    reference = fuse_lora_reference(tiny_source(), diffusers_file, 0.8)
    for module in ("unet", "text_encoder"):
        assert _max_difference(getattr(from_diffusers, module), getattr(reference, module)) == 0.0
        assert _max_difference(getattr(from_kohya, module), getattr(reference, module)) < 1e-5
        assert _max_difference(getattr(from_diffusers, module), getattr(base, module)) > 1e-3  # it did something


def test_lora_spec_parsing(tmp_path):
    path = tmp_path / "style.safetensors"
    path.write_bytes(b"")
    assert LoraSpec.parse(str(path)) == LoraSpec(path, 1.0)
    assert LoraSpec.parse(f"{path}:0.6") == LoraSpec(path, 0.6)
    with pytest.raises(FileNotFoundError, match="LoRA file not found"):
        LoraSpec.parse(str(tmp_path / "missing.safetensors:0.5"))

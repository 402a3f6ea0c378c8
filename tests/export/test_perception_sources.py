"""Perception presets are deterministic and `from_pretrained` on a `save_pretrained` directory gives the same
model and processors; the CLI exports perception models alone (onnxruntime or torch) from presets or directories."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from export.cli import main as export_main
from export.perception.sources import FAMILIES, load_perception_source
from benchmarks.references.perception import photo


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_save_pretrained_directory_loads_the_same_weights_and_processor(tmp_path, family):
    preset = load_perception_source(family, "tiny")
    preset.save_pretrained(tmp_path)
    loaded = load_perception_source(family, str(tmp_path))
    for (name, a), (_, b) in zip(preset.model.state_dict().items(), loaded.model.state_dict().items()):
        assert torch.equal(a, b), name
    image = photo(37, 51, seed=1)
    expected = preset.image_processor(images=image, return_tensors="np")["pixel_values"]
    np.testing.assert_array_equal(loaded.image_processor(images=image, return_tensors="np")["pixel_values"], expected)
    if preset.tokenizer is not None:
        text = "a walnut sideboard, studio light"
        assert loaded.tokenizer(text)["input_ids"] == preset.tokenizer(text)["input_ids"]


def test_presets_are_deterministic():
    first, second = load_perception_source("clip", "tiny"), load_perception_source("clip", "tiny")
    assert all(torch.equal(a, b) for a, b in zip(first.model.parameters(), second.model.parameters()))


@pytest.mark.integration  # exports ONNX or starts tritonserver itself
@pytest.mark.parametrize("runtime", ["onnxruntime", "torch"])
def test_cli_exports_perception_alone_from_a_directory(tmp_path, runtime):
    checkpoint = tmp_path / "clip-checkpoint"
    load_perception_source("clip", "tiny").save_pretrained(checkpoint)
    repository = tmp_path / "repo"
    export_main(["--components", "clip_classify", "--clip", str(checkpoint), "--runtime", runtime,
                 "--output", str(repository), "--perception-instances", "3"])
    assert sorted(p.name for p in repository.iterdir()) == ["clip_classify", "clip_image", "clip_text"]
    settings = json.loads((repository / "clip_classify/1/assets/perception.json").read_text())
    assert settings["source"] == "clip-checkpoint" and settings["max_length"] == 77
    config = (repository / "clip_classify/config.pbtxt").read_text()
    assert "count: 3" in config and 'string_value: "clip_classify"' in config
    assert f'string_value: "{runtime}"' in (repository / "clip_text/config.pbtxt").read_text()


def _tiny_depth_anything(directory):
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config
    from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

    from export.perception.sources import PerceptionSource

    backbone = Dinov2Config(image_size=56, patch_size=14, hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
                            intermediate_size=37, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
                                 fusion_hidden_size=16, head_hidden_size=8, patch_size=14)
    torch.manual_seed(0)
    # Depth Anything's processor keeps the aspect ratio (sizes multiple of 14): inputs vary in size.
    processor = DPTImageProcessorPil(size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14,
                                     image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], resample=3)
    PerceptionSource("depth", "depth-anything", DepthAnythingForDepthEstimation(config).eval(), processor
                     ).save_pretrained(directory)
    return directory


@pytest.mark.integration  # exports ONNX or starts tritonserver itself
def test_depth_anything_serves_with_torch_and_onnx_export_refuses_loudly(tmp_path):
    """Depth Anything loads through --depth like DPT. The legacy ONNX tracer freezes its interpolation sizes,
    so the onnxruntime export fails its parity check (at another input size) instead of serving wrong maps."""
    from export.onnx_export import ParityError
    from export.perception.repository import export_perception

    checkpoint = _tiny_depth_anything(tmp_path / "depth-anything")
    reports = export_perception(["depth_estimator"], {"depth": str(checkpoint)}, tmp_path / "torch", "torch")
    assert reports[0].max_abs_error == 0
    with pytest.raises(ParityError, match="shape"):
        export_perception(["depth_estimator"], {"depth": str(checkpoint)}, tmp_path / "onnx", "onnxruntime")

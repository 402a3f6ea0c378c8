"""Perception presets are deterministic and `from_pretrained` on a `save_pretrained` directory gives the same
model and processors; the CLI exports perception models alone (onnxruntime or torch) from presets or directories."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from export.cli import main as export_main
from export.perception.sources import FAMILIES, load_perception_source
from tests.serving.perception_reference import photo


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

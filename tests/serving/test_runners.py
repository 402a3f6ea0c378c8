"""The onnxruntime and torch runners give the same outputs for the same exported component."""

from __future__ import annotations

import numpy as np
import pytest

from export.repository import descriptor_for, export_component
from export.triton_config import BatchingOptions
from serving.runners import create_runner


@pytest.mark.parametrize("name", ["text_encoder", "unet", "vae_decoder"])
def test_runtimes_agree_on_cpu(tiny_source, tmp_path, name):
    outputs = {}
    for runtime in ("onnxruntime", "torch"):
        repository = tmp_path / runtime
        export_component(tiny_source, name, repository, runtime, BatchingOptions())
        runner = create_runner(runtime, repository / name / "1", name)
        inputs = descriptor_for(name, tiny_source).sample_inputs(batch=2, seed=11)
        outputs[runtime] = runner.run(inputs)
    for output_name, value in outputs["torch"].items():
        np.testing.assert_allclose(outputs["onnxruntime"][output_name], value, atol=1e-3, rtol=1e-3)


def test_unknown_runtime_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        create_runner("tensorrt", tmp_path, "unet")

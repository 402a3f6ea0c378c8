import copy

import pytest
import torch

from export.descriptors.vae import VaeDecoderDescriptor
from export.onnx_export import ParityError, check_parity, export_onnx
from serving.runners import OnnxRuntimeRunner


def test_export_checks_parity_and_fails_loudly_on_a_wrong_graph(tiny_source, tmp_path):
    vae = tiny_source.vae
    descriptor = VaeDecoderDescriptor.from_module(vae)
    path = export_onnx(descriptor, vae, tmp_path / "model.onnx")
    runner = OnnxRuntimeRunner(path)
    report = check_parity(descriptor, vae, runner)
    assert report.max_abs_error <= report.allowed
    assert report.shapes["latent_sample"] == (3, 4, 8, 8)  # batch and size other than the traced ones

    # The same graph checked against a slightly different module must be refused.
    altered = copy.deepcopy(vae)
    with torch.no_grad():
        altered.decoder.conv_out.bias += 0.05
    with pytest.raises(ParityError, match="vae_decoder.sample: max abs error"):
        check_parity(descriptor, altered, runner)

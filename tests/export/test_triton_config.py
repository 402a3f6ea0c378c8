"""Every generated config.pbtxt agrees with its descriptor; the txt2img config with the public contract."""

import json

import pytest
from tritonclient.grpc import model_config_pb2 as pb

from clients.triton_client import TXT2IMG_INPUT_TYPES
from export.descriptors import DESCRIPTORS
from export.repository import descriptor_for
from export.triton_config import read_config
from tests.conftest import TINY_COMPONENTS


def _signature(specs):
    return [(s.name, s.data_type, list(s.dims)) for s in specs]


@pytest.mark.parametrize("name", TINY_COMPONENTS.split(","))
def test_component_config_matches_descriptor(tiny_repository, tiny_source, name):
    config = read_config(tiny_repository / name / "config.pbtxt")
    descriptor = descriptor_for(name, tiny_source)
    expected_in = [(s.name, pb.DataType.Value(s.triton_dtype), s.triton_dims) for s in descriptor.inputs]
    expected_out = [(s.name, pb.DataType.Value(s.triton_dtype), s.triton_dims) for s in descriptor.outputs]
    assert _signature(config.input) == expected_in
    assert _signature(config.output) == expected_out
    assert config.name == name and config.backend == "python"
    assert config.max_batch_size == descriptor.max_batch_size
    assert config.HasField("dynamic_batching")
    assert config.parameters["runtime"].string_value == "onnxruntime"
    warmup = config.model_warmup[0]
    assert set(warmup.inputs) == {s.name for s in descriptor.inputs}
    assert (tiny_repository / name / "1" / "model.onnx").exists()


def test_txt2img_config_matches_public_contract(tiny_repository):
    config = read_config(tiny_repository / "txt2img" / "config.pbtxt")
    inputs = {s.name: s for s in config.input}
    assert list(inputs) == list(TXT2IMG_INPUT_TYPES)
    for name, (triton_dtype, _) in TXT2IMG_INPUT_TYPES.items():
        dtype = "TYPE_STRING" if triton_dtype == "BYTES" else f"TYPE_{triton_dtype}"
        assert pb.DataType.Name(inputs[name].data_type) == dtype
        assert list(inputs[name].dims) == [1]
        assert inputs[name].optional == (name != "prompt")
    outputs = {s.name: (pb.DataType.Name(s.data_type), list(s.dims)) for s in config.output}
    assert outputs == {"image": ("TYPE_UINT8", [-1, -1, -1, 3]), "seed": ("TYPE_INT64", [1])}


def test_manifest_records_parity_of_every_component(tiny_repository):
    manifest = json.loads((tiny_repository / "export_manifest.json").read_text())
    assert set(manifest["components"]) == set(TINY_COMPONENTS.split(",")) <= set(DESCRIPTORS)
    for report in manifest["components"].values():
        assert 0 <= report["max_abs_error"] <= report["allowed"]


def test_warmup_follows_the_requested_image_size(tiny_source):
    from export.triton_config import BatchingOptions, component_config

    for name, expected in (("unet", [4, 12, 8]), ("vae_decoder", [4, 12, 8])):
        descriptor = descriptor_for(name, tiny_source)
        sizes = descriptor.sizes_for_image(96, 64, tiny_source.vae_scale_factor)
        config = component_config(descriptor, "onnxruntime", BatchingOptions(warmup_sizes=sizes))
        first_input = descriptor.inputs[0].name
        assert list(config.model_warmup[0].inputs[first_input].dims) == expected
        assert config.model_warmup[0].count == 2 and config.model_warmup[0].batch_size == 2

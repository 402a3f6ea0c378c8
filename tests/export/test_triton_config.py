"""Every generated config.pbtxt agrees with its descriptor; the txt2img config with the public contract."""

import json

import pytest
from tritonclient.grpc import model_config_pb2 as pb

from serving.contracts import GENERATION_CONTRACTS
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


@pytest.mark.parametrize("name", list(GENERATION_CONTRACTS))
def test_orchestrator_config_matches_its_contract(tiny_repository, name):
    contract = GENERATION_CONTRACTS[name]
    config = read_config(tiny_repository / name / "config.pbtxt")
    types = {"BYTES": "TYPE_STRING"}
    assert [(s.name, pb.DataType.Name(s.data_type), list(s.dims), s.optional) for s in config.input] == [
        (c.name, types.get(c.dtype, f"TYPE_{c.dtype}"), list(c.dims), c.optional) for c in contract.inputs]
    assert [(s.name, pb.DataType.Name(s.data_type), list(s.dims)) for s in config.output] == [
        (c.name, types.get(c.dtype, f"TYPE_{c.dtype}"), list(c.dims)) for c in contract.outputs]
    assert config.model_transaction_policy.decoupled == name.endswith("_stream")
    assert (tiny_repository / name / "1" / "model.py").read_text().count("serving.orchestrator_model") == 1


def test_txt2img_keeps_its_public_contract(tiny_repository):
    """The names, types and dims other programs rely on (DESIGN section 3) did not move."""
    config = read_config(tiny_repository / "txt2img" / "config.pbtxt")
    inputs = {s.name: (pb.DataType.Name(s.data_type), list(s.dims), s.optional) for s in config.input}
    assert inputs["prompt"] == ("TYPE_STRING", [1], False)
    for name, dtype in (("negative_prompt", "TYPE_STRING"), ("num_inference_steps", "TYPE_INT32"),
                        ("guidance_scale", "TYPE_FP32"), ("seed", "TYPE_INT64"), ("height", "TYPE_INT32"),
                        ("width", "TYPE_INT32"), ("scheduler", "TYPE_STRING"), ("num_images", "TYPE_INT32")):
        assert inputs[name] == (dtype, [1], True)
    outputs = {s.name: (pb.DataType.Name(s.data_type), list(s.dims)) for s in config.output}
    assert outputs == {"image": ("TYPE_UINT8", [-1, -1, -1, 3]), "seed": ("TYPE_INT64", [1])}


def test_manifest_records_parity_of_every_component(tiny_repository):
    manifest = json.loads((tiny_repository / "export_manifest.json").read_text())
    base = manifest["variants"]["base"]["components"]
    assert set(base) == set(TINY_COMPONENTS.split(",")) | {"controlnet_depth", "controlnet_seg"}
    assert set(manifest["variants"]["lora"]["components"]) == {"lora__text_encoder", "lora__unet"}
    for variant in manifest["variants"].values():
        for report in variant["components"].values():
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

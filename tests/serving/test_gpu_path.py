"""What of the CUDA serving path (issue 11) a CPU can check: configs for GPU instances, the export's guards,
CUDA-graph batch buckets, the runner's precision rules, and the benchmark's GPU workload and naming.

The DLPack transport itself runs on CPU in every torch-runtime test (serving/component_model.py takes
torch tensors through DLPack for the torch runtime on any device); graph capture and replay need a GPU."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tritonclient.grpc import model_config_pb2 as pb

from benchmarks.e2e import psnr
from benchmarks.report import device_label, e2e_stem
from benchmarks.repository import export_command
from benchmarks.workloads import workload_for
from export.cli import parse_args
from export.descriptors.text_encoder import TextEncoderDescriptor
from export.orchestrators import orchestrator_config
from export.triton_config import BatchingOptions, component_config
from serving.contracts import GENERATION_CONTRACTS
from serving.pipeline_settings import PipelineSettings
from serving.runners import TorchRunner, graph_buckets


def _descriptor() -> TextEncoderDescriptor:
    return TextEncoderDescriptor(sequence_length=8, hidden_size=4, vocab_size=100)


def test_cuda_component_config_is_a_gpu_instance_taking_gpu_tensors():
    config = component_config(_descriptor(), "torch", BatchingOptions(device="cuda", precision="fp16"))
    assert [group.kind for group in config.instance_group] == [pb.ModelInstanceGroup.KIND_GPU]
    parameters = {key: value.string_value for key, value in config.parameters.items()}
    assert parameters == {"runtime": "torch", "component": "text_encoder", "device": "cuda", "precision": "fp16",
                          "cuda_graphs": "yes", "FORCE_CPU_ONLY_INPUT_TENSORS": "no"}


def test_cpu_component_config_is_unchanged():
    config = component_config(_descriptor(), "onnxruntime", BatchingOptions())
    assert [group.kind for group in config.instance_group] == [pb.ModelInstanceGroup.KIND_CPU]
    assert set(config.parameters) == {"runtime", "component"}


def test_cuda_orchestrators_run_as_gpu_instances():
    contract = GENERATION_CONTRACTS["txt2img"]
    assert orchestrator_config(contract, {"txt2img": 16}, "cuda").instance_group[0].kind == pb.ModelInstanceGroup.KIND_GPU
    assert orchestrator_config(contract, {"txt2img": 16}, "cuda").instance_group[0].count == 16
    assert orchestrator_config(contract).instance_group[0].kind == pb.ModelInstanceGroup.KIND_CPU


def test_export_refuses_cuda_without_torch_and_fp16_without_cuda(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--device", "cuda"])
    assert "--device cuda needs --runtime torch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--runtime", "torch", "--precision", "fp16"])
    assert "--precision fp16 needs --device cuda" in capsys.readouterr().err
    assert parse_args(["--runtime", "torch", "--device", "cuda"]).precision == "fp16"
    assert parse_args(["--runtime", "torch", "--device", "cuda", "--precision", "fp32"]).precision == "fp32"
    assert parse_args([]).precision == "fp32"


def test_settings_written_before_the_device_field_read_as_cpu(tmp_path: Path):
    settings = PipelineSettings("tiny", 4, 8, 0.18, 2, 64, 64, 1024, 1024, device="cuda")
    settings.write(tmp_path)
    assert PipelineSettings.read(tmp_path).device == "cuda"
    legacy = (tmp_path / "pipeline.json").read_text().replace(',\n  "device": "cuda"', "")
    (tmp_path / "pipeline.json").write_text(legacy)
    assert PipelineSettings.read(tmp_path).device == "cpu"


@pytest.mark.parametrize(("max_batch", "buckets"), [(1, [1]), (8, [1, 2, 4, 8]), (12, [1, 2, 4, 8, 12]),
                                                    (16, [1, 2, 4, 8, 16])])
def test_graph_buckets_pad_a_batch_by_less_than_twice(max_batch, buckets):
    assert graph_buckets(max_batch) == buckets
    for batch in range(1, max_batch + 1):
        assert min(b for b in buckets if b >= batch) < 2 * batch


class _Linear(torch.nn.Module):
    """Returns a tuple, like every descriptor's export wrapper."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x):
        return (self.linear(x),)


def test_fp16_needs_cuda_and_cpu_runs_eagerly_in_fp32():
    module = _Linear()
    with pytest.raises(ValueError, match="fp16"):
        TorchRunner(module, ("y",), ("x",), device="cpu", precision="fp16")
    runner = TorchRunner(module, ("y",), ("x",), device="cpu")
    assert runner.dtype == torch.float32 and runner.graphs is None and not runner.channels_last
    out = runner.run({"x": np.ones((2, 3), dtype=np.float32)})["y"]
    with torch.no_grad():
        np.testing.assert_allclose(out, module(torch.ones(2, 3))[0].numpy(), rtol=1e-6)


class _DtypeProbe(torch.nn.Module):
    def forward(self, sample, timestep):
        return (sample, timestep)


def test_per_sample_scalars_keep_their_dtype_in_forward():
    # fp32 on CPU cannot show the fp16 cast; the rule is checked on what forward hands the module.
    runner = TorchRunner(_DtypeProbe(), ("a", "b"), ("sample", "timestep"), device="cpu")
    seen = []
    runner.module.forward = lambda sample, timestep: seen.append((sample.dtype, timestep.dtype)) or (sample, timestep)
    runner.dtype = torch.float16  # what a CUDA fp16 runner casts to
    runner.forward([torch.ones(2, 4, 3, 3), torch.ones(2, 1)])
    assert seen == [(torch.float16, torch.float32)]


def test_gpu_workload_is_the_issue_target_and_exports_for_cuda(tmp_path):
    workload = workload_for("sd15", "cuda")
    assert (workload.height, workload.width, workload.steps, workload.cfg) == (512, 512, 30, True)
    assert workload.concurrency == (1, 4, 16) and workload.precision == "fp16"
    command = export_command(workload, "torch", tmp_path)
    assert command[command.index("--device") + 1] == "cuda"
    assert command[command.index("--orchestrator-instances") + 1] == "txt2img=16"
    cpu = export_command(workload_for("tiny", "cpu"), "onnxruntime", tmp_path)
    assert "--device" not in cpu and cpu[cpu.index("--orchestrator-instances") + 1] == "txt2img=4"


def test_results_from_a_gpu_are_named_after_it():
    result = {"preset": "sd15", "device": "cuda", "workload": {"pipeline": "txt2img"},
              "machine": {"gpu": "NVIDIA H100 80GB HBM3"}}
    assert device_label(result) == "cuda-nvidia-h100-80gb-hbm3"
    assert e2e_stem(result) == "e2e-sd15-cuda-nvidia-h100-80gb-hbm3"
    assert e2e_stem({**result, "device": "cpu", "machine": {"gpu": None}}) == "e2e-sd15-cpu"


def test_psnr():
    image = np.full((1, 4, 4, 3), 100, dtype=np.uint8)
    assert psnr(image, image) == math.inf
    shifted = image + 1
    assert psnr(shifted, image) == pytest.approx(20 * math.log10(255))


def test_a_cuda_repository_gets_a_larger_cuda_memory_pool(tmp_path):
    from serving.server import CUDA_POOL_ARGS, uses_gpu

    (tmp_path / "unet").mkdir()
    config = component_config(_descriptor(), "torch", BatchingOptions(device="cuda", precision="fp16"))
    (tmp_path / "unet" / "config.pbtxt").write_text(str(config))
    assert uses_gpu(tmp_path) and CUDA_POOL_ARGS[0].startswith("--cuda-memory-pool-byte-size=0:")
    (tmp_path / "unet" / "config.pbtxt").write_text(str(component_config(_descriptor(), "onnxruntime", BatchingOptions())))
    assert not uses_gpu(tmp_path)

"""Component runtimes behind one interface: a dict of named numpy inputs in, named outputs out.

`onnxruntime` is the CPU default; `torch` runs the diffusers/transformers module itself (fp16 on CUDA,
fp32 on CPU). The Triton component model and the export parity check both use these, so what is
checked at export is what serves.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

RUNTIMES = ("onnxruntime", "torch")
ONNX_FILE = "model.onnx"
TORCH_WEIGHTS_DIR = "weights"


class ComponentRunner(Protocol):
    output_names: tuple[str, ...]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def cpu_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)))


class OnnxRuntimeRunner:
    def __init__(self, model_path: Path, threads: int | None = None, use_cuda: bool | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        available = ort.get_available_providers()
        if use_cuda is None:
            use_cuda = "CUDAExecutionProvider" in available
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(model_path), options, providers=providers)
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        log.info("onnxruntime session for %s on %s (%d threads)", model_path, providers[0], options.intra_op_num_threads)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(list(self.output_names), inputs)))


class TorchRunner:
    def __init__(self, module, output_names: tuple[str, ...], input_names: tuple[str, ...]) -> None:
        import torch

        self.torch = torch
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        if self.device.type == "cpu":
            torch.set_num_threads(cpu_threads())
        self.module = module.to(self.device, self.dtype).eval()
        self.input_names = input_names
        self.output_names = output_names
        log.info("torch runner on %s (%s)", self.device, self.dtype)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        args = []
        for name in self.input_names:
            tensor = torch.from_numpy(np.ascontiguousarray(inputs[name])).to(self.device)
            args.append(tensor.to(self.dtype) if tensor.is_floating_point() else tensor)
        with torch.inference_mode():
            outputs = self.module(*args)
        return {name: out.float().cpu().numpy() for name, out in zip(self.output_names, outputs)}


def create_runner(runtime: str, model_dir: Path, component: str) -> ComponentRunner:
    """Builds the runner for an exported component directory (`model_repository/<name>/1`)."""
    if runtime == "onnxruntime":
        return OnnxRuntimeRunner(model_dir / ONNX_FILE)
    if runtime == "torch":
        from export.descriptors import DESCRIPTORS

        descriptor_cls = DESCRIPTORS[component]
        module = descriptor_cls.load_module(model_dir / TORCH_WEIGHTS_DIR)
        descriptor = descriptor_cls.from_module(module)
        return TorchRunner(
            descriptor.wrap(module),
            output_names=tuple(spec.name for spec in descriptor.outputs),
            input_names=tuple(spec.name for spec in descriptor.inputs),
        )
    raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")

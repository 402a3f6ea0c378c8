"""Component runtimes behind one interface: a dict of named numpy inputs in, named outputs out.

`onnxruntime` is the CPU default; `torch` runs the diffusers/transformers module itself (fp16 on CUDA,
fp32 on CPU). The Triton component model and the export parity check both use these, so what is
checked at export is what serves.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

RUNTIMES = ("onnxruntime", "torch")
DEVICES = ("cpu", "cuda")
PRECISIONS = ("fp32", "fp16")
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
        # Idle intra-op threads would spin-wait after every run, taking the cores the orchestrator's Python and
        # the other components need between steps. Tiny txt2img at 20 steps, c=1, this 2-core machine: per-step
        # orchestration overhead 1.27 -> 1.04 ms, fixed 12.4 -> 4.0 ms, p50 458 -> 394 ms (benchmarks e2e, one run each).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
    """The diffusers/transformers module itself: fp32 on CPU; on CUDA fp16 (SDPA attention, diffusers' default),
    channels_last for convolutional networks, and CUDA graphs captured per (batch bucket, input sizes) by
    `capture_graphs` at model load, never while serving. A batch is padded up to the nearest captured bucket;
    shapes without a graph run eagerly.

    Inputs and outputs keep the contract's dtypes (fp32 on the wire): the casts to and from fp16 happen inside
    the graph, so a replay is one launch."""

    def __init__(self, module, output_names: tuple[str, ...], input_names: tuple[str, ...],
                 device: str | None = None, precision: str | None = None, channels_last: bool | None = None) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if precision is None:
            precision = "fp16" if self.device.type == "cuda" else "fp32"
        if precision not in PRECISIONS or (precision == "fp16" and self.device.type != "cuda"):
            raise ValueError(f"precision {precision!r} on {self.device.type}: choose fp32, or fp16 on cuda")
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        if self.device.type == "cpu":
            torch.set_num_threads(cpu_threads())
        self.module = module.to(self.device, self.dtype).eval()
        if channels_last is None:
            channels_last = self.device.type == "cuda" and _has_conv2d(module)
        self.channels_last = channels_last
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)
        self.input_names = input_names
        self.output_names = output_names
        self.graphs = CudaGraphs(self) if self.device.type == "cuda" else None
        log.info("torch runner on %s (%s%s)", self.device, self.dtype, ", channels_last" if channels_last else "")

    def forward(self, args: list) -> tuple:
        """One eager call: contract-dtype tensors on the device in, contract-dtype (fp32) tensors out."""
        torch = self.torch
        cast = []
        for tensor in args:
            # Per-sample scalars (timesteps, conditioning scales) stay fp32, as diffusers passes them: the
            # UNet's time projection runs in fp32 and rounds only its embedding to fp16.
            if tensor.is_floating_point() and tensor[0].numel() > 1:
                tensor = tensor.to(self.dtype)
                if self.channels_last and tensor.dim() == 4:
                    tensor = tensor.contiguous(memory_format=torch.channels_last)
            cast.append(tensor)
        outputs = self.module(*cast)
        return tuple(out.float().contiguous() for out in outputs)

    def run_tensors(self, inputs: dict) -> dict:
        """Named torch tensors (any device) in, named fp32 tensors on the runner's device out."""
        torch = self.torch
        args = [torch.as_tensor(inputs[name]).to(self.device, non_blocking=True) for name in self.input_names]
        with torch.inference_mode():
            outputs = self.graphs.run(args) if self.graphs is not None else None
            if outputs is None:
                outputs = self.forward(args)
        return dict(zip(self.output_names, outputs))

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        tensors = {name: torch.from_numpy(np.ascontiguousarray(inputs[name])) for name in self.input_names}
        return {name: out.cpu().numpy() for name, out in self.run_tensors(tensors).items()}

    def capture_graphs(self, sample_inputs, buckets: list[int]) -> None:
        """CUDA graphs for each batch in `buckets` at the sizes of `sample_inputs(batch)` (a dict of numpy)."""
        if self.graphs is not None:
            self.graphs.capture(sample_inputs, buckets)


def _has_conv2d(module) -> bool:
    import torch

    return any(isinstance(child, torch.nn.Conv2d) for child in module.modules())


def graph_buckets(max_batch_size: int) -> list[int]:
    """Powers of two up to the model's max batch, and the max itself: a batch pads by less than 2x."""
    buckets, size = [], 1
    while size < max_batch_size:
        buckets.append(size)
        size *= 2
    return buckets + [max_batch_size]


class CudaGraphs:
    """Captured graphs of one TorchRunner keyed by (batch bucket, per-sample input shapes), sharing one memory pool
    (captured largest first, as PyTorch recommends), with static input and output buffers.

    Not yet run on a GPU (none has been available to this project); scripts/gpu_report.sh is its first test."""

    def __init__(self, runner: TorchRunner) -> None:
        self.runner = runner
        self.torch = runner.torch
        self.pool = None
        self.graphs: dict[tuple, tuple] = {}  # key -> (graph, static inputs, static outputs)

    @staticmethod
    def key(batch: int, args) -> tuple:
        return (batch, *[(tuple(t.shape[1:]), t.dtype) for t in args])

    def capture(self, sample_inputs, buckets: list[int]) -> None:
        torch, runner = self.torch, self.runner
        started = time.perf_counter()
        for batch in sorted(set(buckets), reverse=True):
            samples = sample_inputs(batch)
            static = [torch.from_numpy(np.ascontiguousarray(samples[name])).to(runner.device)
                      for name in runner.input_names]
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.inference_mode(), torch.cuda.stream(stream):
                for _ in range(2):  # warm-up outside the graph: cuDNN/cuBLAS choose their kernels here
                    runner.forward(static)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            if self.pool is None:
                self.pool = torch.cuda.graph_pool_handle()
            with torch.inference_mode(), torch.cuda.graph(graph, pool=self.pool):
                outputs = runner.forward(static)
            self.graphs[self.key(batch, static)] = (graph, static, outputs)
        torch.cuda.synchronize()
        log.info("captured %d CUDA graphs (batches %s) in %.1f s", len(buckets), sorted(set(buckets)),
                 time.perf_counter() - started)

    def run(self, args) -> tuple | None:
        """Replays the smallest captured bucket that holds the batch; None when no graph fits."""
        batch = args[0].shape[0]
        shapes = self.key(0, args)[1:]
        fitting = [key for key in self.graphs if key[1:] == shapes and key[0] >= batch]
        if not fitting:
            return None
        graph, static, outputs = self.graphs[min(fitting)]
        for buffer, tensor in zip(static, args):
            buffer[:batch].copy_(tensor)  # rows past the batch keep stale data: every row is computed alone
        graph.replay()
        # Copies: the next replay overwrites the static outputs while Triton may still hold these.
        return tuple(out[:batch].clone() for out in outputs)


def create_runner(runtime: str, model_dir: Path, component: str, device: str | None = None,
                  precision: str | None = None, cuda_graphs: bool = False) -> ComponentRunner:
    """Builds the runner for an exported component directory (`model_repository/<name>/1`).

    `device`/`precision` (torch only): default CUDA fp16 where a GPU is visible, else CPU fp32.
    `cuda_graphs`: a torch runner on CUDA captures its graphs now, at the component's native sizes, for every
    batch bucket up to its max batch (the served path; the export's parity check runs eagerly)."""
    if runtime == "onnxruntime":
        return OnnxRuntimeRunner(model_dir / ONNX_FILE)
    if runtime == "torch":
        from export.descriptors import DESCRIPTORS

        descriptor_cls = DESCRIPTORS[component]
        module = descriptor_cls.load_module(model_dir / TORCH_WEIGHTS_DIR)
        descriptor = descriptor_cls.from_module(module)
        runner = TorchRunner(
            descriptor.wrap(module),
            output_names=tuple(spec.name for spec in descriptor.outputs),
            input_names=tuple(spec.name for spec in descriptor.inputs),
            device=device, precision=precision,
        )
        if cuda_graphs and runner.device.type == "cuda":
            runner.capture_graphs(lambda batch: descriptor.sample_inputs(batch), graph_buckets(descriptor.max_batch_size))
        return runner
    raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")

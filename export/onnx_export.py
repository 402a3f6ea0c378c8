"""ONNX export of one component and its parity check against torch."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from export.descriptors import ComponentDescriptor

log = logging.getLogger(__name__)

ONNX_OPSET = 17
# Protobuf cannot hold more than 2 GiB: larger graphs keep their weights in one external file.
EXTERNAL_DATA_THRESHOLD_BYTES = 1_500_000_000


class ParityError(AssertionError):
    """An exported graph disagrees with its torch module beyond the descriptor's tolerance."""


@dataclass(frozen=True)
class ParityReport:
    component: str
    max_abs_error: float
    allowed: float
    shapes: dict[str, tuple[int, ...]]

    def __str__(self) -> str:
        return f"{self.component}: max |runtime - torch| = {self.max_abs_error:.3g} (allowed {self.allowed:.3g}) on {self.shapes}"


def _to_torch(inputs: dict[str, np.ndarray], names: list[str]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(inputs[name]) for name in names)


def export_onnx(descriptor: ComponentDescriptor, module: torch.nn.Module, path: Path) -> Path:
    """Writes `path` (and `path.data` when large) with the descriptor's names and dynamic axes."""
    wrapper = descriptor.wrap(module).eval()
    input_names = [spec.name for spec in descriptor.inputs]
    output_names = [spec.name for spec in descriptor.outputs]
    sample = descriptor.sample_inputs(batch=2)
    dynamic_axes = {spec.name: spec.onnx_dynamic_axes for spec in (*descriptor.inputs, *descriptor.outputs)}
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                wrapper,
                _to_torch(sample, input_names),
                str(raw),
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=dynamic_axes,
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        model = onnx.load(str(raw))
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        large = sum(t.ByteSize() for t in model.graph.initializer) > EXTERNAL_DATA_THRESHOLD_BYTES
        # The legacy exporter writes one file per tensor for large models; re-save as a single file.
        onnx.save_model(model, str(path), save_as_external_data=large, all_tensors_to_one_file=True,
                        location=path.name + ".data" if large else None)
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("exported %s to %s in %.1f s", descriptor.name, path, time.perf_counter() - started)
    return path


# fp16 keeps ~3 decimal digits; through a deep network the error against the fp32 module grows to ~1e-2 of
# the output's scale (diffusers' own fp16 tests allow 1e-2 .. 5e-2).
FP16_RTOL = 2e-2


def check_parity(descriptor: ComponentDescriptor, module: torch.nn.Module, runner, batch: int = 3,
                 seed: int = 1234, fp16: bool = False) -> ParityReport:
    """Runs `runner` and torch on fresh random inputs at a batch and size other than the traced ones."""
    sizes = {axis: max(size // 2, 8) for axis, size in descriptor.default_sizes().items()}
    inputs = descriptor.sample_inputs(batch=batch, sizes=sizes, seed=seed)
    wrapper = descriptor.wrap(module).eval()
    with torch.inference_mode():
        expected = wrapper(*_to_torch(inputs, [spec.name for spec in descriptor.inputs]))
    actual = runner.run(inputs)
    worst, allowed = 0.0, 0.0
    for spec, reference in zip(descriptor.outputs, expected):
        reference = reference.numpy()
        got = actual[spec.name]
        if got.shape != reference.shape:
            raise ParityError(f"{descriptor.name}.{spec.name}: shape {got.shape} != torch {reference.shape}")
        error = float(np.max(np.abs(got - reference)))
        rtol = max(descriptor.rtol, FP16_RTOL) if fp16 else descriptor.rtol
        tolerance = descriptor.atol + rtol * float(np.max(np.abs(reference)))
        if not error <= tolerance:
            raise ParityError(
                f"{descriptor.name}.{spec.name}: max abs error {error:.3g} exceeds tolerance {tolerance:.3g}"
            )
        worst, allowed = max(worst, error), max(allowed, tolerance)
    return ParityReport(descriptor.name, worst, allowed, {k: v.shape for k, v in inputs.items()})

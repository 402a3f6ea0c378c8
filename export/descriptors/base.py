"""The one place a component's contract is defined: tensor names, dtypes, dims, sample inputs, export wrapper.

Triton configs, ONNX dynamic axes, warmup data, parity inputs and the runners all derive from this.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Union

import numpy as np
import torch

Dim = Union[int, str]  # a fixed size, or a named dynamic axis such as "height" or "height/4"

TRITON_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int64": "TYPE_INT64", "int32": "TYPE_INT32"}
_AXIS = re.compile(r"^(?P<name>[a-z_]+)(?:/(?P<divisor>\d+))?$")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output; `dims` excludes the leading batch dimension every component has."""

    name: str
    dtype: str
    dims: tuple[Dim, ...]

    @property
    def triton_dtype(self) -> str:
        return TRITON_DTYPES[self.dtype]

    @property
    def triton_dims(self) -> list[int]:
        return [d if isinstance(d, int) else -1 for d in self.dims]

    @property
    def onnx_dynamic_axes(self) -> dict[int, str]:
        axes = {0: "batch"}
        axes.update({i + 1: d.replace("/", "_over_") for i, d in enumerate(self.dims) if isinstance(d, str)})
        return axes

    def concrete_dims(self, sizes: dict[str, int]) -> list[int]:
        """Resolves named axes against `sizes` ({"height": 16, ...}); "height/4" divides."""
        resolved = []
        for dim in self.dims:
            if isinstance(dim, int):
                resolved.append(dim)
                continue
            match = _AXIS.match(dim)
            if match is None or match["name"] not in sizes:
                raise KeyError(f"{self.name}: no size for axis {dim!r}")
            resolved.append(sizes[match["name"]] // int(match["divisor"] or 1))
        return resolved


class ComponentDescriptor(ABC):
    """A network served as one Triton model. Subclasses are built from the torch module's config."""

    name: ClassVar[str]
    source_attribute: ClassVar[str]  # which module of the PipelineSource it exports
    max_batch_size: ClassVar[int] = 16
    # Parity: max |onnx - torch| <= atol + rtol * max |torch| on fresh random inputs.
    atol: ClassVar[float] = 1e-4
    rtol: ClassVar[float] = 1e-3

    @property
    @abstractmethod
    def inputs(self) -> tuple[TensorSpec, ...]: ...

    @property
    @abstractmethod
    def outputs(self) -> tuple[TensorSpec, ...]: ...

    @abstractmethod
    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """A module whose forward takes the inputs in order and returns the outputs as a tuple."""

    @abstractmethod
    def default_sizes(self) -> dict[str, int]:
        """Sizes of the named axes for warmup and export tracing (the model's native resolution)."""

    def sizes_for_image(self, height: int, width: int, vae_scale_factor: int) -> dict[str, int]:
        """Sizes of the named axes when the pipeline generates a height x width image."""
        return {axis: {"height": height, "width": width}[axis] for axis in self.default_sizes()}

    @classmethod
    @abstractmethod
    def from_module(cls, module: torch.nn.Module) -> "ComponentDescriptor": ...

    @classmethod
    def hints_from(cls, source) -> dict:
        """Keyword arguments for `from_module` that only the pipeline knows (none by default)."""
        return {}

    @classmethod
    @abstractmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        """Loads the source module written by `save_module` (the torch runtime's weights)."""

    @staticmethod
    def save_module(module: torch.nn.Module, directory: Path) -> None:
        module.save_pretrained(directory)

    def sample_inputs(self, batch: int, sizes: dict[str, int] | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """Random inputs in each input's valid range."""
        rng = np.random.default_rng(seed)
        sizes = sizes or self.default_sizes()
        return {spec.name: self._sample(spec, [batch, *spec.concrete_dims(sizes)], rng) for spec in self.inputs}

    def _sample(self, spec: TensorSpec, shape: list[int], rng: np.random.Generator) -> np.ndarray:
        if spec.dtype.startswith("int"):
            return rng.integers(0, 100, size=shape).astype(spec.dtype)
        return rng.standard_normal(shape).astype(spec.dtype)

    def input(self, name: str) -> TensorSpec:
        return next(spec for spec in self.inputs if spec.name == name)

"""The one way orchestrators call components: Triton BLS, with every response's error checked.

Inputs may be numpy arrays or torch tensors (CPU or CUDA, passed through DLPack without a copy). Outputs
come back as numpy where Triton holds them in host memory; `bls_call_tensors` returns torch tensors
instead, and asks for GPU memory when the caller works on the GPU (the CUDA orchestrators).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.pipelines.errors import ComponentError


def _tensor(name: str, value: Any):
    if isinstance(value, np.ndarray):
        return pb_utils.Tensor(name, np.ascontiguousarray(value))
    from torch.utils.dlpack import to_dlpack

    return pb_utils.Tensor.from_dlpack(name, to_dlpack(value.contiguous()))


def _request(model: str, inputs: Mapping[str, Any], outputs: Sequence[str], on_gpu: bool = False):
    tensors = [_tensor(name, value) for name, value in inputs.items()]
    extra = {}
    if on_gpu:  # not yet run on a GPU (see README "GPU serving path")
        extra["preferred_memory"] = pb_utils.PreferredMemory(pb_utils.TRITONSERVER_MEMORY_GPU, 0)
    return pb_utils.InferenceRequest(model_name=model, requested_output_names=list(outputs), inputs=tensors, **extra)


def _checked(model: str, response):
    if response.has_error():
        raise ComponentError(f"{model}: {response.error().message()}")
    return response


def _outputs(model: str, response, outputs: Sequence[str]) -> dict[str, np.ndarray]:
    response = _checked(model, response)
    return {name: pb_utils.get_output_tensor_by_name(response, name).as_numpy() for name in outputs}


def bls_call(model: str, inputs: Mapping[str, Any], outputs: Sequence[str], on_gpu: bool = False) -> dict:
    """Synchronous BLS call (a `ComponentCaller`): numpy outputs, or torch tensors on the GPU when `on_gpu`."""
    if on_gpu:
        return bls_call_tensors(model, inputs, outputs, on_gpu=True)
    return _outputs(model, _request(model, inputs, outputs).exec(), outputs)


def bls_call_tensors(model: str, inputs: Mapping[str, Any], outputs: Sequence[str], on_gpu: bool = False) -> dict:
    """Synchronous BLS call returning torch tensors: in GPU memory (DLPack, no host copy) when `on_gpu`."""
    import torch
    from torch.utils.dlpack import from_dlpack

    response = _checked(model, _request(model, inputs, outputs, on_gpu).exec())
    result = {}
    for name in outputs:
        tensor = pb_utils.get_output_tensor_by_name(response, name)
        result[name] = torch.from_numpy(tensor.as_numpy()) if tensor.is_cpu() else from_dlpack(tensor.to_dlpack())
    return result


async def bls_call_async(model: str, inputs: Mapping[str, Any], outputs: Sequence[str]) -> dict[str, np.ndarray]:
    """Awaitable BLS call, for async (decoupled) orchestrators."""
    return _outputs(model, await _request(model, inputs, outputs).async_exec(), outputs)

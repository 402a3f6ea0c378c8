"""The one way orchestrators call components: Triton BLS, with every response's error checked.

Inputs may be numpy arrays or torch tensors (CPU or CUDA, passed through DLPack without a copy). Outputs
come back as numpy; with `on_gpu` (the CUDA orchestrators) the call asks for GPU memory and returns torch
tensors instead.
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


def _tensor_outputs(model: str, response, outputs: Sequence[str]) -> dict:
    """Outputs as torch tensors: GPU ones through DLPack (no host copy), host ones as numpy views."""
    import torch
    from torch.utils.dlpack import from_dlpack

    response = _checked(model, response)
    result = {}
    for name in outputs:
        tensor = pb_utils.get_output_tensor_by_name(response, name)
        result[name] = torch.from_numpy(tensor.as_numpy()) if tensor.is_cpu() else from_dlpack(tensor.to_dlpack())
    return result


def bls_call(model: str, inputs: Mapping[str, Any], outputs: Sequence[str], on_gpu: bool = False) -> dict:
    """Synchronous BLS call (a `ComponentCaller`): numpy outputs, or torch tensors in GPU memory when `on_gpu`."""
    response = _request(model, inputs, outputs, on_gpu).exec()
    return _tensor_outputs(model, response, outputs) if on_gpu else _outputs(model, response, outputs)


async def bls_call_async(model: str, inputs: Mapping[str, Any], outputs: Sequence[str]) -> dict[str, np.ndarray]:
    """Awaitable BLS call, for async (decoupled) orchestrators."""
    return _outputs(model, await _request(model, inputs, outputs).async_exec(), outputs)

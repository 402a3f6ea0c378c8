"""The one way orchestrators call components: Triton BLS, with every response's error checked."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.pipelines.errors import ComponentError


def _request(model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]):
    tensors = [pb_utils.Tensor(name, np.ascontiguousarray(value)) for name, value in inputs.items()]
    return pb_utils.InferenceRequest(model_name=model, requested_output_names=list(outputs), inputs=tensors)


def _outputs(model: str, response, outputs: Sequence[str]) -> dict[str, np.ndarray]:
    if response.has_error():
        raise ComponentError(f"{model}: {response.error().message()}")
    return {name: pb_utils.get_output_tensor_by_name(response, name).as_numpy() for name in outputs}


def bls_call(model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
    """Synchronous BLS call (a `ComponentCaller`)."""
    return _outputs(model, _request(model, inputs, outputs).exec(), outputs)


async def bls_call_async(model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
    """Awaitable BLS call, for async (decoupled) orchestrators."""
    return _outputs(model, await _request(model, inputs, outputs).async_exec(), outputs)

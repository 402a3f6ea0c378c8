"""Reading a Triton request's (optional) inputs into a plain dict of numpy arrays."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import triton_python_backend_utils as pb_utils

def read_inputs(request, names: Iterable[str]) -> dict[str, np.ndarray | None]:
    """Absent optional inputs map to None."""
    values = {}
    for name in names:
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        values[name] = None if tensor is None else tensor.as_numpy()
    return values

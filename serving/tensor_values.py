"""One value of a [1]-shaped request tensor, as a Python value: shared by every contract's input parsing
(generation, workflows, perception) and light to import (numpy only), so the perception stubs that use it do not
load diffusers' scheduler registry with the generation inputs."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from serving.pipelines.errors import InvalidInputError

Inputs = Mapping[str, "np.ndarray | None"]


def single_value(inputs: Inputs, name: str) -> object | None:
    value = inputs.get(name)
    if value is None:
        return None
    flat = np.asarray(value).reshape(-1)
    if flat.size != 1:
        raise InvalidInputError(name, f"expected exactly one value (dims [1]), got {flat.size}")
    item = flat[0]
    if isinstance(item, bytes):  # BYTES tensors arrive as numpy object arrays of bytes
        return item.decode("utf-8")
    if isinstance(item, np.float32):
        return decimal_of(item)
    return item.item() if isinstance(item, np.generic) else item


def decimal_of(value: np.float32) -> float:
    """The FP32 value as the decimal a client wrote (0.7, not 0.699999988): diffusers' arithmetic on it
    (int(steps * strength), guidance windows) must see the same number as a Python caller passes."""
    return float(str(value))

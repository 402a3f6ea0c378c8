"""One value of a [1]-shaped request tensor, as a Python value, and the numbers read from such values within
their ranges: shared by every contract's input parsing (generation, workflows, perception) so each error is worded
the same way, and light to import (numpy only) for the stubs that run no diffusion."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from serving.pipelines.errors import InvalidInputError

Inputs = Mapping[str, "np.ndarray | None"]
UNIT_RANGE = (0.0, 1.0)  # strengths and thresholds


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


def number_value(inputs: Inputs, name: str) -> float | int | None:
    """One number (dims [1]), or None when absent; any other value is an error naming the input."""
    value = single_value(inputs, name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InvalidInputError(name, f"must be one number (dims [1]), got {type(value).__name__}")
    return value


def int_in(inputs: Inputs, name: str, default: int, low: int, high: int) -> int:
    """An integer in [low, high]; `default` when it is absent."""
    value = number_value(inputs, name)
    if value is None:
        return default
    if isinstance(value, float) and not value.is_integer():
        raise InvalidInputError(name, f"must be an integer in [{low}, {high}]")
    value = int(value)
    if not low <= value <= high:
        raise InvalidInputError(name, f"{value} is outside the allowed range [{low}, {high}]")
    return value


def float_in(name: str, value: object, low: float, high: float) -> float:
    """`value` (one number already read from the request) as a finite float in [low, high]."""
    value = decimal_of(value) if isinstance(value, np.float32) else float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInputError(name, f"{value} is not a finite number in [{low:g}, {high:g}]")
    return value


def optional_float_in(inputs: Inputs, name: str, default: float | None, low: float, high: float) -> float | None:
    """An optional number in [low, high] (guidance, strengths, scales, thresholds); `default` when it is absent."""
    value = number_value(inputs, name)
    return default if value is None else float_in(name, value, low, high)

"""The shared number parsing every contract uses: one wording for ranges, the client's FP32 decimal, bad types named."""

from __future__ import annotations

import numpy as np
import pytest

from serving.pipelines.errors import InvalidInputError
from serving.tensor_values import UNIT_RANGE, float_in, int_in, number_value, optional_float_in, single_value


def test_absent_inputs_take_the_default() -> None:
    assert int_in({}, "steps", 30, 1, 150) == 30
    assert int_in({"steps": None}, "steps", 30, 1, 150) == 30
    assert optional_float_in({}, "strength", None, *UNIT_RANGE) is None
    assert optional_float_in({}, "strength", 0.8, *UNIT_RANGE) == 0.8


def test_fp32_values_are_the_decimal_the_client_wrote() -> None:
    value = np.array([0.7], np.float32)
    assert single_value({"strength": value}, "strength") == 0.7  # not 0.699999988
    assert optional_float_in({"strength": value}, "strength", None, *UNIT_RANGE) == 0.7
    assert float_in("guidance_scale", np.float32(7.5), 0, 30) == 7.5


@pytest.mark.parametrize(("inputs", "message"), [
    ({"n": np.array([0], np.int32)}, "0 is outside the allowed range [1, 64]"),
    ({"n": np.array([65], np.int64)}, "65 is outside the allowed range [1, 64]"),
    ({"n": np.array([2.5], np.float32)}, "must be an integer in [1, 64]"),
    ({"n": np.array([b"four"], np.object_)}, "must be one number (dims [1]), got str"),
    ({"n": np.array([True])}, "must be one number (dims [1]), got bool"),
    ({"n": np.array([1, 2], np.int32)}, "expected exactly one value (dims [1]), got 2"),
])
def test_int_errors_name_the_input_and_the_range(inputs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        int_in(inputs, "n", 8, 1, 64)
    assert caught.value.input_name == "n" and message in str(caught.value)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), float("inf")])
def test_fractions_outside_zero_to_one_are_refused(bad: float) -> None:
    with pytest.raises(InvalidInputError, match=r"is not a finite number in \[0, 1\]"):
        optional_float_in({"t": np.array([bad], np.float32)}, "t", 0.5, *UNIT_RANGE)


def test_integers_read_as_numbers() -> None:
    assert int_in({"n": np.array([3.0], np.float32)}, "n", 8, 1, 64) == 3  # a whole FP32 is accepted
    assert number_value({"n": np.array([5], np.int32)}, "n") == 5

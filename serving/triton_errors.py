"""How an orchestrator's failure reaches its client: one mapping for plain and decoupled models."""

from __future__ import annotations

import triton_python_backend_utils as pb_utils

from serving.pipelines.errors import InvalidInputError, RequestCancelled


def to_triton_error(model_name: str, error: Exception):
    """Bad input -> INVALID_ARG (HTTP 400), cancellation -> CANCELLED, anything else -> INTERNAL (logged)."""
    if isinstance(error, InvalidInputError):
        return pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
    if isinstance(error, RequestCancelled):
        pb_utils.Logger.log_info(f"{model_name}: {error}")
        return pb_utils.TritonError(str(error), pb_utils.TritonError.CANCELLED)
    pb_utils.Logger.log_error(f"{model_name} failed: {type(error).__name__}: {error}")
    return pb_utils.TritonError(f"{model_name} failed: {error}")

"""Errors an orchestrator reports to its client."""

from __future__ import annotations


class InvalidInputError(ValueError):
    """A request input is missing, malformed or out of range; the message names the input."""

    def __init__(self, input_name: str, reason: str) -> None:
        super().__init__(f"invalid input '{input_name}': {reason}")
        self.input_name = input_name
        self.reason = reason


class RequestCancelled(RuntimeError):
    """The client cancelled the request; the pipeline stopped at the last step boundary."""

    def __init__(self, step: int, total: int) -> None:
        super().__init__(f"request cancelled after {step} of {total} denoising steps")
        self.step = step
        self.total = total


class ComponentError(RuntimeError):
    """A component model (UNet, VAE...) failed; the message carries the component's own error."""


class UnprocessableInputError(InvalidInputError):
    """A well-formed input the workflow cannot work with (a photo with no foreground); HTTP 422 at the gateway."""

    def __init__(self, input_name: str, reason: str) -> None:
        ValueError.__init__(self, f"unprocessable input '{input_name}': {reason}")
        self.input_name = input_name
        self.reason = reason

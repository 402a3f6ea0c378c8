"""Python client for the generation orchestrators (txt2img, img2img, inpaint) over KServe v2 gRPC or HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Protocol = Literal["grpc", "http"]

from serving.contracts import GENERATION_CONTRACTS

# Contract input -> (Triton dtype, numpy dtype), from the contract (serving/contracts.py).
TXT2IMG_INPUT_TYPES: dict[str, tuple[str, Any]] = {
    spec.name: (spec.dtype, spec.numpy_dtype) for spec in GENERATION_CONTRACTS["txt2img"].inputs
    if spec.dims == (1,)
}


def contract_array(model_name: str, name: str, value: Any) -> np.ndarray:
    """A request value as the contract's tensor: scalars and strings become [1], lists [k], images stay as given."""
    contract = GENERATION_CONTRACTS[model_name]
    if name not in contract.input_names:
        raise TypeError(f"{model_name} has no input {name!r}")
    spec = contract.input(name)
    if isinstance(value, np.ndarray) and spec.dtype == "UINT8":
        return value
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if spec.dtype == "BYTES":
        values = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
    return np.array(values, dtype=spec.numpy_dtype)


@dataclass(frozen=True)
class Txt2ImgResult:
    images: np.ndarray  # uint8 [n, height, width, 3]
    seed: int


class TritonInferenceError(RuntimeError):
    """The server answered with an inference error (bad input, cancelled, component failure)."""


@dataclass
class TritonConnection:
    """A tritonclient connection (gRPC or HTTP) with the calls every client shares."""

    url: str = "127.0.0.1:8001"
    protocol: Protocol = "grpc"
    timeout_s: float = 600.0
    _client: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._module = _module(self.protocol)
        self._client = connect(self._module, self.url, self.protocol, self.timeout_s)

    def model_statistics(self, model_name: str) -> dict:
        if self.protocol == "grpc":
            stats = self._client.get_inference_statistics(model_name, as_json=True)
        else:
            stats = self._client.get_inference_statistics(model_name)
        return stats["model_stats"][0]

    def close(self) -> None:
        self._client.close()


@dataclass
class TritonGenerationClient(TritonConnection):
    model_name: str = "txt2img"

    def build_inputs(self, **values: Any) -> list:
        inputs = []
        for name, value in values.items():
            if value is None:
                continue
            array = contract_array(self.model_name, name, value)
            tensor = self._module.InferInput(name, list(array.shape), GENERATION_CONTRACTS[self.model_name].input(name).dtype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        return inputs

    def generate(self, prompt: str, **options: Any) -> Txt2ImgResult:
        """Options are the model's other contract inputs (negative_prompt, image, control_image, ...)."""
        result = self.infer(["image", "seed"], prompt=prompt, **options)
        return Txt2ImgResult(images=result["image"], seed=int(result["seed"][0]))

    def infer(self, outputs: list[str] | None = None, **inputs: Any) -> dict[str, np.ndarray]:
        """Any contract inputs -> the named outputs (default: all of the contract's), e.g. a workflow's mask."""
        from tritonclient.utils import InferenceServerException

        names = outputs or [spec.name for spec in GENERATION_CONTRACTS[self.model_name].outputs]
        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        try:
            result = self._client.infer(self.model_name, self.build_inputs(**inputs),
                                        outputs=[self._module.InferRequestedOutput(name) for name in names], **kwargs)
        except InferenceServerException as error:
            raise TritonInferenceError(error.message()) from error
        return {name: result.as_numpy(name) for name in names}


def connect(module, url: str, protocol: Protocol, timeout_s: float):
    """A tritonclient connection; HTTP takes the request timeout at connect time, gRPC per call."""
    if protocol == "grpc":
        return module.InferenceServerClient(url)
    return module.InferenceServerClient(url, network_timeout=timeout_s, connection_timeout=timeout_s)


def _module(protocol: Protocol):
    if protocol == "grpc":
        import tritonclient.grpc as module
    elif protocol == "http":
        import tritonclient.http as module
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    return module


# The txt2img client is the generation client on its default model.
TritonTxt2ImgClient = TritonGenerationClient

"""Python client for the `txt2img` orchestrator over KServe v2 gRPC or HTTP (tritonclient)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Protocol = Literal["grpc", "http"]

# Contract input -> (Triton dtype, numpy dtype). Matches model_repository/txt2img/config.pbtxt.
TXT2IMG_INPUT_TYPES: dict[str, tuple[str, Any]] = {
    "prompt": ("BYTES", np.object_),
    "negative_prompt": ("BYTES", np.object_),
    "num_inference_steps": ("INT32", np.int32),
    "guidance_scale": ("FP32", np.float32),
    "seed": ("INT64", np.int64),
    "height": ("INT32", np.int32),
    "width": ("INT32", np.int32),
    "scheduler": ("BYTES", np.object_),
    "num_images": ("INT32", np.int32),
}


@dataclass(frozen=True)
class Txt2ImgResult:
    images: np.ndarray  # uint8 [n, height, width, 3]
    seed: int


class TritonInferenceError(RuntimeError):
    """The server answered with an inference error (bad input, cancelled, component failure)."""


@dataclass
class TritonTxt2ImgClient:
    url: str = "127.0.0.1:8001"
    protocol: Protocol = "grpc"
    model_name: str = "txt2img"
    timeout_s: float = 600.0
    _client: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._module = _module(self.protocol)
        if self.protocol == "grpc":
            self._client = self._module.InferenceServerClient(self.url)
        else:
            self._client = self._module.InferenceServerClient(self.url, network_timeout=self.timeout_s,
                                                              connection_timeout=self.timeout_s)

    def build_inputs(self, **values: Any) -> list:
        inputs = []
        for name, value in values.items():
            if value is None:
                continue
            if name not in TXT2IMG_INPUT_TYPES:
                raise TypeError(f"txt2img has no input {name!r}")
            triton_dtype, np_dtype = TXT2IMG_INPUT_TYPES[name]
            array = np.array([value.encode("utf-8") if isinstance(value, str) else value], dtype=np_dtype)
            tensor = self._module.InferInput(name, [1], triton_dtype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        return inputs

    def outputs(self) -> list:
        return [self._module.InferRequestedOutput(name) for name in ("image", "seed")]

    def generate(self, prompt: str, **options: Any) -> Txt2ImgResult:
        """Options are the contract's optional inputs (negative_prompt, num_inference_steps, ...)."""
        from tritonclient.utils import InferenceServerException

        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        try:
            result = self._client.infer(self.model_name, self.build_inputs(prompt=prompt, **options),
                                        outputs=self.outputs(), **kwargs)
        except InferenceServerException as error:
            raise TritonInferenceError(error.message()) from error
        return Txt2ImgResult(images=result.as_numpy("image"), seed=int(result.as_numpy("seed")[0]))

    def model_statistics(self, model_name: str) -> dict:
        if self.protocol == "grpc":
            stats = self._client.get_inference_statistics(model_name, as_json=True)
        else:
            stats = self._client.get_inference_statistics(model_name)
        return stats["model_stats"][0]

    def close(self) -> None:
        self._client.close()


def _module(protocol: Protocol):
    if protocol == "grpc":
        import tritonclient.grpc as module
    elif protocol == "http":
        import tritonclient.http as module
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    return module

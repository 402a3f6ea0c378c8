"""What a catalog job needs from the served models: translate, generate, score.

`CatalogBackend` is the interface the job runner calls (synchronously, from its worker thread).
`TritonBackend` calls Triton directly (the CLI); the gateway has its own, going through its replica pool
(gateway/job_backend.py). Model names follow DESIGN.md section 3: `translate` (text BYTES [n] ->
translation BYTES [n], optional num_beams and max_new_tokens), the txt2img contract, `clip_score`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

import numpy as np

from clients.perception_client import PerceptionClient
from clients.triton_client import Protocol as WireProtocol, TritonGenerationClient, TritonInferenceError

TRANSLATE_MODEL = "translate"
# The translate contract's optional scalar inputs (each [1]).
TRANSLATE_OPTIONS = {"num_beams": ("INT32", np.int32), "max_new_tokens": ("INT32", np.int32)}


class CatalogBackend(Protocol):
    def translate(self, texts: list[str], num_beams: int | None, max_new_tokens: int | None) -> list[str]: ...

    def generate(self, prompt: str, negative_prompt: str, seed: int, inputs: Mapping[str, Any]
                 ) -> tuple[np.ndarray, int]: ...

    def score(self, image: np.ndarray, text: str) -> float: ...


def translate_arrays(texts: list[str], num_beams: int | None, max_new_tokens: int | None
                     ) -> dict[str, tuple[str, np.ndarray]]:
    """The translate request's tensors by name: (Triton dtype, array)."""
    arrays = {"text": ("BYTES", np.array([t.encode("utf-8") for t in texts], dtype=np.object_))}
    for name, value in (("num_beams", num_beams), ("max_new_tokens", max_new_tokens)):
        if value is not None:
            dtype, numpy_dtype = TRANSLATE_OPTIONS[name]
            arrays[name] = (dtype, np.array([value], dtype=numpy_dtype))
    return arrays


def decode_translations(array: np.ndarray) -> list[str]:
    return [item.decode("utf-8") if isinstance(item, bytes) else str(item) for item in array.reshape(-1)]


@dataclass
class TritonBackend:
    """Direct Triton gRPC/HTTP calls: generation on `generation_model`, `clip_score`, `translate_model`."""

    url: str = "127.0.0.1:8001"
    protocol: WireProtocol = "grpc"
    generation_model: str = "txt2img"
    translate_model: str = TRANSLATE_MODEL
    timeout_s: float = 600.0
    _generation: TritonGenerationClient = field(init=False, repr=False)
    _perception: PerceptionClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._generation = TritonGenerationClient(self.url, self.protocol, self.timeout_s,
                                                  model_name=self.generation_model)
        self._perception = PerceptionClient(self.url, self.protocol, self.timeout_s)

    def translate(self, texts: list[str], num_beams: int | None, max_new_tokens: int | None) -> list[str]:
        from tritonclient.utils import InferenceServerException

        module = self._perception._module
        tensors = []
        for name, (dtype, array) in translate_arrays(texts, num_beams, max_new_tokens).items():
            tensor = module.InferInput(name, list(array.shape), dtype)
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)
        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        try:
            result = self._perception._client.infer(self.translate_model, tensors,
                                                    outputs=[module.InferRequestedOutput("translation")], **kwargs)
        except InferenceServerException as error:
            raise TritonInferenceError(error.message()) from error
        return decode_translations(result.as_numpy("translation"))

    def generate(self, prompt: str, negative_prompt: str, seed: int, inputs: Mapping[str, Any]
                 ) -> tuple[np.ndarray, int]:
        result = self._generation.generate(prompt, negative_prompt=negative_prompt or None, seed=seed,
                                           **{k: v for k, v in inputs.items() if v is not None})
        return result.images[0], result.seed

    def score(self, image: np.ndarray, text: str) -> float:
        return float(self._perception.clip_score(image[None], [text])[0])

    def close(self) -> None:
        self._generation.close()
        self._perception.close()

"""Python client for the `translate` orchestrator over KServe v2 gRPC or HTTP (contract: serving/translation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from clients.triton_client import TritonConnection, TritonInferenceError
from serving.translation.contracts import TRANSLATE


@dataclass
class TranslateClient(TritonConnection):
    model_name: str = TRANSLATE.name

    def translate(self, texts: Sequence[str], num_beams: int | None = None,
                  max_new_tokens: int | None = None) -> list[str]:
        """One translation per text, in order; options left None take the model's generation config."""
        from tritonclient.utils import InferenceServerException

        values = {"text": np.array([t.encode("utf-8") for t in texts], dtype=np.object_),
                  "num_beams": None if num_beams is None else np.array([num_beams], dtype=np.int32),
                  "max_new_tokens": None if max_new_tokens is None else np.array([max_new_tokens], dtype=np.int32)}
        inputs = []
        for spec in TRANSLATE.inputs:
            array = values[spec.name]
            if array is None:
                continue
            tensor = self._module.InferInput(spec.name, list(array.shape), spec.dtype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        try:
            result = self._client.infer(self.model_name, inputs,
                                        outputs=[self._module.InferRequestedOutput("translation")], **kwargs)
        except InferenceServerException as error:
            raise TritonInferenceError(error.message()) from error
        return [item.decode("utf-8") for item in result.as_numpy("translation").reshape(-1)]

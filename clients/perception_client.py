"""Python client for the perception orchestrators (clip_score, clip_classify, depth_estimator, segmenter,
foreground_mask, sam, sam_automatic) over KServe v2 gRPC or HTTP; inputs are typed by
`serving.perception.contracts`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from clients.triton_client import TritonConnection, TritonInferenceError
from serving.perception.contracts import CONTRACTS

_NUMPY = {"BYTES": np.object_, "UINT8": np.uint8, "INT32": np.int32, "INT64": np.int64, "FP32": np.float32}


def _array(value: Any, dtype: str) -> np.ndarray:
    if dtype == "BYTES":
        items = [value] if isinstance(value, (str, bytes)) else list(value)
        return np.array([v.encode("utf-8") if isinstance(v, str) else v for v in items], dtype=np.object_)
    return np.ascontiguousarray(np.asarray(value, dtype=_NUMPY[dtype]))


@dataclass
class PerceptionClient(TritonConnection):
    timeout_s: float = 300.0

    def infer(self, model: str, **values: Any) -> dict[str, np.ndarray]:
        """Calls `model` with the contract's inputs (None = absent); returns every output."""
        from tritonclient.utils import InferenceServerException

        contract = CONTRACTS[model]
        inputs = []
        for spec in contract.inputs:
            value = values.pop(spec.name, None)
            if value is None:
                continue
            array = _array(value, spec.dtype)
            tensor = self._module.InferInput(spec.name, list(array.shape), spec.dtype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        if values:
            raise TypeError(f"{model} has no inputs {sorted(values)}")
        outputs = [self._module.InferRequestedOutput(spec.name) for spec in contract.outputs]
        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        try:
            result = self._client.infer(model, inputs, outputs=outputs, **kwargs)
        except InferenceServerException as error:
            raise TritonInferenceError(error.message()) from error
        return {spec.name: result.as_numpy(spec.name) for spec in contract.outputs}

    def clip_score(self, images: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        return self.infer("clip_score", image=images, text=list(texts))["score"]

    def clip_classify(self, image: np.ndarray, labels: Sequence[str], hypothesis_template: str | None = None) -> np.ndarray:
        return self.infer("clip_classify", image=image, labels=list(labels),
                          hypothesis_template=hypothesis_template)["probs"]

    def sam_automatic(self, image: np.ndarray, **options: float | int | None) -> dict[str, np.ndarray]:
        """Automatic masks; `options` by contract name (points_per_crop, pred_iou_thresh, ...), None = default."""
        return self.infer("sam_automatic", image=image,
                          **{name: None if value is None else [value] for name, value in options.items()})

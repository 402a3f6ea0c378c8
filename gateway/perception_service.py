"""The gateway's call of a perception model (clip_score, depth_estimator, sam...) on Triton: the same
replica choice, single retry on a failed replica, timeout and error mapping as the generation models,
with the inputs typed by `serving.perception.contracts` (torch-free)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping

from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from clients.perception_client import _array
from gateway import errors
from gateway.generation_service import GenerationService, _is_replica_failure
from serving.perception.contracts import CONTRACTS

log = logging.getLogger(__name__)

PERCEPTION_MODELS = tuple(CONTRACTS)


class PerceptionService(GenerationService):
    async def infer(self, model: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Every output of `model` as numpy arrays; inputs by contract name (None: absent)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._infer(model, inputs)
        except TimeoutError:
            raise errors.timed_out(self.timeout_s) from None

    async def _infer(self, model: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        contract = CONTRACTS[model]
        tensors = []
        for spec in contract.inputs:
            if inputs.get(spec.name) is None:
                continue
            array = _array(inputs[spec.name], spec.dtype)
            tensor = InferInput(spec.name, list(array.shape), spec.dtype)
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)
        outputs = [InferRequestedOutput(spec.name) for spec in contract.outputs]
        tried = []
        for attempt in (1, 2):
            with self.slot(model, tried) as replica:
                try:
                    result = await replica.client.infer(model, tensors, outputs=outputs)
                except InferenceServerException as error:
                    if _is_replica_failure(error) and attempt == 1:
                        log.warning("replica %s failed (%s); retrying %s once elsewhere", replica.url,
                                    error.message(), model)
                        self._replica_failed(replica, error, tried)
                        self.metrics.retries.inc()
                        continue
                    raise self._map(error, replica, None) from None
            return {spec.name: result.as_numpy(spec.name) for spec in contract.outputs}
        raise AssertionError("unreachable")

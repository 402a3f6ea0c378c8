"""The gateway's call of a perception model (clip_score, depth_estimator, sam...) on Triton: the same
replica choice, single retry on a failed replica, timeout and error mapping as the generation models,
with the inputs typed by `serving.perception.contracts` (torch-free)."""

from __future__ import annotations

from typing import Any, Mapping

from tritonclient.grpc import InferInput, InferRequestedOutput

from clients.perception_client import _array
from gateway.generation_service import GenerationService, Priority
from serving.perception.contracts import CONTRACTS

PERCEPTION_MODELS = tuple(CONTRACTS)


class PerceptionService(GenerationService):
    async def infer(self, model: str, inputs: Mapping[str, Any], priority: Priority = "interactive"
                    ) -> dict[str, Any]:
        """Every output of `model` as numpy arrays; inputs by contract name (None: absent)."""
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
        result, _, _ = await self.call(model, tensors, outputs, priority=priority)
        return {spec.name: result.as_numpy(spec.name) for spec in contract.outputs}

"""The catalog job runner's model calls from inside the gateway: the same replica pool, retry, timeout and
error mapping as interactive requests (GenerationService / PerceptionService), tagged `priority="batch"`.

The runner works in its own thread; each call is a coroutine handed to the gateway's event loop. The worker
runs one article at a time, so a job holds at most one of a replica's in-flight slots
(GATEWAY_MAX_IN_FLIGHT_PER_REPLICA) and interactive requests keep the others; an admission queue that
orders requests by priority serves batch calls after interactive ones.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, Mapping, TypeVar

import numpy as np
from tritonclient.grpc import InferInput, InferRequestedOutput

from catalog.backend import decode_translations, translate_arrays
from gateway.errors import GatewayError
from gateway.generation_service import GenerationJob, GenerationService
from gateway.perception_service import PerceptionService

T = TypeVar("T")
BATCH = "batch"  # the priority of every call a catalog job makes
BUSY_BACKOFF_S = 0.5  # between tries while the replicas are busy or down
# 429, 503: passing conditions (queue_timeout: the admission queue's wait ran out)
WAIT_FOR = ("too_many_requests_in_flight", "no_replica_available", "queue_timeout")


@dataclass
class GatewayJobBackend:
    loop: asyncio.AbstractEventLoop
    generation: GenerationService
    perception: PerceptionService
    generation_model: str
    translate_model: str
    call_timeout_s: float
    stopping: Callable[[], bool] = lambda: False  # the worker is shutting down: stop waiting for replicas

    def _wait(self, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Runs `call()` on the gateway's loop. While every replica is busy (429) or none is healthy (503) the
        job waits (up to the call timeout, or until the worker stops) instead of failing the article; a model
        that no healthy replica serves fails it at once (the article's JSON names the model)."""
        deadline = time.monotonic() + self.call_timeout_s
        while True:
            try:
                return asyncio.run_coroutine_threadsafe(call(), self.loop).result(self.call_timeout_s + 30)
            except GatewayError as error:
                if error.code not in WAIT_FOR or time.monotonic() > deadline or self.stopping():
                    raise
                time.sleep(BUSY_BACKOFF_S)

    def translate(self, texts: list[str], num_beams: int | None, max_new_tokens: int | None) -> list[str]:
        tensors = []
        for name, (dtype, array) in translate_arrays(texts, num_beams, max_new_tokens).items():
            tensor = InferInput(name, list(array.shape), dtype)
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)
        result, _, _ = self._wait(lambda: self.generation.call(self.translate_model, tensors,
                                                       [InferRequestedOutput("translation")], priority=BATCH))
        return decode_translations(result.as_numpy("translation"))

    def generate(self, prompt: str, negative_prompt: str, seed: int, inputs: Mapping[str, Any]
                 ) -> tuple[np.ndarray, int]:
        job = GenerationJob.create(self.generation_model, {"prompt": prompt, "negative_prompt": negative_prompt or None,
                                                           **inputs}, seed=seed, contract="txt2img")
        generated = self._wait(lambda: self.generation.generate(job, priority=BATCH))
        return generated.images[0], generated.seed

    def score(self, image: np.ndarray, text: str) -> float:
        outputs = self._wait(lambda: self.perception.infer("clip_score", {"image": image[None], "text": [text]},
                                                   priority=BATCH))
        return float(outputs["score"][0])

"""A component's Triton statistics once they settle: the evidence for batching across requests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol


class StatisticsClient(Protocol):
    def model_statistics(self, model: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ModelCounts:
    requests: int  # requests the model answered successfully
    executions: int  # model executions (requests merged by the dynamic batcher count once)
    samples: int  # batch items over all requests

    def __sub__(self, other: "ModelCounts") -> "ModelCounts":
        return ModelCounts(self.requests - other.requests, self.executions - other.executions,
                           self.samples - other.samples)


def settled_counts(client: StatisticsClient, model: str, settle_s: float = 5.0) -> ModelCounts:
    """`model`'s counts once they stop changing: Triton may count an execution a moment after its responses
    reached the caller."""
    def read() -> ModelCounts:
        stats = client.model_statistics(model)
        return ModelCounts(int(stats["inference_stats"]["success"]["count"]), int(stats.get("execution_count", 0)),
                           int(stats.get("inference_count", 0)))

    previous, deadline = read(), time.monotonic() + settle_s
    while True:
        time.sleep(0.1)
        current = read()
        if current == previous or time.monotonic() > deadline:
            return current
        previous = current

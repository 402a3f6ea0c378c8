"""The CLIP quality gate: generate, score against the short prompt, regenerate with a new seed below the
threshold (up to K more times); the best attempt is kept and every attempt recorded."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    seed: int
    score: float
    generate_s: float
    score_s: float

    def record(self) -> dict[str, float | int]:
        return {"seed": self.seed, "score": round(self.score, 4), "generate_s": round(self.generate_s, 3),
                "score_s": round(self.score_s, 3)}


@dataclass(frozen=True)
class GateResult:
    image: np.ndarray  # the best attempt's image, uint8 [H, W, 3]
    best: Attempt
    attempts: tuple[Attempt, ...]
    threshold: float

    @property
    def passed(self) -> bool:
        return self.best.score >= self.threshold


@dataclass(frozen=True)
class QualityGate:
    threshold: float
    max_retries: int  # K: regenerations after the first attempt

    def run(self, generate: Callable[[int], tuple[np.ndarray, int]], score: Callable[[np.ndarray], float],
            seed_for: Callable[[int], int], should_stop: Callable[[], bool] = lambda: False) -> GateResult:
        """`generate(seed)` -> (image, seed used); `score(image)` -> CLIP score; `seed_for(attempt)` -> seed.
        Stops early at the first attempt that passes, or when `should_stop()` (a cancelled job)."""
        attempts: list[Attempt] = []
        best_image: np.ndarray | None = None
        for attempt in range(self.max_retries + 1):
            started = time.perf_counter()
            image, seed = generate(seed_for(attempt))
            generated = time.perf_counter()
            value = float(score(image))
            attempts.append(Attempt(seed, value, generated - started, time.perf_counter() - generated))
            if best_image is None or value > max(a.score for a in attempts[:-1]):
                best_image = image
            if value >= self.threshold:
                break
            log.info("attempt %d: score %.2f below %.2f%s", attempt + 1, value, self.threshold,
                     "; regenerating" if attempt < self.max_retries else "; keeping the best")
            if should_stop():
                break
        best = max(attempts, key=lambda a: a.score)  # the first of equal scores
        assert best_image is not None
        return GateResult(best_image, best, tuple(attempts), self.threshold)

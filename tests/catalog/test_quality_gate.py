"""The quality gate's decisions: stop at the first pass, regenerate up to K times, keep the best attempt."""

from __future__ import annotations

import numpy as np

from catalog.quality_gate import QualityGate


def _run(scores: list[float], threshold: float, retries: int):
    """Images are filled with their attempt number, so the kept image says which attempt it was."""
    calls: list[int] = []

    def generate(seed: int) -> tuple[np.ndarray, int]:
        calls.append(seed)
        return np.full((2, 2, 3), len(calls) - 1, np.uint8), seed

    score = lambda image: scores[int(image[0, 0, 0])]  # noqa: E731
    return QualityGate(threshold, retries).run(generate, score, lambda attempt: 100 + attempt), calls


def test_first_attempt_that_passes_is_kept_and_no_more_are_made() -> None:
    result, calls = _run([12.0, 31.0, 50.0], threshold=30, retries=2)
    assert calls == [100, 101] and result.passed
    assert result.best.seed == 101 and int(result.image[0, 0, 0]) == 1
    assert [a.score for a in result.attempts] == [12.0, 31.0]


def test_below_threshold_regenerates_k_times_and_keeps_the_best() -> None:
    result, calls = _run([12.0, 20.0, 15.0], threshold=30, retries=2)
    assert calls == [100, 101, 102] and not result.passed
    assert result.best.score == 20.0 and result.best.seed == 101 and int(result.image[0, 0, 0]) == 1
    assert len(result.attempts) == 3


def test_zero_retries_makes_one_attempt() -> None:
    result, calls = _run([1.0], threshold=30, retries=0)
    assert calls == [100] and not result.passed and len(result.attempts) == 1

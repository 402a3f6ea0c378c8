"""The workflow benchmark's arithmetic: stages from Triton statistics deltas, ratios, the Markdown table."""

from __future__ import annotations

from benchmarks.stats import ModelStats
from benchmarks.workflows import markdown, summarise


def stats(requests: int, compute_ms: float, success_ms: float = 0.0) -> ModelStats:
    ns = int(compute_ms * 1e6)
    return ModelStats(requests=requests, executions=requests, inferences=requests, success_ns=int(success_ms * 1e6),
                      queue_ns=0, compute_input_ns=0, compute_infer_ns=ns, compute_output_ns=0)


def test_stages_are_per_request_and_orchestration_is_the_rest():
    phase = {"background_replace": stats(2, 0, success_ms=1000), "foreground_mask": stats(2, 100),
             "depth_estimator": stats(2, 60), "unet_controlnet": stats(20, 400), "controlnet_depth": stats(20, 200),
             "vae_decoder": stats(2, 40), "text_encoder": stats(2, 20), "vae_encoder": stats(4, 80)}
    result = summarise("background_replace", [510.0, 490.0], [1000.0, 1100.0], phase, requests=2)
    assert result["stages_ms"]["mask"] == 50 and result["stages_ms"]["denoise"] == 300
    assert result["stages_ms"]["orchestration"] == 500 - (50 + 30 + 300 + 20 + 10 + 40)
    assert result["ratio"] == 500 / 1050
    table = markdown("tiny", 10, {"background_replace": result}, "python -m benchmarks.workflows")
    assert "| `background_replace` | 1050 | 500 | 0.48x |" in table
    assert "segmentation" not in table  # stages no workflow ran are not columns

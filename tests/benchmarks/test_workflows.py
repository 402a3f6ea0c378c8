"""The workflow benchmark's arithmetic: stages from Triton statistics deltas, ratios, the Markdown table."""

from __future__ import annotations

import json

import pytest

from benchmarks.stats import ModelStats
from benchmarks.workflows import appended, markdown, needed_controlnets, served_models, summarise


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
    assert "| `background_replace` | 1050 | 500 | 0.48x | alternating |" in table
    assert "segmentation" not in table  # stages no workflow ran are not columns


def test_only_the_requested_workflows_and_their_controlnets_are_served(tmp_path):
    for name in ("txt2img", "txt2img_stream", "img2img", "background_replace", "background_replace_stream",
                 "restyle_room", "product_finder", "controlnet_depth", "controlnet_seg", "unet_controlnet",
                 "depth_estimator", "segmenter", "sam_automatic"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.pbtxt").write_text("")
    (tmp_path / "assets").mkdir()  # no config: not a model
    assert needed_controlnets(["background_replace"]) == ["depth"]
    assert needed_controlnets(["restyle_room", "background_replace"]) == ["depth", "seg"]
    assert needed_controlnets(["product_finder"]) == []
    assert served_models(tmp_path, ["background_replace"]) == [
        "background_replace", "controlnet_depth", "depth_estimator", "sam_automatic", "segmenter", "unet_controlnet"]
    assert "controlnet_seg" in served_models(tmp_path, ["restyle_room"])
    assert not any(m.startswith("controlnet_") for m in served_models(tmp_path, ["product_finder"]))


def test_append_adds_rows_and_refuses_another_step_count(tmp_path):
    path = tmp_path / "workflows-sd15-cpu.json"
    assert appended(path, 4, {"restyle_room": {"ratio": 1.0}}, "b") == ({"restyle_room": {"ratio": 1.0}}, "b")
    path.write_text(json.dumps({"command": "a", "steps": 4, "results": {"background_replace": {"ratio": 0.9},
                                                                         "restyle_room": {"ratio": 2.0}}}))
    results, command = appended(path, 4, {"restyle_room": {"ratio": 1.0}}, "b")
    assert results == {"background_replace": {"ratio": 0.9}, "restyle_room": {"ratio": 1.0}} and command == "a; b"
    with pytest.raises(SystemExit, match="4 steps"):
        appended(path, 10, {}, "c")

"""README's Performance section is the render of the committed results: tables and the reading of the run alike."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from benchmarks import cli, report
from tests.benchmarks import checks

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"


def _readme_block() -> str:
    text = README.read_text()
    match = re.search(re.escape(report.README_START) + r"\n(.*?)\n" + re.escape(report.README_END), text, re.S)
    assert match, "README has no generated Performance section"
    return match[1]


def test_readme_performance_section_is_the_render_of_the_committed_results() -> None:
    """`python -m benchmarks render --update-readme` would leave README unchanged: nothing in it is hand-edited."""
    assert _readme_block() == cli.readme_section().rstrip()


def test_no_reading_of_the_run_outside_the_generated_section() -> None:
    """Prose about the run's numbers lives only between the markers, where it is generated."""
    text = README.read_text()
    start, end = text.index(report.README_START), text.index(report.README_END)
    outside = text[:start] + text[end:]
    for phrase in ("Reading the latest", "Reading this run", "goal <=", "not met"):
        assert phrase not in outside, phrase
    assert "Reading this run (generated from the same result files as the tables):" in text[start:end]


def _committed() -> list[dict]:
    return [json.loads((RESULTS / f"e2e-{preset}-cpu.json").read_text()) for preset in ("tiny", "sd15")]


def test_reading_follows_the_numbers() -> None:
    """Change a result and the sentence changes with it (the old hand-written prose could not)."""
    results = _committed()
    reading = report.reading_markdown(results, report.check_goals(results), None)
    ratio = next(r for r in results[1]["ratios"] if r["numerator"] == "triton[onnxruntime]")["latency_p50"]
    assert f"vs diffusers in-process: met** (measured {ratio:.2f}x; goal <= 0.75x)" in reading

    slower = copy.deepcopy(results)
    sd15 = slower[1]
    for r in sd15["ratios"]:
        if r["numerator"] == "triton[onnxruntime]":
            r["latency_p50"] = 1.32
    for t in sd15["targets"]:
        if t["name"] == "triton[onnxruntime]":
            t["stages"]["unet_step_ms"] = 2900.0
    reading = report.reading_markdown(slower, report.check_goals(slower), None)
    assert "vs diffusers in-process: not met** (measured 1.32x; goal <= 0.75x)" in reading
    assert "the UNet took 4 x 2,900 ms" in reading

    tiny = slower[0]
    for t in tiny["targets"]:
        if t["name"] == "gateway[onnxruntime]":
            t["paired"]["added_ms_median_of_pairs"] = 1.5
    reading = report.reading_markdown(slower, report.check_goals(slower), None)
    assert "gateway: added p50 over direct Triton gRPC (tiny): met** (measured +1.50 ms" in reading


def test_committed_results_hold_the_image_tolerance() -> None:
    """Served images of the committed run are within 1 of diffusers (checks.py holds every run to that)."""
    tiny, sd15 = _committed()
    checks.check_e2e(tiny, runtimes=("onnxruntime", "torch"), gateway=True)
    for target in sd15["targets"]:
        if target["kind"] != "diffusers":
            assert target["max_abs_diff_vs_diffusers"] <= 1, target["name"]

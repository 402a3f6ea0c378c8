"""Well-formedness checks of the benchmark result files: numbers present, ratios consistent with raw figures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

REL = 1e-9


def finite_positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def load(path: Path) -> dict[str, Any]:
    assert path.exists(), f"missing {path}"
    data = json.loads(path.read_text())
    assert data["schema"] == "imagery-serving/benchmark/1"
    return data


def check_machine(data: dict[str, Any]) -> None:
    machine = data["machine"]
    for key in ("cpu_model", "cpu_cores", "platform", "device", "versions", "git_commit", "load_average"):
        assert machine[key] not in (None, "", []), key
    assert "torch" in machine["versions"] and "diffusers" in machine["versions"]
    assert data["command"].startswith("python -m benchmarks ")


def check_e2e(data: dict[str, Any], runtimes: tuple[str, ...], gateway: bool) -> None:
    check_machine(data)
    assert data["kind"] == "e2e" and data["precision"] in ("fp32", "fp16")
    levels = data["workload"]["concurrency"]
    names = [t["name"] for t in data["targets"]]
    expected = ["diffusers", *(f"triton[{r}]" for r in runtimes)]
    if gateway:
        expected.append(f"gateway[{runtimes[0]}]")
    assert sorted(names) == sorted(expected)

    for target in data["targets"]:
        latency = target["latency_ms"]
        assert latency["n"] == data["workload"]["latency_requests"]
        for q in ("p50", "p90", "p99", "mean"):
            assert finite_positive(latency[q]), (target["name"], q)
        assert latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
        assert [run["concurrency"] for run in target["throughput"]] == levels
        for run in target["throughput"]:
            assert finite_positive(run["images_per_s"])
            assert math.isclose(run["images_per_s"], run["images"] / run["wall_s"], rel_tol=REL)
        if target["kind"] == "gateway":
            paired = target["paired"]
            assert paired["pairs"] == data["workload"]["latency_requests"]
            assert finite_positive(paired["p50_ms"]) and finite_positive(paired["baseline_p50_ms"])
            assert math.isfinite(paired["added_ms_median_of_pairs"])
        else:
            assert target["paired"] is None
        if target["kind"] == "diffusers":
            assert target["stages"] is None and target["max_abs_diff_vs_diffusers"] is None
            continue
        # Same weights, seed and scheduler: the served image is the diffusers image (to rounding).
        assert target["max_abs_diff_vs_diffusers"] <= 1, target["name"]
        stages = target["stages"]
        assert stages["steps"] == data["workload"]["steps"]
        for key in ("served_ms", "text_encoder_ms", "unet_step_ms", "vae_decode_ms", "components_ms"):
            assert finite_positive(stages[key]), key
        assert math.isclose(stages["components_ms"] + stages["overhead_ms"], stages["served_ms"], rel_tol=1e-6)
        assert math.isclose(stages["overhead_per_step_ms"] * stages["steps"], stages["overhead_ms"], rel_tol=1e-6)
        fit = target["overhead_fit"]
        if target["kind"] == "triton" and data["workload"]["overhead_probe_steps"]:
            (short, long), (short_ms, long_ms) = fit["steps"], fit["overhead_ms"]
            assert long == stages["steps"] and math.isclose(long_ms, stages["overhead_ms"], rel_tol=1e-6)
            assert math.isclose(fit["per_step_ms"] * (long - short), long_ms - short_ms, rel_tol=1e-6, abs_tol=1e-9)
            assert math.isclose(fit["fixed_ms"] + fit["per_step_ms"] * long, long_ms, rel_tol=1e-6, abs_tol=1e-9)
        else:
            assert fit is None
        assert [b["concurrency"] for b in target["batching"]] == [c for c in levels if c > 1]
        for batching in target["batching"]:
            assert batching["txt2img_requests"] == data["workload"]["waves"] * batching["concurrency"]
            assert batching["unet_requests"] == batching["txt2img_requests"] * data["workload"]["steps"]
            assert math.isclose(batching["mean_batch"], batching["unet_samples"] / batching["unet_executions"], rel_tol=REL)
            assert batching["mean_batch"] >= 2  # a CFG pair is never split

    by_name = {t["name"]: t for t in data["targets"]}
    assert len(data["ratios"]) == len(expected) - 1
    for ratio in data["ratios"]:
        top, bottom = by_name[ratio["numerator"]], by_name[ratio["denominator"]]
        expected_bottom = "diffusers" if top["kind"] == "triton" else f"triton[{top['runtime']}]"
        assert bottom["name"] == expected_bottom
        for q in ("p50", "p90", "p99"):
            assert math.isclose(ratio[f"latency_{q}"], top["latency_ms"][q] / bottom["latency_ms"][q], rel_tol=REL)
        assert math.isclose(ratio["added_ms_p50"], top["latency_ms"]["p50"] - bottom["latency_ms"]["p50"], rel_tol=REL,
                            abs_tol=1e-9)
        rates = {run["concurrency"]: run["images_per_s"] for run in bottom["throughput"]}
        assert sorted(int(c) for c in ratio["throughput"]) == levels
        for run in top["throughput"]:
            assert math.isclose(ratio["throughput"][str(run["concurrency"])],
                                run["images_per_s"] / rates[run["concurrency"]], rel_tol=REL)


def check_perf(data: dict[str, Any], models: tuple[str, ...], levels: tuple[int, ...]) -> None:
    check_machine(data)
    assert data["kind"] == "perf_analyzer"
    rows = {(row["model"], row["concurrency"]): row for row in data["rows"]}
    assert sorted(rows) == sorted((m, c) for m in models for c in levels)
    for row in rows.values():
        for key in ("inferences_per_s", "requests_per_s", "p50_ms", "p99_ms", "server_compute_ms"):
            assert finite_positive(row[key]), (row["model"], key)
        assert math.isclose(row["requests_per_s"] * row["batch_size"], row["inferences_per_s"], rel_tol=REL)
        assert row["p50_ms"] <= row["p99_ms"]


def check_markdown(path: Path, *needles: str) -> None:
    text = path.read_text()
    assert text.count("|") > 10, f"{path} has no table"
    for needle in needles:
        assert needle in text, (path, needle)


def check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert path.stat().st_size < 200_000, f"{path} is too big to commit"

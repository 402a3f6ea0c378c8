"""PNG plots of an end-to-end result: latency and throughput vs concurrency, and the stage breakdown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.report import e2e_stem, workload_line  # noqa: E402

log = logging.getLogger(__name__)

STAGES = (
    ("text_encoder_ms", "text encoder"),
    ("unet_total_ms", "UNet (all steps)"),
    ("vae_decode_ms", "VAE decode"),
    ("overhead_ms", "orchestration overhead"),
)


def _save(figure: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    log.info("wrote %s", path)
    return path


def versus_concurrency(result: dict[str, Any], path: Path, metric: str) -> Path:
    """metric: "latency" (p50 per level, ms) or "throughput" (images/s)."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for target in result["targets"]:
        runs = sorted(target["throughput"], key=lambda run: run["concurrency"])
        x = [run["concurrency"] for run in runs]
        y = [run["latency_ms"]["p50"] if metric == "latency" else run["images_per_s"] for run in runs]
        axes.plot(x, y, marker="o", label=target["name"])
    axes.set_xscale("log", base=2)
    axes.set_xticks(result["workload"]["concurrency"], [str(c) for c in result["workload"]["concurrency"]])
    axes.set_xlabel("concurrency (requests in flight)")
    axes.set_ylabel("p50 latency (ms)" if metric == "latency" else "throughput (images/s)")
    axes.set_title(workload_line(result), fontsize=8)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    return _save(figure, path)


def stage_breakdown(result: dict[str, Any], path: Path) -> Path:
    """Stacked bars per Triton target (statistics API), with the diffusers total for scale."""
    figure, axes = plt.subplots(figsize=(7, 3.5))
    labels, lefts = [], []
    for target in result["targets"]:
        if target["kind"] == "diffusers":
            labels.append(f"{target['name']} (total)")
            axes.barh(len(labels) - 1, target["latency_ms"]["p50"], color="lightgray")
            continue
        if not target["stages"] or target["kind"] != "triton":
            continue
        labels.append(target["name"])
        left = 0.0
        for key, name in STAGES:
            value = max(target["stages"][key], 0.0)
            axes.barh(len(labels) - 1, value, left=left, color=f"C{[k for k, _ in STAGES].index(key)}",
                      label=name if not lefts else None)
            left += value
        lefts.append(left)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("ms per request at concurrency 1")
    axes.set_title(workload_line(result), fontsize=8)
    axes.legend(fontsize=7, loc="lower right")
    axes.grid(True, axis="x", alpha=0.3)
    return _save(figure, path)


def plot_e2e(result: dict[str, Any], directory: Path) -> list[Path]:
    stem = e2e_stem(result)
    return [
        versus_concurrency(result, directory / f"{stem}-latency.png", "latency"),
        versus_concurrency(result, directory / f"{stem}-throughput.png", "throughput"),
        stage_breakdown(result, directory / f"{stem}-stages.png"),
    ]

"""A finished job's summary: summary.json, summary.md and a histogram of the scores (scores.png)."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

from catalog.job_store import Counts, Job

log = logging.getLogger(__name__)

HISTOGRAM = "scores.png"


def score_stats(scores: list[float]) -> dict[str, float | None]:
    if not scores:
        return {"mean": None, "median": None, "std": None, "min": None, "max": None}
    return {"mean": round(statistics.fmean(scores), 4), "median": round(statistics.median(scores), 4),
            "std": round(statistics.pstdev(scores), 4), "min": round(min(scores), 4), "max": round(max(scores), 4)}


def summarise(job: Job, counts: Counts, items: list[dict]) -> dict:
    """`items`: the store's finished items (score, passed, error per article)."""
    scores = [item["score"] for item in items if item["score"] is not None]
    minutes = counts.seconds / 60
    return {
        "job": job.id, "input": job.input_name, "model": job.options.model, "threshold": job.options.threshold,
        "max_retries": job.options.max_retries, "items": counts.total, "done": counts.done,
        "failed": counts.failed, "passed": counts.passed,
        "pass_rate": round(counts.passed / counts.done, 4) if counts.done else None,
        "score": score_stats(scores),
        "processing_s": round(counts.seconds, 3),
        "items_per_minute": round(counts.finished / minutes, 3) if minutes > 0 else None,
        "errors": [{"id": item["article_id"], "error": item["error"]} for item in items if item["error"]],
    }


def _markdown(summary: dict) -> str:
    score = summary["score"]
    fmt = lambda v: "-" if v is None else f"{v:g}"  # noqa: E731
    lines = [
        f"# Catalog job {summary['job']}", "",
        f"Input `{summary['input']}`, model variant `{summary['model'] or 'default'}`, threshold "
        f"{summary['threshold']:g}, up to {summary['max_retries']} regenerations.", "",
        "| items | done | row errors | passed | pass rate | mean | median | std | min | max | items/min |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary['items']} | {summary['done']} | {summary['failed']} | {summary['passed']} | "
        f"{fmt(summary['pass_rate'])} | {fmt(score['mean'])} | {fmt(score['median'])} | {fmt(score['std'])} | "
        f"{fmt(score['min'])} | {fmt(score['max'])} | {fmt(summary['items_per_minute'])} |", "",
        f"Throughput is items finished per minute of processing time ({summary['processing_s']:g} s in all). "
        f"Scores: CLIP score of the kept attempt (100 x cosine). Histogram: `{HISTOGRAM}`.",
    ]
    if summary["errors"]:
        lines += ["", "## Row errors", "", "| id | error |", "|---|---|"]
        lines += [f"| {e['id']} | {e['error'].replace('|', '/')} |" for e in summary["errors"]]
    return "\n".join(lines) + "\n"


def _histogram(scores: list[float], threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; a file
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5))
    axes = figure.subplots()
    axes.hist(scores, bins=max(5, min(30, len(scores))), color="#4a7ab8", edgecolor="white")
    axes.axvline(threshold, color="#c0392b", linestyle="--", label=f"threshold {threshold:g}")
    axes.set_xlabel("CLIP score (kept attempt)")
    axes.set_ylabel("items")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def write_summary(job: Job, counts: Counts, items: list[dict]) -> dict:
    summary = summarise(job, counts, items)
    out = job.out_dir
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(_markdown(summary), encoding="utf-8")
    _histogram([item["score"] for item in items if item["score"] is not None], job.options.threshold,
               out / HISTOGRAM)
    log.info("job %s: %d items, %d done, %d row errors, pass rate %s, %s items/min; summary in %s", job.id,
             counts.total, counts.done, counts.failed, summary["pass_rate"], summary["items_per_minute"], out)
    return summary

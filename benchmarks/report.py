"""Results files: JSON (everything, with the machine) and Markdown tables, plus the targets of issue 4 checked.

File names carry the preset and device but no date: the committed files are the latest run and git
keeps the history.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA = "imagery-serving/benchmark/1"
README_START = "<!-- benchmarks:start -->"
README_END = "<!-- benchmarks:end -->"


def write_json(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": SCHEMA, **result}, indent=2, default=_jsonable) + "\n")
    log.info("wrote %s", path)
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _f(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    """Milliseconds with sensible precision from 0.1 ms to minutes."""
    if value is None:
        return "-"
    return _f(value, 2 if abs(value) < 10 else 1 if abs(value) < 1000 else 0)


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return _f(value, 3 if value < 10 else 1)


def e2e_stem(result: dict[str, Any]) -> str:
    """Result file names: e2e-<preset>[-<pipeline>]-<device> (txt2img keeps the plain name)."""
    pipeline = result["workload"].get("pipeline", "txt2img")
    infix = "" if pipeline == "txt2img" else f"-{pipeline}"
    return f"e2e-{result['preset']}{infix}-{device_label(result)}"


def device_label(result: dict[str, Any]) -> str:
    """"cpu", or "cuda-<gpu>" (results from a GPU are named after it: nvidia-h100-80gb-hbm3)."""
    gpu = (result.get("machine") or {}).get("gpu")
    if result["device"] != "cuda" or not gpu:
        return result["device"]
    return "cuda-" + re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-")


def workload_line(result: dict[str, Any]) -> str:
    w = result["workload"]
    pipeline = w.get("pipeline", "txt2img")
    detail = {"img2img": f"img2img at strength {w.get('strength')}, ",
              "controlnet": "txt2img with one ControlNet (depth), "}.get(pipeline, "")
    return (f"{w['preset']}: {detail}{w['width']}x{w['height']} px, {w['steps']} steps, {w['scheduler']}, guidance "
            f"{w['guidance_scale']:g}, seed {w['seed']}, {w['precision']} on {w['device']}")


def e2e_markdown(result: dict[str, Any]) -> str:
    levels = result["workload"]["concurrency"]
    ratios = {(r["numerator"], r["denominator"]): r for r in result["ratios"]}
    lines = [
        f"#### End to end, {workload_line(result)}",
        "",
        f"Load average (1, 5, 15 min) when this preset finished: {result['machine']['load_average']}; targets "
        "run one after the other, so load that changes during the run biases their ratios.",
        "",
        "| target | runtime | p50 ms | p90 ms | p99 ms | n | " + " | ".join(f"img/s c={c}" for c in levels)
        + " | p50 ratio | img/s ratio c=" + f"{max(levels)} |",
        "|---|---|---:|---:|---:|---:|" + "---:|" * len(levels) + "---:|---:|",
    ]
    for target in result["targets"]:
        latency = target["latency_ms"]
        rates = {run["concurrency"]: run["images_per_s"] for run in target["throughput"]}
        versus = next((r for (n, _), r in ratios.items() if n == target["name"]), None)
        if versus is None:
            p50_ratio, rate_ratio = "baseline", "baseline"
        else:
            p50_ratio = f"{versus['latency_p50']:.2f}x vs {versus['denominator']}"
            if target["kind"] == "gateway":
                p50_ratio += f" ({versus['added_ms_p50']:+.1f} ms)"
            top = versus["throughput"].get(str(max(levels)))
            rate_ratio = f"{top:.2f}x" if top is not None else "-"
        lines.append(
            f"| {target['name']} | {target['runtime']} | {_ms(latency['p50'])} | {_ms(latency['p90'])} | "
            f"{_ms(latency['p99'])} | {latency['n']} | " + " | ".join(_rate(rates.get(c)) for c in levels)
            + f" | {p50_ratio} | {rate_ratio} |"
        )
    staged = [t for t in result["targets"] if t["stages"]]
    if staged:
        lines += [
            "",
            "Where the time goes (Triton statistics, per request at concurrency 1, ms):",
            "",
            "| target | served | text encoder | UNet per step | UNet queue per step | VAE decode "
            "| overhead per step | overhead slope per step + fixed | max pixel diff vs diffusers |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for target in staged:
            s, fit = target["stages"], target.get("overhead_fit")
            split = f"{_ms(fit['per_step_ms'])} + {_ms(fit['fixed_ms'])}" if fit else "-"
            lines.append(
                f"| {target['name']} | {_ms(s['served_ms'])} | {_ms(s['text_encoder_ms'])} | {_ms(s['unet_step_ms'])} | "
                f"{_ms(s['unet_step_queue_ms'])} | {_ms(s['vae_decode_ms'])} | {_ms(s['overhead_per_step_ms'])} | "
                f"{split} | {target['max_abs_diff_vs_diffusers']} |"
            )
        lines += ["", "Overhead = served time minus the components' compute (BLS hops, queues, tokenizer, scheduler "
                      "arithmetic); per step = overhead / steps. The slope comes from a second run at "
                      "fewer steps and separates per-step from per-request costs."]
    batched = [t for t in result["targets"] if t["batching"]]
    if batched:
        lines += [
            "",
            "Step-level batching in the UNet (concurrency runs):",
            "",
            "| target | concurrency | txt2img requests | UNet requests | UNet executions | mean batch (samples) "
            "| requests per execution |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for target in batched:
            for b in target["batching"]:
                lines.append(
                    f"| {target['name']} | {b['concurrency']} | {b['txt2img_requests']} | {b['unet_requests']} | "
                    f"{b['unet_executions']} | {_f(b['mean_batch'], 2)} | {_f(b['requests_per_execution'], 2)} |"
                )
    for target in result["targets"]:
        if target.get("paired"):
            paired = target["paired"]
            lines += ["", f"{target['name']} alternating with {paired['baseline']} ({paired['pairs']} pairs at "
                          f"concurrency 1): p50 {_ms(paired['p50_ms'])} vs {_ms(paired['baseline_p50_ms'])} ms, "
                          f"added {paired['added_ms_median_of_pairs']:+.2f} ms (median of pair differences)."]
    for note in result.get("notes", []):
        lines += ["", f"Note: {note}."]
    return "\n".join(lines) + "\n"


def perf_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"#### perf_analyzer, {result['preset']} preset ({result['request']['width']}x{result['request']['height']} px, "
        f"txt2img at {result['request']['num_inference_steps']} steps), {result.get('runtime', 'served')} components, gRPC",
        "",
        "| model | batch | concurrency | requests/s | p50 ms | p90 ms | p99 ms | server queue ms | server compute ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['model']} | {row['batch_size']} | {row['concurrency']} | {_rate(row['requests_per_s'])} | "
            f"{_ms(row['p50_ms'])} | {_ms(row['p90_ms'])} | {_ms(row['p99_ms'])} | {_ms(row['server_queue_ms'])} | "
            f"{_ms(row['server_compute_ms'])} |"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Goal:
    name: str
    threshold: str
    measured: str
    met: bool | None  # None: not measured in this run
    limit: str = ""
    detail: str = ""  # what drives the figure, in a sentence built from the same result numbers


def _target(result: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((t for t in result["targets"] if t["name"] == name), None)


def _ratio(result: dict[str, Any], numerator: str, denominator: str) -> dict[str, Any] | None:
    return next((r for r in result["ratios"] if r["numerator"] == numerator and r["denominator"] == denominator), None)


def check_goals(results: list[dict[str, Any]]) -> list[Goal]:
    """The targets of issue 4 against this run's e2e results (benchmark figures, not assertions)."""
    by_preset = {r["preset"]: r for r in results if r.get("kind") == "e2e"}
    goals = []

    sd15 = by_preset.get("sd15")
    ratio = _ratio(sd15, "triton[onnxruntime]", "diffusers") if sd15 else None
    if ratio and sd15["device"] == "cpu":
        served = _target(sd15, "triton[onnxruntime]")
        detail = (f"served p50 {_ms(served['latency_ms']['p50'])} ms against diffusers' "
                  f"{_ms(_target(sd15, 'diffusers')['latency_ms']['p50'])} ms")
        if served["stages"]:
            s = served["stages"]
            detail += (f"; of the {_ms(s['served_ms'])} ms served, the UNet took {s['steps']} x "
                       f"{_ms(s['unet_step_ms'])} ms and the VAE decode {_ms(s['vae_decode_ms'])} ms")
        goals.append(Goal("sd15 256 px CPU: Triton (onnxruntime) p50 latency vs diffusers in-process", "<= 0.75x",
                          f"{ratio['latency_p50']:.2f}x", ratio["latency_p50"] <= 0.75, detail=detail))
    else:
        goals.append(Goal("sd15 256 px CPU: Triton (onnxruntime) p50 latency vs diffusers in-process", "<= 0.75x",
                          "not measured", None))

    tiny = by_preset.get("tiny")
    triton = _target(tiny, "triton[onnxruntime]") if tiny else None
    if triton and triton["stages"]:
        overhead = triton["stages"]["overhead_per_step_ms"]
        fit = triton.get("overhead_fit")
        measured = f"{overhead:.2f} ms" + (f" (slope {fit['per_step_ms']:.2f} ms/step + {fit['fixed_ms']:.1f} ms "
                                           f"per request)" if fit else "")
        s = triton["stages"]
        detail = (f"{_ms(s['overhead_ms'])} ms of the {_ms(s['served_ms'])} ms served at {s['steps']} steps is not "
                  f"component compute (BLS hops, queues, tokenizer, scheduler arithmetic)")
        if fit:
            detail += (f"; a run at {fit['steps'][0]} steps splits it into {_ms(fit['per_step_ms'])} ms per step and "
                       f"{_ms(fit['fixed_ms'])} ms per request")
        goals.append(Goal("tiny: orchestration overhead per denoising step", "<= 1 ms", measured, overhead <= 1.0,
                          detail=detail))
    else:
        goals.append(Goal("tiny: orchestration overhead per denoising step", "<= 1 ms", "not measured", None))

    rates = {run["concurrency"]: run["images_per_s"] for run in triton["throughput"]} if triton else {}
    batch4 = next((b for b in triton["batching"] if b["concurrency"] == 4), None) if triton else None
    if 1 in rates and 4 in rates and batch4:
        scaling = rates[4] / rates[1]
        detail = (f"{_rate(rates[1])} images/s at concurrency 1, {_rate(rates[4])} at 4; {batch4['unet_executions']} UNet "
                  f"executions served {batch4['unet_requests']} UNet requests "
                  f"({batch4['requests_per_execution']:.2f} requests per execution)")
        goals.append(Goal("tiny: throughput c=4 vs c=1, UNet mean batch at c=4", ">= 1.5x, batch > 2",
                          f"{scaling:.2f}x, batch {batch4['mean_batch']:.2f}",
                          scaling >= 1.5 and batch4["mean_batch"] > 2, detail=detail))
    else:
        goals.append(Goal("tiny: throughput c=4 vs c=1, UNet mean batch at c=4", ">= 1.5x, batch > 2",
                          "not measured", None))

    gateway = _ratio(tiny, "gateway[onnxruntime]", "triton[onnxruntime]") if tiny else None
    paired = (_target(tiny, "gateway[onnxruntime]") or {}).get("paired") if tiny else None
    if paired:
        added = paired["added_ms_median_of_pairs"]
        goals.append(Goal("gateway: added p50 over direct Triton gRPC (tiny)", "<= 3 ms",
                          f"{added:+.2f} ms (median of {paired['pairs']} alternating pairs; blocks: "
                          f"{gateway['added_ms_p50']:+.2f} ms)", added <= 3.0,
                          detail=f"through the gateway p50 {_ms(paired['p50_ms'])} ms against "
                                 f"{_ms(paired['baseline_p50_ms'])} ms direct, in alternating pairs"))
    elif gateway:
        goals.append(Goal("gateway: added p50 over direct Triton gRPC (tiny)", "<= 3 ms",
                          f"{gateway['added_ms_p50']:+.2f} ms", gateway["added_ms_p50"] <= 3.0))
    else:
        goals.append(Goal("gateway: added p50 over direct Triton gRPC (tiny)", "<= 3 ms", "not measured", None))
    return goals


def goals_markdown(goals: list[Goal]) -> str:
    lines = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for goal in goals:
        met = "not measured" if goal.met is None else "yes" if goal.met else "**no**"
        lines.append(f"| {goal.name} | {goal.threshold} | {goal.measured} | {met} |")
    return "\n".join(lines) + "\n"


def reading_markdown(results: list[dict[str, Any]], goals: list[Goal], quiet: dict[str, Any] | None) -> str:
    """The run in sentences, every number taken from the results (nothing here is written by hand)."""
    lines = ["Reading this run (generated from the same result files as the tables):"]
    for goal in goals:
        outcome = "not measured" if goal.met is None else "met" if goal.met else "not met"
        measured = "" if goal.met is None else f" (measured {goal.measured}; goal {goal.threshold})"
        lines.append(f"- **{goal.name}: {outcome}**{measured}." + (f" {_sentence(goal.detail)}" if goal.detail else ""))
    torch_ratios = []
    for result in results:
        ratio = _ratio(result, "triton[torch]", "diffusers")
        if ratio:
            torch_ratios.append(f"{result['preset']} {ratio['latency_p50']:.2f}x")
    if torch_ratios:
        lines.append("- Triton with the torch runtime against diffusers (p50): " + ", ".join(torch_ratios) + ".")
    load = []
    if quiet is not None:
        state = "quiet" if quiet["quiet"] else f"busy ({len(quiet['competing'])} competing processes)"
        load.append(f"{state} at the start (load average {quiet['load_average']})")
    load += [f"{r['machine']['load_average']} when {r['preset']} finished" for r in results]
    if load:
        lines.append("- Machine load: " + "; ".join(load) + ". Targets of a preset run one after the other, so load "
                     "that changes during the run biases their ratios.")
    return "\n".join(lines) + "\n"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def machine_markdown(machine: dict[str, Any], quiet: dict[str, Any] | None) -> str:
    gpu = machine["gpu"] or "none"
    lines = [
        f"Machine: {machine['cpu_model']}, {machine['cpu_cores']} cores, {machine['memory_gib']} GiB, GPU: {gpu}; "
        f"{machine['platform']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        + f"; git {machine['git_commit'][:10]}{' (dirty)' if machine['git_dirty'] else ''}.",
    ]
    if quiet is not None:
        state = "quiet" if quiet["quiet"] else f"busy ({len(quiet['competing'])} competing processes)"
        lines.append(f"Load average at start {quiet['load_average']} after waiting {quiet['waited_s']:.0f} s: {state}.")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, section: str) -> None:
    """Replaces the text between the benchmark markers (appends a Performance section the first time)."""
    text = readme.read_text()
    block = f"{README_START}\n{section.rstrip()}\n{README_END}"
    if README_START in text and README_END in text:
        pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n## Performance\n\n" + block + "\n"
    readme.write_text(text)
    log.info("updated the Performance section of %s", readme)

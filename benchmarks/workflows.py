"""Photo-workflow benchmark: each workflow served by Triton against the same steps run by hand in-process
(rembg, transformers, diffusers on the same weights), in the same run, and where the served time goes.

    python -m benchmarks.workflows --preset tiny             # ~5 min on 2 cores
    python -m benchmarks.workflows --preset sd15 --workflows background_replace

The by-hand side is the parity tests' reference (benchmarks/references/workflows.py), so the benchmark
times exactly what the tests prove equal. Served and by-hand runs alternate request by request, so a
change in machine load hits both; with --in-turn (sd15, where both sides together exceed this machine's
memory) every served request runs first, then the by-hand side with the server stopped. The stage
breakdown is the per-request compute of each model the workflow calls, from deltas of Triton's statistics
around the served runs; `orchestration` is the workflow's own time inside Triton minus those (BLS hops,
pre/post-processing, scheduler, composite).
Writes benchmarks/results/workflows-<preset>-cpu.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.stats import ModelStats, timed
from clients.triton_client import TritonGenerationClient
from serving.pipeline_settings import default_settings
from serving.pipelines.generation_inputs import size_multiple
from serving.server import ServerPorts, TritonServer, load_only

log = logging.getLogger("benchmarks.workflows")

RESULTS = Path(__file__).resolve().parent / "results"
WORKFLOWS = ("background_replace", "restyle_room", "product_enhance", "product_finder")
PERCEPTION = ["clip_classify", "depth_estimator", "segmenter", "foreground_mask", "sam_automatic"]
# Stage -> the Triton models whose compute it is.
STAGES = {
    "mask": ("foreground_mask",), "depth": ("depth_estimator",), "segmentation": ("segmenter",),
    "proposals": ("sam_automatic",), "classify": ("clip_classify",), "text": ("text_encoder",),
    "encode": ("vae_encoder",), "denoise": ("unet_controlnet", "controlnet_depth", "controlnet_seg"),
    "decode": ("vae_decoder",),
}
SIZES = {"tiny": 128, "sd15": 256}


def export(preset: str, directory: Path, workflows: list[str]) -> None:
    """The workflows' models, with only the ControlNets they call. The generation export runs in its own
    process, so its copy of the weights is freed when it ends (at sd15 every GiB counts: see the README)."""
    from export.perception.repository import export_perception

    export_perception(PERCEPTION, {f: "tiny" for f in ("clip", "depth", "segmenter", "foreground", "sam")},
                      directory, "onnxruntime", instance_count=1)
    instances = [arg for name in ("txt2img", "img2img", "inpaint", *WORKFLOWS)
                 for arg in ("--orchestrator-instances", f"{name}=1")]
    controlnets = [arg for kind in needed_controlnets(workflows) or ["depth"] for arg in ("--controlnet", kind)]
    # Warm-up at the benchmark's size, not the preset's default (sd15: 512 px): onnxruntime's arena keeps the
    # warm-up's activations, and at 512 px the UNet's stub alone held 7.7 GiB and was killed for memory.
    subprocess.run([sys.executable, "-m", "export", "--preset", preset,
                    "--components", "text_encoder,unet_controlnet,vae_decoder,vae_encoder",
                    "--warmup-size", str(SIZES[preset]), *controlnets, "--output", str(directory), *instances],
                   check=True)


def needed_controlnets(workflows: list[str]) -> list[str]:
    """The ControlNet kinds the workflows call (`controlnet_<kind>` in their contracts' requires)."""
    from serving.contracts import GENERATION_CONTRACTS

    return sorted({m.removeprefix("controlnet_") for w in workflows for m in GENERATION_CONTRACTS[w].requires
                   if m.startswith("controlnet_")})


def served_models(repository: Path, workflows: list[str]) -> list[str]:
    """Every model but those no request here calls: the orchestrators txt2img, img2img, inpaint, the streaming
    twins and other workflows (each a process importing torch), and the ControlNets the workflows do not use
    (at sd15 size ~2.7 GiB each in onnxruntime). They stay on disk: txt2img's directory holds the pipeline
    assets every generation orchestrator reads."""
    unused = {"txt2img", "img2img", "inpaint", *WORKFLOWS} - set(workflows)
    controlnets = {f"controlnet_{kind}" for kind in needed_controlnets(workflows)}
    return [m for m in models_of(repository) if m not in unused and not m.endswith("_stream")
            and (not m.startswith("controlnet_") or m in controlnets)]


def weights(preset: str, workdir: Path, controlnets: list[str]) -> dict[str, Any]:
    from rembg import new_session

    from export.perception.foreground import build_tiny_onnx
    from export.perception.sources import clip_tiny, depth_tiny, sam_tiny, segmenter_tiny
    from export.sources import load_source, preset_controlnet

    return {"base": load_source(preset), "depth": depth_tiny(), "segmenter": segmenter_tiny(), "sam": sam_tiny(),
            "clip": clip_tiny(), "controlnets": {kind: preset_controlnet(preset, kind) for kind in controlnets},
            "rembg": new_session("u2net_custom", model_path=str(build_tiny_onnx(workdir / "tiny_u2net.onnx")))}


def cases(preset: str, steps: int, multiple: int) -> dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], Any]]]:
    """workflow -> (served inputs, the by-hand call given the weights), on a 4:3 photo fitted to the preset's size."""
    from benchmarks.references import workflows as by_hand
    from benchmarks.references.conditioned import box_mask, photo

    side = SIZES[preset]
    image = photo(side * 3 // 4 * 2, side * 2, seed=4)  # larger than max_side: fitted as users' photos are
    mask = box_mask(*image.shape[:2])
    common = dict(seed=11, num_inference_steps=steps, scheduler="ddim", guidance_scale=7.5)
    fit = dict(max_side=side, multiple=multiple)
    prompt = "a product on a marble podium at sunset"
    finder = dict(points_per_side=4, min_mask_score=0.0, stability_score_thresh=0.0)  # the tiny SAM's masks pass
    return {
        "background_replace": (dict(prompt=prompt, image=image, max_side=side, **common),
                               lambda w: by_hand.background_replace(w, image, prompt, **fit, **common)),
        "restyle_room": (dict(prompt=prompt, image=image, max_side=side, strength=0.8, **common),
                         lambda w: by_hand.restyle_room(w, image, prompt, strength=0.8, **fit, **common)),
        "product_enhance": (dict(prompt=prompt, image=image, mask_image=mask, max_side=side, strength=0.6,
                                 mask_dilation=8, **common),
                            lambda w: by_hand.product_enhance(w, image, mask, prompt, strength=0.6, dilation=8,
                                                              **fit, **common)),
        "product_finder": (dict(image=image, labels=["handbag", "sneaker"], **finder),
                           lambda w: by_hand.product_finder(w["sam"], w["clip"], image, ["handbag", "sneaker"],
                                                            threshold=0.5, **finder)),
    }


def models_of(repository: Path) -> list[str]:
    return sorted(p.name for p in repository.iterdir() if (p / "config.pbtxt").exists())


def run(preset: str, workflows: list[str], requests: int, steps: int, workdir: Path,
        in_turn: bool = False) -> dict[str, Any]:
    """Alternating (the default): served and by-hand requests take turns with both loaded, so load changes hit
    both sides. In turn: every served request first, then the server stops and the by-hand weights load. At sd15
    both sides together do not fit in this machine's 23.5 GiB (with both ControlNets, 14.4 GB in use once the
    server is ready; the by-hand process reaches 10 GiB loading its weights)."""
    repository = workdir / "repo"
    controlnets = needed_controlnets(workflows)
    needed = ["unet_controlnet", *(f"controlnet_{kind}" for kind in controlnets)]
    if not all((repository / name / "config.pbtxt").exists() for name in needed):  # else a kept --workdir's
        export(preset, repository, workflows)
    models = served_models(repository, workflows)
    all_cases = cases(preset, steps, size_multiple(default_settings(repository)))
    served: dict[str, tuple[list[float], dict[str, ModelStats]]] = {}
    by_hand_ms: dict[str, list[float]] = {w: [] for w in workflows}
    # One model loading at a time: an onnxruntime session's peak while it loads is a multiple of its weights
    # (sd15's UNet: 3.4 GB of weights), and the by-hand weights load only after the server is up.
    with TritonServer(repository, ServerPorts.free(), log_file=workdir / "tritonserver.log",
                      extra_args=(*load_only(models), "--model-load-thread-count=1")) as server:
        w = None if in_turn else weights(preset, workdir, controlnets)
        for workflow in workflows:
            inputs, by_hand = all_cases[workflow]
            client = TritonGenerationClient(server.grpc_url, model_name=workflow)
            served_call = lambda: client.infer(**inputs)  # noqa: E731
            served_call()  # warm-up: first calls load sessions, caches, tokenizers
            if w is not None:
                by_hand(w)
            before = {m: ModelStats.from_triton(client.model_statistics(m)) for m in models}
            served_ms: list[float] = []
            for _ in range(requests):  # alternating, so load changes hit both sides
                served_ms += timed(served_call, 1, warmup=0)
                if w is not None:
                    by_hand_ms[workflow] += timed(lambda: by_hand(w), 1, warmup=0)
            time.sleep(0.5)  # Triton counts a request after its response
            served[workflow] = (served_ms, {m: ModelStats.from_triton(client.model_statistics(m)) - before[m]
                                            for m in models})
            client.close()
            log.info("%s served: %s ms", workflow, [round(t) for t in served_ms])
    if in_turn:
        w = weights(preset, workdir, controlnets)
        for workflow in workflows:
            by_hand = all_cases[workflow][1]
            by_hand_ms[workflow] = timed(lambda: by_hand(w), requests, warmup=1)
    results = {}
    for workflow in workflows:
        served_ms, phase = served[workflow]
        results[workflow] = summarise(workflow, served_ms, by_hand_ms[workflow], phase, requests)
        results[workflow]["order"] = "in turn" if in_turn else "alternating"
        log.info("%s: %s", workflow, {k: v for k, v in results[workflow].items() if k != "stages_ms"})
    return results


def summarise(workflow: str, served_ms: list[float], by_hand_ms: list[float], phase: dict[str, ModelStats],
              requests: int) -> dict[str, Any]:
    stages = {}
    for stage, models in STAGES.items():
        ns = sum(phase[m].compute_ns for m in models if m in phase)
        if ns:
            stages[stage] = ns / requests / 1e6
    inside_ms = phase[workflow].success_ns / max(phase[workflow].requests, 1) / 1e6
    stages["orchestration"] = inside_ms - sum(stages.values())
    p50_served, p50_hand = float(np.median(served_ms)), float(np.median(by_hand_ms))
    return {"requests": requests, "served_ms": served_ms, "by_hand_ms": by_hand_ms, "p50_served_ms": p50_served,
            "p50_by_hand_ms": p50_hand, "ratio": p50_served / p50_hand, "inside_triton_ms": inside_ms,
            "stages_ms": stages}


def markdown(preset: str, steps: int, results: dict[str, Any], command: str) -> str:
    load = os.getloadavg()
    lines = [f"Produced by `{command}` ({steps} steps; generation preset {preset} at {SIZES[preset]} px longest "
             "side; perception networks tiny). Served over gRPC vs the same steps by hand in-process, either "
             "alternating request by request or in turn (all served requests, then the by-hand ones with the server "
             f"stopped); load average at the end {load[0]:.1f}.", "",
             "| workflow | by hand p50 ms | served p50 ms | served / by hand | order |", "|---|---:|---:|---:|---|"]
    for name, r in results.items():
        lines.append(f"| `{name}` | {r['p50_by_hand_ms']:.0f} | {r['p50_served_ms']:.0f} | {r['ratio']:.2f}x "
                     f"| {r.get('order', 'alternating')} |")
    stage_names = [s for s in (*STAGES, "orchestration") if any(s in r["stages_ms"] for r in results.values())]
    lines += ["", "Stage breakdown per served request (ms of compute, from Triton's statistics):", "",
              "| workflow | " + " | ".join(stage_names) + " |", "|---|" + "---:|" * len(stage_names)]
    for name, r in results.items():
        cells = [f"{r['stages_ms'][s]:.0f}" if s in r["stages_ms"] else "" for s in stage_names]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def appended(path: Path, steps: int, results: dict[str, Any], command: str) -> tuple[dict[str, Any], str]:
    """The earlier results in `path` with these added (a workflow measured again replaces its row), and both
    commands joined; refused when the earlier run used another step count."""
    if not path.exists():
        return results, command
    earlier = json.loads(path.read_text())
    if earlier["steps"] != steps:
        raise SystemExit(f"--append: {path} has {earlier['steps']} steps, this run {steps}")
    return {**earlier["results"], **results}, f"{earlier['command']}; {command}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workflows", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--workflows", default=",".join(WORKFLOWS))
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--in-turn", action="store_true",
                        help="time every served request first, then stop the server and time the by-hand side "
                             "(for sd15, where both sides together exceed this machine's memory)")
    parser.add_argument("--workdir", type=Path,
                        help="keep the exported repository here and reuse it when it exists (sd15's export takes "
                             "~6 min); by default a temporary directory")
    parser.add_argument("--append", action="store_true",
                        help="add these workflows to the preset's existing results (same steps) instead of replacing "
                             "them")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workflows = [w for w in args.workflows.split(",") if w]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    kept_or_temporary = (contextlib.nullcontext(str(args.workdir)) if args.workdir is not None
                         else tempfile.TemporaryDirectory(prefix="bench-workflows-"))
    with kept_or_temporary as workdir:
        results = run(args.preset, workflows, args.requests, args.steps, Path(workdir), args.in_turn)
    command = "python -m benchmarks.workflows " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / f"workflows-{args.preset}-cpu"
    if args.append:
        results, command = appended(stem.with_suffix(".json"), args.steps, results, command)
    stem.with_suffix(".json").write_text(json.dumps({"command": command, "preset": args.preset, "steps": args.steps,
                                                     "results": results}, indent=2))
    stem.with_suffix(".md").write_text(markdown(args.preset, args.steps, results, command))
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()

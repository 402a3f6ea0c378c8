"""Catalog throughput: the shipped 30-row sheet (catalog/data/articles.xlsx) through the CLI, end to end
(translate -> attributes -> prompts -> txt2img -> clip_score -> quality gate -> files), items per minute.

    python -m benchmarks.catalog                           # tiny preset, exports into a temporary repository
    python -m benchmarks.catalog --repository model_repository --steps 20 --size 128

Starts its own tritonserver, runs `python -m clients catalog` as a separate process (what a user runs) and
times it from launch to exit (wall, process start included); the job's own processing time and the mean
time per article and stage come from its summary.json and item JSONs.
Writes benchmarks/results/catalog-<preset>-cpu.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import PROJECT_ROOT, collect
from serving.server import ServerPorts, TritonServer

log = logging.getLogger("benchmarks.catalog")

RESULTS = Path(__file__).resolve().parent / "results"
SHEET = PROJECT_ROOT / "catalog" / "data" / "articles.xlsx"
STAGES = ("translate_s", "attributes_s", "generate_s", "score_s", "total_s")


def export(preset: str, directory: Path) -> None:
    from export.cli import main as export_main
    from export.perception.repository import export_perception

    export_perception(["clip_score"], {"clip": "tiny"}, directory, "onnxruntime", instance_count=1)
    export_main(["--preset", preset, "--components", "text_encoder,unet,vae_decoder,translate",
                 "--output", str(directory)])


def run_cli(url: str, out: Path, args: argparse.Namespace) -> tuple[float, subprocess.CompletedProcess]:
    command = [sys.executable, "-m", "clients", "catalog", str(args.sheet), "--out", str(out), "--url", url,
               "--steps", str(args.steps), "--height", str(args.size), "--width", str(args.size),
               "--threshold", str(args.threshold), "--max-retries", str(args.max_retries), "--no-progress",
               *(["--num-beams", str(args.num_beams)] if args.num_beams else []),
               *(["--max-new-tokens", str(args.max_new_tokens)] if args.max_new_tokens else [])]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    return time.perf_counter() - started, result


def measure(out: Path, wall_s: float) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    items = [json.loads(p.read_text()) for p in out.glob("*.json") if p.name != "summary.json"]
    stages = {stage: round(statistics.fmean(i["timings"][stage] for i in items if stage in i["timings"]), 3)
              for stage in STAGES if any(stage in i["timings"] for i in items)}
    attempts = [len(i["attempts"]) for i in items if i["attempts"]]
    return {
        "items": summary["items"], "done": summary["done"], "row_errors": summary["failed"],
        "passed": summary["passed"], "pass_rate": summary["pass_rate"], "score": summary["score"],
        "wall_s": round(wall_s, 2), "items_per_minute_wall": round(summary["items"] / wall_s * 60, 2),
        "processing_s": summary["processing_s"], "items_per_minute_processing": summary["items_per_minute"],
        "mean_attempts": round(statistics.fmean(attempts), 3) if attempts else None,
        "mean_seconds_per_item": stages,
    }


def markdown(result: dict, settings: dict, command: str, machine: str, load: list[float]) -> str:
    s = result["mean_seconds_per_item"]
    return "\n".join([
        f"# Catalog throughput, {settings['preset']} preset", "",
        f"`{command}` on {machine}. The 30-row `catalog/data/articles.xlsx` through `python -m clients catalog` "
        f"(one process, one article at a time) against a tritonserver started for the run: "
        f"{settings['size']}x{settings['size']} px, {settings['steps']} steps, threshold {settings['threshold']:g}, "
        f"up to {settings['max_retries']} regenerations, translation num_beams {settings['num_beams'] or 'default'}, "
        f"max_new_tokens {settings['max_new_tokens'] or 'default'}.", "",
        "| items | row errors | passed | mean attempts | wall s | items/min (wall) | items/min (processing) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['items']} | {result['row_errors']} | {result['passed']} | {result['mean_attempts']} | "
        f"{result['wall_s']} | {result['items_per_minute_wall']} | {result['items_per_minute_processing']} |", "",
        "Mean seconds per article: " + ", ".join(f"{k.removesuffix('_s')} {v}" for k, v in s.items()) + ".", "",
        "Wall: from launching the CLI to its exit (imports, sheet, summary included). Processing: the sum of the "
        "articles' own times. Random-weight tiny models: the CLIP scores (and so the pass rate and the number of "
        "attempts) say nothing about image quality, and the random translator's output is not English. Load "
        f"average at the start (1, 5, 15 min): {', '.join(f'{v:g}' for v in load)}: other work shared the cores.",
        ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.catalog", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--repository", type=Path, help="an exported repository (default: export one for the run)")
    parser.add_argument("--sheet", type=Path, default=SHEET)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threshold", type=float, default=30.0)
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--num-beams", type=int)
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    machine = collect()
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as workdir:
        work = Path(workdir)
        repository = args.repository or work / "repo"
        if args.repository is None:
            export(args.preset, repository)
        with TritonServer(repository, ServerPorts.free(), log_file=work / "tritonserver.log") as server:
            wall_s, result = run_cli(server.grpc_url, work / "out", args)
        if result.returncode != 0:
            raise SystemExit(f"the catalog CLI failed ({result.returncode}):\n{result.stderr[-4000:]}")
        measured = measure(work / "out", wall_s)
    command = "python -m benchmarks.catalog " + " ".join(argv if argv is not None else sys.argv[1:])
    settings = {key: getattr(args, key) for key in ("preset", "steps", "size", "threshold", "max_retries",
                                                     "num_beams", "max_new_tokens")}
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / f"catalog-{args.preset}-cpu"
    stem.with_suffix(".json").write_text(json.dumps({"command": command.strip(), "settings": settings,
                                                     "machine": machine.to_dict(), "result": measured}, indent=2))
    stem.with_suffix(".md").write_text(markdown(measured, settings, command.strip(), machine.label,
                                                machine.load_average))
    log.info("%s", stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()

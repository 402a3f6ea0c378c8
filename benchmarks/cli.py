"""`python -m benchmarks`: end-to-end comparison, perf_analyzer sweep, and the full report.

    python -m benchmarks report [--update-readme]         # the CPU report: tiny + sd15 + perf_analyzer (< 15 min here)
    python -m benchmarks e2e --preset tiny                # one preset, diffusers vs Triton (per runtime) vs gateway
    python -m benchmarks perf --url 127.0.0.1:8001 --preset tiny [--model-repository model_repository]
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import machine, plots, report
from benchmarks.gateway import DEFAULT_COMMAND
from benchmarks.workloads import PIPELINES, Workload, workload_for

log = logging.getLogger("benchmarks")

RESULTS_DIR = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
DOCUMENTED_COMMAND = "make bench"


def _levels(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def _servers(values: list[str]) -> dict[str, str]:
    servers = {}
    for value in values:
        runtime, _, url = value.partition("=")
        if not url:
            raise argparse.ArgumentTypeError(f"--triton-url wants RUNTIME=HOST:PORT, got {value!r}")
        servers[runtime] = url
    return servers


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_runtimes(device: str) -> tuple[str, ...]:
    # On CUDA the torch runtime runs fp16 on the GPU; the pinned onnxruntime is the CPU build.
    return ("torch",) if device == "cuda" else ("onnxruntime", "torch")


def add_workload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--pipeline", choices=PIPELINES, default="txt2img",
                        help="which generation the e2e run measures (img2img at strength 0.75; ControlNet depth on txt2img)")
    parser.add_argument("--quick", action="store_true", help="smoke-test size: 3 steps, 3 requests, concurrency 1,2")
    parser.add_argument("--steps", type=int, help="denoising steps (overrides the workload)")
    parser.add_argument("--size", type=int, help="height and width in px (overrides the workload)")
    parser.add_argument("--latency-requests", type=int, help="sequential requests at concurrency 1")
    parser.add_argument("--concurrency", type=_levels, help="comma-separated levels, e.g. 1,2,4,8")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR, help="where results, tables and plots go")


def build_workload(args: argparse.Namespace, preset: str) -> Workload:
    device = default_device() if args.device == "auto" else args.device
    return workload_for(preset, device, quick=args.quick, steps=args.steps, height=args.size, width=args.size,
                        latency_requests=args.latency_requests, concurrency=args.concurrency,
                        pipeline=getattr(args, "pipeline", None))


def add_e2e_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtimes", help="comma-separated component runtimes (default: onnxruntime,torch on CPU, "
                                           "torch on CUDA)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/imagery-benchmarks"),
                        help="exported repositories (removed after each server; SD1.5 is ~3.5 GB)")
    parser.add_argument("--log-dir", type=Path, default=Path("logs/benchmarks"))
    parser.add_argument("--no-gateway", action="store_true")
    parser.add_argument("--gateway-command", default=DEFAULT_COMMAND,
                        help="template with {python} {host} {port} {triton_grpc}")
    parser.add_argument("--unet-queue-delay-us", type=int, default=0, help="UNet dynamic batcher delay at export")
    parser.add_argument("--no-plots", action="store_true")


def e2e_options(args: argparse.Namespace, workload: Workload, server_hook=None):
    from benchmarks.e2e import E2EOptions

    runtimes = tuple(args.runtimes.split(",")) if args.runtimes else default_runtimes(workload.device)
    return E2EOptions(
        runtimes=runtimes, work_dir=args.work_dir, log_dir=args.log_dir, gateway=not args.no_gateway,
        gateway_command=args.gateway_command, unet_queue_delay_us=args.unet_queue_delay_us,
        existing_servers=_servers(getattr(args, "triton_url", None) or []), server_hook=server_hook,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    e2e = commands.add_parser("e2e", help="diffusers in-process vs Triton txt2img vs gateway, one preset")
    e2e.add_argument("--preset", choices=("tiny", "sd15"), default="tiny")
    e2e.add_argument("--triton-url", action="append", metavar="RUNTIME=HOST:PORT",
                     help="use this running server for RUNTIME instead of exporting and starting one")
    e2e.add_argument("--perf", action="store_true", help="also run the perf_analyzer sweep on the first runtime")
    add_workload_arguments(e2e)
    add_e2e_arguments(e2e)

    perf = commands.add_parser("perf", help="perf_analyzer concurrency sweep against a running server")
    perf.add_argument("--url", default="127.0.0.1:8001", help="the server's gRPC host:port")
    perf.add_argument("--preset", choices=("tiny", "sd15"), default="tiny", help="which workload to send")
    perf.add_argument("--model-repository", type=Path,
                      help="the server's repository: component shapes follow its warm-up size (default: the "
                           "components' warm-up samples as they are)")
    perf.add_argument("--component-window", type=int, default=20,
                      help="requests per measurement window (3 windows per level), components")
    perf.add_argument("--txt2img-window", type=int, default=4, help="requests per measurement window, txt2img")
    perf.add_argument("--models", default="txt2img,text_encoder,unet,vae_decoder")
    add_workload_arguments(perf)

    full = commands.add_parser("report", help="the whole report: e2e per preset + perf_analyzer, tables, plots")
    full.add_argument("--presets", default="tiny,sd15")
    full.add_argument("--wait-quiet", type=float, default=600.0,
                      help="seconds to wait for other test runs/servers to finish before measuring")
    full.add_argument("--update-readme", action="store_true", help="put the summary in README's Performance section")
    add_workload_arguments(full)
    add_e2e_arguments(full)

    render = commands.add_parser("render", help="rewrite the Markdown (and README) from a report's JSON files")
    render.add_argument("--output", type=Path, default=RESULTS_DIR)
    render.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    render.add_argument("--presets", default="tiny,sd15")
    render.add_argument("--update-readme", action="store_true")
    return parser.parse_args(argv)


def perf_hook(workload: Workload, args: argparse.Namespace, component_window: int, txt2img_window: int):
    """perf_analyzer while the e2e run's server is up (saves starting another server)."""
    from benchmarks.perf_analyzer import profile_server
    from benchmarks.repository import warmup_size

    def hook(url: str, runtime: str, repository: Path | None) -> dict[str, Any]:
        warmed = warmup_size(repository) if repository is not None else None
        result = profile_server(url, workload, args.work_dir / f"perf-{workload.preset}-{runtime}",
                                (warmed.height, warmed.width) if warmed else None,
                                component_window, txt2img_window)
        return {"runtime": runtime, **result}

    return hook


def _stamp(result: dict[str, Any], argv: list[str] | None) -> dict[str, Any]:
    words = sys.argv[1:] if argv is None else argv
    return {**result, "machine": machine.collect().to_dict(),
            "command": "python -m benchmarks " + " ".join(shlex.quote(w) for w in words)}


def write_e2e(result: dict[str, Any], output: Path, with_plots: bool) -> dict[str, Path]:
    stem = report.e2e_stem(result)
    paths = {"json": report.write_json(result, output / f"{stem}.json")}
    markdown = report.e2e_markdown(result)
    (output / f"{stem}.md").write_text(markdown)
    paths["md"] = output / f"{stem}.md"
    if with_plots:
        for path in plots.plot_e2e(result, output):
            paths[path.stem.rsplit("-", 1)[-1]] = path
    return paths


def write_perf(result: dict[str, Any], output: Path) -> dict[str, Path]:
    stem = f"perf_analyzer-{result['preset']}-{result['device']}"
    paths = {"json": report.write_json(result, output / f"{stem}.json"), "md": output / f"{stem}.md"}
    paths["md"].write_text(report.perf_markdown(result))
    return paths


def cmd_e2e(args: argparse.Namespace, argv: list[str] | None) -> None:
    from benchmarks.e2e import run_e2e

    workload = build_workload(args, args.preset)
    hook = perf_hook(workload, args, 4 if args.quick else 20, 2 if args.quick else 4) if args.perf else None
    options = e2e_options(args, workload, hook)
    options.runtimes = options.runtimes if not options.existing_servers else tuple(
        r for r in options.runtimes if r in options.existing_servers)
    result = _stamp(run_e2e(workload, options), argv)
    perf_results = result.pop("server_hooks")
    write_e2e(result, args.output, not args.no_plots)
    for perf in perf_results.values():
        write_perf({**perf, "preset": workload.preset, "device": workload.device, "machine": result["machine"],
                    "command": result["command"]}, args.output)


def cmd_perf(args: argparse.Namespace, argv: list[str] | None) -> None:
    from benchmarks.perf_analyzer import profile_server
    from benchmarks.repository import warmup_size

    workload = build_workload(args, args.preset)
    warmed = warmup_size(args.model_repository) if args.model_repository else None
    # perf_analyzer's own CSVs and logs stay out of the committed results.
    result = profile_server(args.url, workload, Path("logs/benchmarks/perf_analyzer"), (warmed.height, warmed.width) if warmed
                            else None, args.component_window, args.txt2img_window, tuple(args.models.split(",")))
    write_perf(_stamp({**result, "preset": workload.preset, "device": workload.device}, argv), args.output)


def cmd_report(args: argparse.Namespace, argv: list[str] | None) -> None:
    from benchmarks.e2e import run_e2e

    started = time.perf_counter()
    quiet = machine.wait_until_quiet(args.wait_quiet).to_dict()
    results, perf_results = [], []
    for preset in args.presets.split(","):
        workload = build_workload(args, preset)
        # perf_analyzer on the tiny preset only: on CPU an SD1.5 sweep alone would take the whole budget.
        hook = perf_hook(workload, args, 4 if args.quick else 20, 2 if args.quick else 4) if preset == "tiny" else None
        options = e2e_options(args, workload, hook)
        result = _stamp(run_e2e(workload, options), argv)
        result["quiet_check"] = quiet
        for perf in result.pop("server_hooks").values():
            perf = {**perf, "preset": preset, "device": workload.device, "machine": result["machine"],
                    "command": result["command"]}
            write_perf(perf, args.output)
            perf_results.append(perf)
        write_e2e(result, args.output, not args.no_plots)
        results.append(result)
    wall = time.perf_counter() - started
    summary = summary_markdown(results, perf_results, quiet, wall, with_plots=not args.no_plots)
    device = results[0]["device"]
    report.write_json({"kind": "summary", "device": device, "wall_s": wall, "quiet_check": quiet,
                       "machine": results[0]["machine"], "command": results[0]["command"],
                       "goals": [goal.__dict__ for goal in report.check_goals(results)]},
                      args.output / f"summary-{device}.json")
    (args.output / f"summary-{device}.md").write_text(summary(""))
    if args.update_readme:
        report.update_readme(README, summary(_relative(args.output)))
    log.info("report done in %.1f min: %s", wall / 60, args.output / f"summary-{device}.md")


def load_report(output: Path, device: str, presets: str):
    """The e2e and perf_analyzer results of the last report, and its summary as a function of the link prefix."""
    load = lambda path: json.loads(path.read_text())  # noqa: E731
    results = [load(output / f"e2e-{preset}-{device}.json") for preset in presets.split(",")]
    perf_results = [load(path) for path in sorted(output.glob(f"perf_analyzer-*-{device}.json"))]
    summary_data = load(output / f"summary-{device}.json")
    summary = summary_markdown(results, perf_results, summary_data["quiet_check"], summary_data["wall_s"], True)
    return results, perf_results, summary


def readme_section(output: Path = RESULTS_DIR, device: str = "cpu", presets: str = "tiny,sd15") -> str:
    """README's Performance section as `render --update-readme` writes it from the committed results."""
    return load_report(output, device, presets)[2](_relative(output))


def cmd_render(args: argparse.Namespace, argv: list[str] | None) -> None:
    """Re-renders tables from the JSON of the last report (no measurement): for a changed report format."""
    results, perf_results, summary = load_report(args.output, args.device, args.presets)
    for result in results:
        (args.output / f"e2e-{result['preset']}-{args.device}.md").write_text(report.e2e_markdown(result))
    for perf in perf_results:
        (args.output / f"perf_analyzer-{perf['preset']}-{args.device}.md").write_text(report.perf_markdown(perf))
    (args.output / f"summary-{args.device}.md").write_text(summary(""))
    if args.update_readme:
        report.update_readme(README, summary(_relative(args.output)))


def _relative(directory: Path) -> str:
    try:
        return str(directory.resolve().relative_to(README.parent)) + "/"
    except ValueError:
        return str(directory.resolve()) + "/"


def summary_markdown(results: list[dict[str, Any]], perf_results: list[dict[str, Any]], quiet: dict[str, Any],
                     wall_s: float, with_plots: bool):
    """The report as Markdown; a function of the link prefix (README links from the repository root)."""
    goals = report.check_goals(results)
    device = results[0]["device"]

    def render(prefix: str) -> str:
        parts = [
            "Each run compares, on the same weights, seed, scheduler, steps and size: (a) diffusers' "
            "`StableDiffusionPipeline` in-process, (b) Triton `txt2img` over gRPC for each component runtime, "
            "(c) the REST gateway (`POST /v1/images/generations`). Ratios are taken within the run. Parts can run "
            "alone: `python -m benchmarks e2e --preset sd15`, `python -m benchmarks perf --url 127.0.0.1:8001 "
            "--model-repository model_repository` (perf_analyzer against a running server). Results (JSON with "
            f"machine, versions, git commit; Markdown; PNG plots) are in `{prefix or 'benchmarks/results/'}`.",
            "",
            f"Produced by `{DOCUMENTED_COMMAND}` (`{results[0]['command']}`) in {wall_s / 60:.1f} min, "
            f"exports and server starts included.",
            "",
            report.machine_markdown(results[0]["machine"], quiet),
            f"Targets of the benchmark issue ({device}):",
            "",
            report.goals_markdown(goals),
            report.reading_markdown(results, goals, quiet),
        ]
        for result in results:
            parts += [report.e2e_markdown(result)]
            if with_plots:
                stem = f"e2e-{result['preset']}-{result['device']}"
                parts += [" ".join(f"![{kind}]({prefix}{stem}-{kind}.png)" for kind in ("latency", "throughput", "stages")),
                          ""]
        for perf in perf_results:
            parts += [report.perf_markdown(perf)]
        if device == "cpu":
            parts += ["GPU numbers are still to be measured: no GPU was available for this run. On a CUDA machine the "
                      "same command runs diffusers and the torch runtime in fp16 at 512 px, 30 steps.", ""]
        return "\n".join(parts)

    return render


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    commands = {"e2e": cmd_e2e, "perf": cmd_perf, "report": cmd_report, "render": cmd_render}
    commands[args.command](args, argv)


if __name__ == "__main__":
    main()

"""End-to-end comparison in one run: diffusers in-process vs Triton txt2img (per runtime) vs the gateway.

Every target gets the same request (weights, seed, scheduler, steps, size). Per target: latency at
concurrency 1, throughput over the concurrency sweep; for Triton targets also the stage breakdown
and the UNet's step-level batching, from Triton's statistics API. Ratios are taken pair by pair
within the run, so machine load that differs between runs cancels out of them less badly than
figures compared across runs.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from benchmarks import stats
from benchmarks.gateway import DEFAULT_COMMAND, GatewayProcess, gateway_available
from benchmarks.load import LoadRun, run_closed_loop
from benchmarks.repository import export_repository, served_models
from benchmarks.targets import DiffusersTarget, GatewayTarget, Target, TritonTarget
from benchmarks.workloads import Workload

log = logging.getLogger(__name__)

ServerHook = Callable[[str, str, Path | None], dict]  # (grpc url, runtime, repository) -> extra results


@dataclass
class TargetResult:
    name: str
    kind: str
    runtime: str
    precision: str
    latency: LoadRun  # concurrency 1: the latency percentiles and the c=1 throughput
    sweep: list[LoadRun] = field(default_factory=list)  # concurrency > 1
    max_abs_diff_vs_diffusers: int | None = None  # uint8 pixels, first image: is it the same work?
    psnr_vs_diffusers_db: float | None = None  # same images; inf when identical
    stages: stats.StageBreakdown | None = None
    overhead_fit: stats.OverheadFit | None = None
    batching: list[stats.UNetBatching] = field(default_factory=list)
    setup_s: dict[str, float] = field(default_factory=dict)  # export, server start...
    paired: dict[str, Any] | None = None  # gateway: alternating with direct Triton calls (drift cancels)

    def runs(self) -> list[LoadRun]:
        return [self.latency, *self.sweep]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "runtime": self.runtime,
            "precision": self.precision,
            "latency_ms": self.latency.latency_ms(),
            "throughput": [run.to_dict() for run in self.runs()],
            "max_abs_diff_vs_diffusers": self.max_abs_diff_vs_diffusers,
            "psnr_vs_diffusers_db": self.psnr_vs_diffusers_db,
            "stages": self.stages.to_dict() if self.stages else None,
            "overhead_fit": self.overhead_fit.to_dict() if self.overhead_fit else None,
            "batching": [b.to_dict() for b in self.batching],
            "setup_s": self.setup_s,
            "paired": self.paired,
        }


def measure(target: Target, workload: Workload, stats_client: Any = None,
            reference: np.ndarray | None = None) -> tuple[TargetResult, np.ndarray]:
    """Warm-up, the concurrency-1 latency run, then the sweep; Triton statistics around each timed run."""
    request = workload.request()
    models = workload.models
    # One untimed request: first-call costs (allocations, lazy imports, onnxruntime's per-shape set-up).
    run_closed_loop(target, request, 1, 1)

    def timed(concurrency: int, body: dict = request) -> tuple[LoadRun, np.ndarray, stats.Snapshot | None]:
        before = stats.snapshot(stats_client, models.names) if stats_client else None
        run, images = run_closed_loop(target, body, concurrency, workload.requests_at(concurrency, target.name))
        phase = (stats.settled_delta(stats_client, before, len(run.latencies_s), orchestrator=models.orchestrator)
                 if stats_client else None)
        return run, images, phase

    latency, images, phase = timed(1)
    result = TargetResult(target.name, target.kind, target.runtime, workload.precision, latency)
    if phase is not None:
        result.stages = stats.stage_breakdown(phase, workload.steps, models)
    probe = workload.overhead_probe_steps
    if phase is not None and target.kind == "triton" and probe and probe != workload.steps:
        _, _, short = timed(1, workload.request_with_steps(probe))
        result.overhead_fit = stats.fit_overhead(stats.stage_breakdown(short, probe, models), result.stages)
    if reference is not None:
        result.max_abs_diff_vs_diffusers = int(np.abs(images.astype(np.int16) - reference.astype(np.int16)).max())
        result.psnr_vs_diffusers_db = psnr(images, reference)
    if workload.sweeps(target.name):
        for concurrency in workload.concurrency:
            if concurrency == 1:
                continue
            for _ in range(workload.warmup_waves):
                run_closed_loop(target, request, concurrency, concurrency)
            run, _, phase = timed(concurrency)
            result.sweep.append(run)
            if phase is not None:
                result.batching.append(stats.unet_batching(phase, concurrency, models))
    return result, images


@contextlib.contextmanager
def triton_server(workload: Workload, runtime: str, work_dir: Path, log_dir: Path, setup: dict[str, float],
                  unet_queue_delay_us: int, existing_url: str | None = None) -> Iterator[tuple[str, Path | None]]:
    """An existing server's URL, or a fresh export served by a fresh tritonserver (removed afterwards)."""
    if existing_url is not None:
        yield existing_url, None
        return
    from serving.server import ServerPorts, TritonServer, load_only

    repository = work_dir / f"repo-{workload.preset}-{runtime}"
    if repository.exists():
        shutil.rmtree(repository)
    started = time.perf_counter()
    export_repository(workload, runtime, repository, unet_queue_delay_us)
    setup["export_s"] = time.perf_counter() - started
    started = time.perf_counter()
    server = TritonServer(repository, ServerPorts.free(), log_file=log_dir / f"tritonserver-{workload.preset}-{runtime}.log",
                          extra_args=load_only(served_models(workload)))
    try:
        with server:
            setup["server_start_s"] = time.perf_counter() - started
            yield server.grpc_url, repository
    finally:
        # SD1.5 repositories are ~3.5 GB each: never keep more than one on disk.
        shutil.rmtree(repository, ignore_errors=True)


@dataclass
class E2EOptions:
    runtimes: tuple[str, ...] = ("onnxruntime", "torch")
    work_dir: Path = Path("/tmp/imagery-benchmarks")
    log_dir: Path = Path("logs/benchmarks")
    gateway: bool = True
    gateway_command: str = DEFAULT_COMMAND
    unet_queue_delay_us: int = 0
    existing_servers: dict[str, str] = field(default_factory=dict)  # runtime -> gRPC URL of a running server
    server_hook: ServerHook | None = None  # runs while the first runtime's server is up (perf_analyzer)


def run_e2e(workload: Workload, options: E2EOptions) -> dict[str, Any]:
    from export.sources import load_source

    from clients.triton_client import TritonTxt2ImgClient

    started = time.perf_counter()
    options.work_dir.mkdir(parents=True, exist_ok=True)
    results: list[TargetResult] = []
    notes: list[str] = []
    extras: dict[str, Any] = {}

    # (a) The baseline first, then free its weights before any server loads its own copy.
    source = load_source(workload.preset)
    if workload.pipeline == "controlnet":
        from export.sources import preset_controlnet
        from benchmarks.workloads import CONTROLNET_KIND

        source.controlnets[CONTROLNET_KIND] = preset_controlnet(workload.preset, CONTROLNET_KIND)
    baseline = DiffusersTarget(source, device=workload.device)
    result, reference = measure(baseline, workload)
    results.append(result)
    baseline.close()
    del baseline, source
    gc.collect()

    gateway_reason = gateway_available() if options.gateway else "disabled (--no-gateway)"
    if not workload.gateway:
        gateway_reason = "its cost does not depend on the model; it is measured on the tiny preset"
    for runtime in options.runtimes:
        setup: dict[str, float] = {}
        with triton_server(workload, runtime, options.work_dir, options.log_dir, setup, options.unet_queue_delay_us,
                           options.existing_servers.get(runtime)) as (url, repository):
            # (b) Triton txt2img over gRPC.
            stats_client = TritonTxt2ImgClient(url, "grpc")
            target = TritonTarget(url, runtime, model_name=workload.orchestrator)
            result, _ = measure(target, workload, stats_client, reference)
            result.setup_s = setup
            results.append(result)
            target.close()
            # (c) The gateway in front of the same server (first runtime only: it adds HTTP, not compute).
            if runtime == options.runtimes[0]:
                if gateway_reason is None:
                    results.append(_measure_gateway(url, runtime, workload, options, reference, stats_client, notes))
                else:
                    notes.append(f"gateway not measured: {gateway_reason}")
            if options.server_hook is not None and runtime == options.runtimes[0]:
                extras[runtime] = options.server_hook(url, runtime, repository)
            stats_client.close()

    return {
        "kind": "e2e",
        "preset": workload.preset,
        "device": workload.device,
        "precision": workload.precision,
        "workload": workload.to_dict(),
        "targets": [r.to_dict() for r in results],
        "ratios": compute_ratios([r.to_dict() for r in results]),
        "notes": notes,
        "server_hooks": extras,
        "wall_s": time.perf_counter() - started,
    }


def _measure_gateway(url: str, runtime: str, workload: Workload, options: E2EOptions, reference: np.ndarray,
                     stats_client: Any, notes: list[str]) -> TargetResult:
    gateway = GatewayProcess(url, options.log_dir / f"gateway-{workload.preset}.log", options.gateway_command)
    started = time.perf_counter()
    with gateway:
        target = GatewayTarget(gateway.url, runtime)
        result, _ = measure(target, workload, stats_client, reference)
        result.setup_s = {"gateway_start_s": time.perf_counter() - started}
        direct = TritonTarget(url, runtime)
        result.paired = paired_latency(direct, target, workload.request(), workload.latency_requests)
        direct.close()
        target.close()
    return result


def paired_latency(first: Target, second: Target, request: dict, pairs: int) -> dict[str, Any]:
    """Alternates one request to each target: load drift on a shared machine hits both sides alike,
    so the median of the per-pair differences is what the second layer adds."""
    sessions = (first.open_session(), second.open_session())
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(pairs):
        for session, out in zip(sessions, samples):
            started = time.perf_counter()
            session(request)
            out.append((time.perf_counter() - started) * 1000.0)
    differences = [b - a for a, b in zip(*samples)]
    return {
        "pairs": pairs,
        "baseline": first.name,
        "baseline_p50_ms": float(np.median(samples[0])),
        "p50_ms": float(np.median(samples[1])),
        "added_ms_median_of_pairs": float(np.median(differences)),
        "added_ms_p90_of_pairs": float(np.percentile(differences, 90)),
    }


def psnr(images: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio of uint8 images in dB (inf when identical)."""
    mse = float(np.mean((images.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def compute_ratios(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """(b)/(a): each Triton runtime against diffusers; (c)/(b): the gateway against Triton on its runtime.

    Latency ratios compare p50/p90/p99 at concurrency 1; throughput ratios compare images/s per
    concurrency level both sides measured. `added_ms` is the p50 difference (what a layer costs).
    """
    by_name = {t["name"]: t for t in targets}
    pairs = []
    for target in targets:
        if target["kind"] == "triton" and "diffusers" in by_name:
            pairs.append((target, by_name["diffusers"]))
        if target["kind"] == "gateway" and f"triton[{target['runtime']}]" in by_name:
            pairs.append((target, by_name[f"triton[{target['runtime']}]"]))
    ratios = []
    for numerator, denominator in pairs:
        entry: dict[str, Any] = {"numerator": numerator["name"], "denominator": denominator["name"]}
        for q in ("p50", "p90", "p99"):
            entry[f"latency_{q}"] = numerator["latency_ms"][q] / denominator["latency_ms"][q]
        entry["added_ms_p50"] = numerator["latency_ms"]["p50"] - denominator["latency_ms"]["p50"]
        theirs = {run["concurrency"]: run["images_per_s"] for run in denominator["throughput"]}
        entry["throughput"] = {
            str(run["concurrency"]): run["images_per_s"] / theirs[run["concurrency"]]
            for run in numerator["throughput"] if run["concurrency"] in theirs
        }
        ratios.append(entry)
    return ratios

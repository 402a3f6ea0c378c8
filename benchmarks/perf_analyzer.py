"""perf_analyzer against a running server: input data per model, a concurrency sweep, its CSVs parsed into one file.

- txt2img takes BYTES and optional scalar inputs: they go in a JSON `--input-data` file.
- Components take tensors with dynamic spatial axes: `--shape` per input, taken from the model's own
  warm-up sample in its config (the native size) and scaled to the benchmarked image size.
  Integer inputs (token ids) are zeros, a valid id; float inputs are random.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TXT2IMG = "txt2img"
# Accept any spread between windows: the CPU is shared, and a bounded run matters more than a converged one
# (the spread shows in p90/p99 anyway).
STABILITY_PERCENTAGE = 1000


def perf_analyzer_binary() -> Path:
    """The wrapper scripts/setup.sh puts next to the venv's python (it sets LD_LIBRARY_PATH itself)."""
    candidate = Path(sys.executable).parent / "perf_analyzer"
    if candidate.exists():
        return candidate
    found = shutil.which("perf_analyzer")
    if found is None:
        raise FileNotFoundError("perf_analyzer not found; run scripts/setup.sh")
    return Path(found)


@dataclass(frozen=True)
class PerfModel:
    """One model to profile and the data perf_analyzer sends it."""

    model: str
    batch_size: int = 1  # perf_analyzer -b (components are batched models)
    shapes: dict[str, list[int]] = field(default_factory=dict)  # input -> dims without the batch axis
    input_data: str = "random"  # "random" | "zero" | path to a JSON file

    def arguments(self) -> list[str]:
        args = ["-m", self.model, "--input-data", self.input_data]
        if self.batch_size != 1:
            args += ["-b", str(self.batch_size)]
        for name, dims in self.shapes.items():
            args += ["--shape", f"{name}:{','.join(str(d) for d in dims)}"]
        return args


def txt2img_input_data(request: dict[str, Any], path: Path) -> Path:
    """perf_analyzer's JSON input data for the txt2img contract (every input dims [1])."""
    step = {name: {"content": [value], "shape": [1]} for name, value in request.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": [step]}, indent=2))
    return path


def component_model(config: dict[str, Any], batch_size: int, scale: tuple[float, float] = (1.0, 1.0)) -> PerfModel:
    """From a model's config (as Triton returns it): shapes of its warm-up sample, dynamic axes scaled.

    Dynamic axes of the components are spatial (..., height, width of latents or pixels), so they scale
    with the image size (`scale` = benchmarked / warm-up size); fixed axes (channels, tokens) do not.
    """
    config = config.get("config", config)
    warmup = config.get("model_warmup") or []
    if not warmup:
        raise ValueError(f"{config['name']}: no model_warmup sample to take input shapes from")
    sample = warmup[0]["inputs"]
    shapes, integer = {}, False
    for spec in config["input"]:
        dynamic = [int(d) == -1 for d in spec["dims"]]
        dims = [int(d) for d in sample[spec["name"]]["dims"]]
        shapes[spec["name"]] = [
            round(d * (scale[0] if axis == len(dims) - 2 else scale[1])) if is_dynamic else d
            for axis, (d, is_dynamic) in enumerate(zip(dims, dynamic))
        ]
        integer |= spec["data_type"].startswith(("TYPE_INT", "TYPE_UINT"))
    return PerfModel(config["name"], batch_size, shapes, "zero" if integer else "random")


@dataclass(frozen=True)
class PerfRow:
    """One line of perf_analyzer's CSV, latencies in ms."""

    model: str
    batch_size: int
    concurrency: int
    inferences_per_s: float  # samples/s (requests/s x batch size)
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    avg_ms: float | None
    server_queue_ms: float
    server_compute_ms: float  # input + infer + output
    client_send_ms: float
    client_recv_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_csv(path: Path, model: str, batch_size: int) -> list[PerfRow]:
    """perf_analyzer -f output: one row per concurrency level, times in microseconds."""
    rows = []
    with open(path, newline="") as handle:
        for record in csv.DictReader(handle):
            if not record.get("Concurrency"):
                continue  # --collect-metrics appends other sections
            us = {key: float(value) for key, value in record.items() if key and value not in (None, "")}
            ips = us["Inferences/Second"]
            rows.append(PerfRow(
                model=model,
                batch_size=batch_size,
                concurrency=int(us["Concurrency"]),
                inferences_per_s=ips,
                requests_per_s=ips / batch_size,
                p50_ms=us["p50 latency"] / 1000,
                p90_ms=us["p90 latency"] / 1000,
                p95_ms=us["p95 latency"] / 1000,
                p99_ms=us["p99 latency"] / 1000,
                avg_ms=us["Avg latency"] / 1000 if "Avg latency" in us else None,
                server_queue_ms=us["Server Queue"] / 1000,
                server_compute_ms=(us["Server Compute Input"] + us["Server Compute Infer"] + us["Server Compute Output"]) / 1000,
                client_send_ms=us["Client Send"] / 1000,
                client_recv_ms=us["Client Recv"] / 1000,
            ))
    return rows


@dataclass
class PerfAnalyzer:
    url: str  # gRPC host:port
    work_dir: Path  # CSVs and input data (not committed)
    binary: Path = field(default_factory=perf_analyzer_binary)
    timeout_s: float = 600.0

    def profile(self, target: PerfModel, concurrency: int, window_requests: int) -> list[PerfRow]:
        """One level, in count windows of `window_requests` requests (time windows would make a slow model's
        window hold a request or two; `--request-count` rounds the measured time up to whole seconds)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        csv_path = self.work_dir / f"{target.model}-c{concurrency}.csv"
        command = [
            str(self.binary), "-u", self.url, "-i", "grpc", *target.arguments(),
            "--concurrency-range", f"{concurrency}:{concurrency}",
            "--measurement-mode", "count_windows", "--measurement-request-count", str(window_requests),
            # Three windows at most and a loose stability criterion: bounded time, even on a busy CPU.
            "--stability-percentage", str(STABILITY_PERCENTAGE), "--max-trials", "3",
            "-f", str(csv_path),
        ]
        log.info("perf_analyzer %s concurrency %d (windows of %d requests)", target.model, concurrency, window_requests)
        result = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout_s)
        (self.work_dir / f"{target.model}-c{concurrency}.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0 or not csv_path.exists():
            raise RuntimeError(f"perf_analyzer failed on {target.model} (exit {result.returncode}):\n"
                               f"{(result.stdout + result.stderr)[-2000:]}")
        return parse_csv(csv_path, target.model, target.batch_size)

    def sweep(self, target: PerfModel, levels: tuple[int, ...], window_requests: int) -> list[PerfRow]:
        rows = []
        for concurrency in levels:
            rows += self.profile(target, concurrency, max(window_requests, 2 * concurrency))
        return rows


def profile_server(url: str, workload: Any, work_dir: Path, warmed_at: tuple[int, int] | None,
                   component_window: int, txt2img_window: int,
                   models: tuple[str, ...] = (TXT2IMG, "text_encoder", "unet", "vae_decoder")) -> dict[str, Any]:
    """The concurrency sweep of `workload` on every model, as one results dict.

    `warmed_at` is the (height, width) the components' warm-up samples have (benchmarks.repository.warmup_size);
    None means the server warms at the benchmarked size already.
    """
    import tritonclient.grpc as grpcclient

    from benchmarks.repository import component_batch_sizes

    analyzer = PerfAnalyzer(url, work_dir)
    scale = (1.0, 1.0) if warmed_at is None else (workload.height / warmed_at[0], workload.width / warmed_at[1])
    batch_sizes = component_batch_sizes(workload)
    client = grpcclient.InferenceServerClient(url)
    rows: list[PerfRow] = []
    inputs: dict[str, Any] = {}
    try:
        for model in models:
            if model == TXT2IMG:
                data = txt2img_input_data(workload.request(), work_dir / "txt2img_input.json")
                target, window = PerfModel(TXT2IMG, input_data=str(data)), txt2img_window
            else:
                config = client.get_model_config(model, as_json=True)
                target, window = component_model(config, batch_sizes[model], scale), component_window
            inputs[model] = {"batch_size": target.batch_size, "shapes": target.shapes,
                             "input_data": "json (txt2img contract)" if model == TXT2IMG else target.input_data}
            rows += analyzer.sweep(target, workload.concurrency, window)
    finally:
        client.close()
    return {
        "kind": "perf_analyzer",
        "url": url,
        "binary": str(analyzer.binary),
        "request": workload.request(),
        "inputs": inputs,
        "measurement": {"mode": "count_windows", "component_window_requests": component_window,
                        "txt2img_window_requests": txt2img_window, "stability_percentage": STABILITY_PERCENTAGE},
        "rows": [row.to_dict() for row in rows],
    }

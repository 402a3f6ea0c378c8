"""Model repositories for a benchmark run: `python -m export` into a work directory, warmed at the benchmarked size.

The exporter warms components at the model's native size (512 px for SD1.5); a CPU run benchmarks
256 px, where those warm-up runs would cost a minute per server start and still leave the benchmarked
shapes cold (onnxruntime needs two runs per new shape). So the benchmark's copy of each component
config warms at the benchmarked shapes and batch sizes instead, and `benchmark_warmup.json` records
that size for perf_analyzer's input shapes.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from export.triton_config import read_config, write_config
from serving.contracts import TXT2IMG_COMPONENTS
from serving.pipeline_settings import default_settings

from benchmarks.workloads import CONTROLNET_KIND, Workload

log = logging.getLogger(__name__)

WARMUP_FILE = "benchmark_warmup.json"


@dataclass(frozen=True)
class WarmupSize:
    height: int
    width: int


def warmup_size(repository: Path) -> WarmupSize:
    """The image size the components warm up at: the benchmark's, else the model's native size."""
    marker = Path(repository) / WARMUP_FILE
    if marker.exists():
        return WarmupSize(**json.loads(marker.read_text()))
    settings = default_settings(Path(repository))
    return WarmupSize(settings.default_height, settings.default_width)


def component_batch_sizes(workload: Workload) -> dict[str, int]:
    """Batch of one request to each component (the orchestrators send the CFG pair as one request)."""
    pair = 2 if workload.cfg else 1
    sizes = {"text_encoder": pair, "unet": pair, "vae_decoder": 1}
    if workload.pipeline == "img2img":
        sizes["vae_encoder"] = 1
    if workload.pipeline == "controlnet":
        sizes.update({"unet_controlnet": pair, f"controlnet_{CONTROLNET_KIND}": pair})
        del sizes["unet"]
    return sizes


def served_models(workload: Workload) -> list[str]:
    """What a workload's server loads (explicit model control): its orchestrator, the streaming twin the
    gateway requires, and the components they call. The export also writes the other orchestrators (img2img,
    inpaint...), each a process importing torch and diffusers: loading them would only slow the start."""
    return [workload.orchestrator, f"{workload.orchestrator}_stream", *component_batch_sizes(workload)]


def export_command(workload: Workload, runtime: str, directory: Path, unet_queue_delay_us: int = 0) -> list[str]:
    """`python -m export` for a workload: on CUDA the torch runtime exports for the GPU (fp16, CUDA graphs)."""
    components = list(TXT2IMG_COMPONENTS) + (["vae_encoder"] if workload.pipeline == "img2img" else [])
    on_gpu = workload.device == "cuda" and runtime == "torch"
    # One orchestrator process per concurrent request (each runs one request at a time); on CPU at most 4:
    # each imports torch and diffusers, which is most of the server's start.
    instances = min(16 if on_gpu else 4, max(workload.concurrency))
    command = [sys.executable, "-m", "export", "--preset", workload.preset, "--runtime", runtime,
               *(["--device", "cuda"] if on_gpu else []),
               "--components", ",".join(components), "--output", str(directory),
               "--unet-queue-delay-us", str(unet_queue_delay_us),
               "--orchestrator-instances", f"{workload.orchestrator}={instances}"]
    if workload.pipeline == "controlnet":
        command += ["--controlnet", CONTROLNET_KIND]
    return command


def export_repository(workload: Workload, runtime: str, directory: Path, unet_queue_delay_us: int = 0) -> Path:
    """Runs the exporter in its own process, so its copy of the weights is freed when it ends."""
    command = export_command(workload, runtime, directory, unet_queue_delay_us)
    started = time.perf_counter()
    log.info("exporting %s (%s) to %s", workload.preset, runtime, directory)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"export failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    log.info("exported %s (%s) in %.0f s", workload.preset, runtime, time.perf_counter() - started)
    warm_at_benchmark_size(directory, workload)
    return directory


def warmup_batches(workload: Workload, pair: int) -> list[int]:
    """Every batch the dynamic batcher can form at the highest concurrency: k requests of `pair` samples."""
    return [pair * k for k in range(1, max(workload.concurrency) + 1)]


def warm_at_benchmark_size(repository: Path, workload: Workload) -> None:
    """Warm-up samples at the benchmarked size, one per batch size the run can produce (onnxruntime's first
    runs at a new shape are slow; without this they would land in the first timed concurrency runs)."""
    native = warmup_size(repository)
    scale_h, scale_w = workload.height / native.height, workload.width / native.width
    for name, pair in component_batch_sizes(workload).items():
        config_path = repository / name / "config.pbtxt"
        config = read_config(config_path)
        if not config.model_warmup:
            continue
        dynamic = {spec.name: [d == -1 for d in spec.dims] for spec in config.input}
        template = type(config.model_warmup[0])()
        template.CopyFrom(config.model_warmup[0])
        for input_name, data in template.inputs.items():
            # Dynamic axes are spatial: ..., height, width (latents or pixels) are the last two.
            dims = list(data.dims)
            for axis, is_dynamic in enumerate(dynamic[input_name]):
                if is_dynamic:
                    dims[axis] = round(dims[axis] * (scale_h if axis == len(dims) - 2 else scale_w))
            del data.dims[:]
            data.dims.extend(dims)
        del config.model_warmup[:]
        for batch in warmup_batches(workload, pair):
            if config.max_batch_size and batch > config.max_batch_size:
                break
            warmup = config.model_warmup.add()
            warmup.CopyFrom(template)
            warmup.name, warmup.batch_size = f"benchmark_batch_{batch}", batch
        write_config(config, repository / name)
    (repository / WARMUP_FILE).write_text(json.dumps({"height": workload.height, "width": workload.width}))

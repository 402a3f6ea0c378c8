"""Perception benchmark: each served model against the in-process library call users make today.

    python -m benchmarks.perception --preset tiny            # ~3 min on 2 cores
    python -m benchmarks.perception --preset real --models clip_score,depth_estimator

For each model, one at a time (one export + one tritonserver each, so real-size runs fit in memory):
latency p50/p90 of the library call in-process (transformers pipelines, torchmetrics, rembg, SamModel) and
of the Triton model over gRPC, on the same weights and image; then throughput at concurrency 1 and 4 with
the network components' Triton statistics (inferences / executions = mean dynamic batch). Writes JSON and
Markdown to benchmarks/results/perception-<preset>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from benchmarks.stats import timed
from clients.perception_client import PerceptionClient
from export.perception.foreground import REMBG_SESSIONS, foreground_source
from export.perception.repository import export_perception
from export.perception.sources import FAMILIES, PerceptionSource, load_perception_source
from serving.perception.contracts import CONTRACTS
from serving.server import ServerPorts, TritonServer

log = logging.getLogger("benchmarks.perception")

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("clip_score", "clip_classify", "depth_estimator", "segmenter", "foreground_mask", "sam", "sam_automatic")
FAMILY = {"clip_score": "clip", "clip_classify": "clip", "depth_estimator": "depth", "segmenter": "segmenter",
          "foreground_mask": "foreground", "sam": "sam", "sam_automatic": "sam"}
LABELS = ["sofa", "armchair", "floor lamp", "sideboard", "rug"]
CAPTION = "a walnut sideboard in a bright living room"
BOXES = [[0.1, 0.15, 0.6, 0.7], [0.25, 0.05, 0.95, 0.95]]  # fractions of width, height


def boxes_for(image: np.ndarray) -> list[list[float]]:
    height, width = image.shape[:2]
    return [[x1 * width, y1 * height, x2 * width, y2 * height] for x1, y1, x2, y2 in BOXES]


class TorchmetricsClip(torch.nn.Module):
    """CLIPModel as torchmetrics 1.9 expects it: transformers 5's get_*_features return an output object
    (`.pooler_output` is the projected embedding) where transformers 4 returned the tensor itself."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def get_image_features(self, *args, **kwargs) -> torch.Tensor:
        return self.model.get_image_features(*args, **kwargs).pooler_output

    def get_text_features(self, *args, **kwargs) -> torch.Tensor:
        return self.model.get_text_features(*args, **kwargs).pooler_output


@dataclass
class Result:
    model: str
    preset: str
    image: str
    reference: str
    reference_ms: list[float] = field(default_factory=list)
    triton_ms: list[float] = field(default_factory=list)
    throughput: dict[str, float] = field(default_factory=dict)  # "c=1", "c=4": requests/s
    batching: dict[str, dict[str, float]] = field(default_factory=dict)  # network -> requests, executions, mean batch
    export_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float:
            return float(np.percentile(values, q)) if values else float("nan")

        return {"p50_reference_ms": pct(self.reference_ms, 50), "p90_reference_ms": pct(self.reference_ms, 90),
                "p50_triton_ms": pct(self.triton_ms, 50), "p90_triton_ms": pct(self.triton_ms, 90)}


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(6 * x + 1), np.cos(5 * y + 2), x * y], axis=-1)
    return (127.5 * (base + 1) * 0.9 + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8)


def choices_for(preset: str) -> dict[str, str]:
    if preset == "tiny":
        return {family: "tiny" for family in ("clip", "depth", "segmenter", "sam", "foreground")}
    # There is no real-size network to build for foreground masks: real ones are rembg's ONNX files.
    return {**{family: spec.real_size for family, spec in FAMILIES.items()}, "foreground": "tiny"}


def reference_call(model: str, source: Any, image: np.ndarray, onnx_file: Path | None) -> tuple[str, Callable[[], Any]]:
    """The library call users make today, on the same weights (built once, timed per call)."""
    pil = Image.fromarray(image)
    if model == "clip_score":
        from torchmetrics.functional.multimodal import clip_score
        from transformers import CLIPProcessor

        processor = CLIPProcessor(image_processor=source.image_processor, tokenizer=source.tokenizer)
        wrapped = TorchmetricsClip(source.model)
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        return "torchmetrics clip_score", lambda: clip_score(tensor, CAPTION, model_name_or_path=lambda: (wrapped, processor))
    if model == "clip_classify":
        from transformers import pipeline

        classify = pipeline("zero-shot-image-classification", model=source.model, tokenizer=source.tokenizer,
                            image_processor=source.image_processor)
        return "transformers zero-shot pipeline", lambda: classify(pil, candidate_labels=LABELS)
    if model == "depth_estimator":
        from transformers import pipeline

        estimate = pipeline("depth-estimation", model=source.model, image_processor=source.image_processor)
        return "transformers depth-estimation pipeline", lambda: estimate(pil)
    if model == "segmenter":
        def segment():
            inputs = source.image_processor(images=pil, return_tensors="pt")
            with torch.no_grad():
                outputs = source.model(**inputs)
            return source.image_processor.post_process_semantic_segmentation(outputs, target_sizes=[pil.size[::-1]])

        return "image processor + UperNet + post_process (ControlNet-seg recipe)", segment
    if model == "foreground_mask":
        from rembg import new_session, remove

        session = new_session(source.session.name, model_path=str(onnx_file))
        return f"rembg.remove(only_mask=True, {source.session.name})", lambda: remove(image, only_mask=True, session=session)
    if model == "sam":
        from transformers import SamProcessor

        processor = SamProcessor(image_processor=source.image_processor)

        def segment_anything():
            inputs = processor(images=pil, input_boxes=[boxes_for(image)], return_tensors="pt")
            with torch.no_grad():
                outputs = source.model(pixel_values=inputs["pixel_values"], input_boxes=inputs["input_boxes"])
            return processor.image_processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"],
                                                                 inputs["reshaped_input_sizes"])

        return "SamProcessor + SamModel + post_process_masks", segment_anything
    if model == "sam_automatic":
        from benchmarks.mask_generation import mask_generation_pipeline

        generate = mask_generation_pipeline(source)  # its defaults, as the served model's
        return "transformers mask-generation pipeline (32 x 32 grid)", lambda: generate(pil)
    raise KeyError(model)


def triton_inputs(model: str, image: np.ndarray) -> dict[str, Any]:
    return {
        "clip_score": dict(image=image[None], text=[CAPTION]),
        "clip_classify": dict(image=image, labels=LABELS),
        "sam": dict(image=image, input_boxes=np.asarray(boxes_for(image), np.float32)),
    }.get(model, dict(image=image))


def network_counts(client: PerceptionClient, networks: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    counts = {}
    for network in networks:
        stats = client.model_statistics(network)
        counts[network] = (int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0)))
    return counts


def throughput(url: str, model: str, inputs: dict[str, Any], concurrency: int, per_worker: int) -> float:
    def worker(_: int) -> None:
        client = PerceptionClient(url)
        try:
            for _ in range(per_worker):
                client.infer(model, **inputs)
        finally:
            client.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    return concurrency * per_worker / (time.perf_counter() - started)


def run_model(model: str, preset: str, requests: int, workdir: Path, overrides: dict[str, str]) -> Result:
    family = FAMILY[model]
    choice = overrides.get(family) or choices_for(preset)[family]
    repository = workdir / f"repo-{model}"
    started = time.perf_counter()
    export_perception([model], {family: choice}, repository, "onnxruntime", instance_count=4)
    export_s = time.perf_counter() - started
    if family == "foreground":
        source: Any = foreground_source(choice, build_dir=workdir)
        native, onnx_file = REMBG_SESSIONS[source.session.name].size, source.onnx_file
    else:
        source = load_perception_source(family, choice)
        native, onnx_file = _native_size(source), None
    # A 640x480 photo, as users send: the processors bring it to the network's native size (part of the cost).
    image = photo(480, 640)
    reference, call = reference_call(model, source, image, onnx_file)
    result = Result(model, f"{preset} ({choice})", f"{image.shape[1]}x{image.shape[0]} -> {native} px", reference,
                    export_s=export_s)
    log.info("%s: timing %s in-process", model, reference)
    result.reference_ms = timed(call, requests)
    del call
    with TritonServer(repository, ServerPorts.free(), log_file=workdir / f"{model}-tritonserver.log") as server:
        client = PerceptionClient(server.grpc_url)
        inputs = triton_inputs(model, image)
        result.triton_ms = timed(lambda: client.infer(model, **inputs), requests)
        networks = CONTRACTS[model].networks
        for concurrency in (1, 4):
            before = network_counts(client, networks)
            rate = throughput(server.grpc_url, model, inputs, concurrency, max(2, requests // 2))
            after = network_counts(client, networks)
            result.throughput[f"c={concurrency}"] = rate
            for network in networks:
                inferences = after[network][0] - before[network][0]
                executions = after[network][1] - before[network][1]
                result.batching[f"{network} c={concurrency}"] = {
                    "requests": inferences, "executions": executions,
                    "mean_batch": inferences / executions if executions else float("nan")}
        client.close()
    log.info("%s: %s", model, result.summary())
    return result


def _native_size(source: PerceptionSource) -> int:
    """The image size the model's processor brings images to (the network's native input)."""
    processor = source.image_processor
    size = getattr(processor, "crop_size", None) or getattr(processor, "size", None) or {}
    return int(size.get("longest_edge") or size.get("height") or size.get("shortest_edge") or 0)


def markdown(results: list[Result], command: str, machine: dict[str, Any]) -> str:
    lines = [f"Produced by `{command}`.", "",
             f"Machine: {machine['cpu']}, {machine['cores']} cores; torch {torch.__version__}, "
             f"load average at start {machine['load_start']}, at end {machine['load_end']}.", "",
             "| model | preset | image | in-process reference | reference p50 ms | Triton p50 ms | ratio | "
             "req/s c=1 | req/s c=4 | c=4 vs c=1 |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s = r.summary()
        ratio = s["p50_triton_ms"] / s["p50_reference_ms"]
        scale = r.throughput["c=4"] / r.throughput["c=1"]
        lines.append(f"| `{r.model}` | {r.preset} | {r.image} | {r.reference} | {s['p50_reference_ms']:.1f} | "
                     f"{s['p50_triton_ms']:.1f} | {ratio:.2f}x | {r.throughput['c=1']:.2f} | "
                     f"{r.throughput['c=4']:.2f} | {scale:.2f}x |")
    lines += ["", "Dynamic batching in the network components (Triton statistics during each throughput phase):", "",
              "| model | network | concurrency | requests | executions | mean batch |", "|---|---|---:|---:|---:|---:|"]
    for r in results:
        for key, stats in r.batching.items():
            network, concurrency = key.split(" c=")
            lines.append(f"| `{r.model}` | `{network}` | {concurrency} | {stats['requests']} | {stats['executions']} | "
                         f"{stats['mean_batch']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.perception", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=("tiny", "real"), default="tiny")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--requests", type=int, default=10, help="timed requests per target")
    parser.add_argument("--use", action="append", default=[], metavar="FAMILY=PRESET_OR_PATH",
                        help="override a family's weights, e.g. clip=vit-b32 (repeatable)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    machine = {"cpu": platform.processor() or platform.machine(), "cores": len(os.sched_getaffinity(0)),
               "load_start": [round(v, 2) for v in os.getloadavg()]}
    results = []
    with tempfile.TemporaryDirectory(prefix="perception-bench-") as tmp:
        for model in args.models.split(","):
            overrides = dict(item.split("=", 1) for item in args.use)
            results.append(run_model(model, args.preset, args.requests, Path(tmp), overrides))
    machine["load_end"] = [round(v, 2) for v in os.getloadavg()]
    command = "python -m benchmarks.perception " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / f"perception-{args.preset}"
    stem.with_suffix(".json").write_text(json.dumps(
        {"command": command, "machine": machine,
         "results": [{**asdict(r), "summary": r.summary()} for r in results]}, indent=2))
    stem.with_suffix(".md").write_text(markdown(results, command.strip(), machine))
    log.info("wrote %s.{json,md}", stem)
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()

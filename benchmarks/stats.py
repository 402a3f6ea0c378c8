"""Where the time goes, from Triton's statistics API: deltas of cumulative counters around a measurement.

Triton keeps cumulative per-model counters (requests, executions, inferences = batched samples, and
nanoseconds in queue / compute). Subtracting a snapshot taken before a phase from one taken after
gives exactly that phase's figures, whatever ran on the server earlier (warm-up, other tests).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

ORCHESTRATOR = "txt2img"
COMPONENTS = ("text_encoder", "unet", "vae_decoder")


@dataclass(frozen=True)
class PipelineModels:
    """The Triton models one benchmarked pipeline calls: its orchestrator, the UNet it steps, and other
    components (img2img's vae_encoder, a ControlNet) whose compute joins the components' time."""

    orchestrator: str = ORCHESTRATOR
    unet: str = "unet"
    extra: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.orchestrator, "text_encoder", self.unet, "vae_decoder", *self.extra)


TXT2IMG_MODELS = PipelineModels()


@dataclass(frozen=True)
class ModelStats:
    requests: int  # successful requests
    executions: int  # model executions (one per dynamic batch)
    inferences: int  # samples executed (sum of executed batch sizes)
    success_ns: int  # request time inside the server (queue + compute)
    queue_ns: int
    compute_input_ns: int
    compute_infer_ns: int
    compute_output_ns: int
    # From batch_stats: one entry per execution, so batched requests are not counted once each
    # (inference_stats charge every request of a batch with the whole execution).
    execution_compute_ns: int = 0

    @classmethod
    def from_triton(cls, stats: Mapping[str, Any]) -> "ModelStats":
        """From one entry of `model_stats` (gRPC as_json or HTTP: counters may be strings)."""
        inference = stats.get("inference_stats", {})

        def field(name: str, key: str) -> int:
            return int(inference.get(name, {}).get(key, 0))

        return cls(
            requests=field("success", "count"),
            executions=int(stats.get("execution_count", 0)),
            inferences=int(stats.get("inference_count", 0)),
            success_ns=field("success", "ns"),
            queue_ns=field("queue", "ns"),
            compute_input_ns=field("compute_input", "ns"),
            compute_infer_ns=field("compute_infer", "ns"),
            compute_output_ns=field("compute_output", "ns"),
            execution_compute_ns=sum(
                int(batch.get(stage, {}).get("ns", 0))
                for batch in stats.get("batch_stats", [])
                for stage in ("compute_input", "compute_infer", "compute_output")
            ),
        )

    def __sub__(self, other: "ModelStats") -> "ModelStats":
        return ModelStats(*(a - b for a, b in zip(asdict(self).values(), asdict(other).values())))

    @property
    def compute_ns(self) -> int:
        return self.compute_input_ns + self.compute_infer_ns + self.compute_output_ns

    def per_request_ms(self, ns: int) -> float:
        return ns / self.requests / 1e6 if self.requests else float("nan")

    def per_execution_ms(self, ns: int) -> float:
        return ns / self.executions / 1e6 if self.executions else float("nan")

    @property
    def mean_batch(self) -> float:
        """Mean executed batch in samples (a CFG pair is 2 samples in one request)."""
        return self.inferences / self.executions if self.executions else float("nan")

    @property
    def requests_per_execution(self) -> float:
        return self.requests / self.executions if self.executions else float("nan")


Snapshot = dict[str, ModelStats]


def snapshot(client: Any, models: tuple[str, ...] = TXT2IMG_MODELS.names) -> Snapshot:
    """`client` is a clients.triton_client.TritonTxt2ImgClient (anything with `model_statistics(name)`)."""
    return {name: ModelStats.from_triton(client.model_statistics(name)) for name in models}


def delta(after: Snapshot, before: Snapshot) -> Snapshot:
    return {name: after[name] - before[name] for name in after}


def settled_delta(client: Any, before: Snapshot, requests: int, timeout_s: float = 5.0,
                  orchestrator: str = ORCHESTRATOR) -> Snapshot:
    """The phase's delta once Triton has counted all `requests` orchestrator requests.

    Triton updates a request's statistics after it has sent the response, so a snapshot taken right
    after the last response can miss that request.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        phase = delta(snapshot(client, tuple(before)), before)
        if phase[orchestrator].requests >= requests or time.monotonic() > deadline:
            return phase
        time.sleep(0.02)


@dataclass(frozen=True)
class StageBreakdown:
    """Per txt2img request, in ms; measured at concurrency 1 so no request waits for another."""

    requests: int
    steps: int
    served_ms: float  # txt2img time inside Triton
    text_encoder_ms: float
    unet_step_ms: float  # compute of one UNet request (one denoising step, the CFG pair)
    unet_step_queue_ms: float  # time one UNet step waits in the UNet's queue
    unet_total_ms: float  # all steps
    vae_decode_ms: float
    components_ms: float  # text encoder + UNet + VAE compute
    overhead_ms: float  # served - components: BLS hops, queues, tokenizer, scheduler arithmetic
    overhead_per_step_ms: float
    other_components_ms: float = 0.0  # vae_encoder (img2img), ControlNets: part of components_ms

    def to_dict(self) -> dict:
        return asdict(self)


def stage_breakdown(phase: Snapshot, steps: int, models: PipelineModels = TXT2IMG_MODELS) -> StageBreakdown:
    orchestrator = phase[models.orchestrator]
    requests = orchestrator.requests
    if requests == 0:
        raise ValueError(f"no {models.orchestrator} request in this phase")
    text_encoder, unet, vae = phase["text_encoder"], phase[models.unet], phase["vae_decoder"]
    served = orchestrator.success_ns / requests / 1e6
    other = sum(phase[name].compute_ns for name in models.extra) / requests / 1e6
    components = (text_encoder.compute_ns + unet.compute_ns + vae.compute_ns) / requests / 1e6 + other
    overhead = served - components
    return StageBreakdown(
        requests=requests,
        steps=steps,
        served_ms=served,
        text_encoder_ms=text_encoder.compute_ns / requests / 1e6,
        unet_step_ms=unet.per_request_ms(unet.compute_ns),
        unet_step_queue_ms=unet.per_request_ms(unet.queue_ns),
        unet_total_ms=unet.compute_ns / requests / 1e6,
        vae_decode_ms=vae.compute_ns / requests / 1e6,
        components_ms=components,
        overhead_ms=overhead,
        overhead_per_step_ms=overhead / steps,
        other_components_ms=other,
    )


@dataclass(frozen=True)
class UNetBatching:
    """How much step-level batching happened in one concurrency run."""

    concurrency: int
    txt2img_requests: int
    unet_requests: int
    unet_executions: int
    unet_samples: int
    mean_batch: float  # samples per execution; 2 = no merging with CFG
    requests_per_execution: float
    unet_queue_ms_per_request: float
    unet_compute_ms_per_execution: float

    def to_dict(self) -> dict:
        return asdict(self)


def unet_batching(phase: Snapshot, concurrency: int, models: PipelineModels = TXT2IMG_MODELS) -> UNetBatching:
    unet = phase[models.unet]
    return UNetBatching(
        concurrency=concurrency,
        txt2img_requests=phase[models.orchestrator].requests,
        unet_requests=unet.requests,
        unet_executions=unet.executions,
        unet_samples=unet.inferences,
        mean_batch=unet.mean_batch,
        requests_per_execution=unet.requests_per_execution,
        unet_queue_ms_per_request=unet.per_request_ms(unet.queue_ns),
        unet_compute_ms_per_execution=unet.per_execution_ms(unet.execution_compute_ns),
    )


@dataclass(frozen=True)
class OverheadFit:
    """Overhead at two step counts: a per-step slope (BLS hops, scheduler step) and a fixed part per request."""

    steps: tuple[int, int]
    overhead_ms: tuple[float, float]
    per_step_ms: float
    fixed_ms: float

    def to_dict(self) -> dict:
        return {**asdict(self), "steps": list(self.steps), "overhead_ms": list(self.overhead_ms)}


def fit_overhead(short: StageBreakdown, long: StageBreakdown) -> OverheadFit:
    if short.steps == long.steps:
        raise ValueError("the overhead fit needs two different step counts")
    per_step = (long.overhead_ms - short.overhead_ms) / (long.steps - short.steps)
    return OverheadFit((short.steps, long.steps), (short.overhead_ms, long.overhead_ms), per_step,
                       long.overhead_ms - per_step * long.steps)


def timed(call: Callable[[], Any], count: int, warmup: int = 2) -> list[float]:
    """Milliseconds of each of `count` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times

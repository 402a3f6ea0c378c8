"""What each benchmark run generates and how many times: one workload per preset, device and budget.

Every target of a run (diffusers in-process, Triton per runtime, the gateway) gets the same request:
same weights, seed, scheduler, steps, guidance and size. CPU workloads are sized so the whole CPU
report stays under 15 minutes on a 2-core machine; CUDA workloads use the model's native size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

DEVICES = ("cpu", "cuda")
# Which orchestrator a workload drives; img2img and controlnet add their conditioning inputs to the request.
PIPELINES = ("txt2img", "img2img", "controlnet")
CONTROLNET_KIND = "depth"


def synthetic_photo(height: int, width: int) -> np.ndarray:
    """A smooth RGB test photo (gradients and a disc): the conditioning image of img2img/ControlNet runs."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    disc = ((y - height * 0.45) ** 2 + (x - width * 0.55) ** 2 < (min(height, width) * 0.25) ** 2)
    channels = [x / width * 255, y / height * 255, disc * 200.0 + 30]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Workload:
    preset: str
    device: str
    height: int
    width: int
    steps: int
    latency_requests: int  # sequential requests at concurrency 1 (the latency percentiles)
    concurrency: tuple[int, ...]  # levels of the throughput sweep (1 reuses the latency run)
    waves: int = 2  # requests per level = waves x concurrency
    # Untimed waves per level. The servers warm every batch size the run can produce at start-up
    # (benchmarks.repository), so none are needed for onnxruntime's first-run-per-shape cost.
    warmup_waves: int = 0
    # A second, shorter run per Triton target splits the orchestration overhead into a per-step slope and a
    # fixed per-request part (tokenizer, scheduler set-up, decode hop); None skips it.
    overhead_probe_steps: int | None = None
    # The gateway adds HTTP and PNG work that does not depend on the model: measured where it shows (tiny).
    gateway: bool = True
    # Targets that get the concurrency sweep (None: all); the others are measured at concurrency 1 only.
    sweep_targets: tuple[str, ...] | None = None
    guidance_scale: float = 7.5
    scheduler: str = "euler"
    seed: int = 7
    prompt: str = "a walnut sideboard in a bright showroom, product photo"
    negative_prompt: str = "blurry, low quality"
    pipeline: str = "txt2img"  # one of PIPELINES
    strength: float = 0.75  # img2img: denoises int(steps x strength) steps, as users typically run it

    @property
    def orchestrator(self) -> str:
        """The Triton model the workload calls (ControlNet rides on txt2img)."""
        return "img2img" if self.pipeline == "img2img" else "txt2img"

    @property
    def models(self):
        """The Triton models the workload's requests reach (for the statistics breakdown)."""
        from benchmarks.stats import PipelineModels

        if self.pipeline == "img2img":
            return PipelineModels("img2img", "unet", ("vae_encoder",))
        if self.pipeline == "controlnet":
            return PipelineModels("txt2img", "unet_controlnet", (f"controlnet_{CONTROLNET_KIND}",))
        return PipelineModels()

    @property
    def precision(self) -> str:
        # The torch paths run fp16 on CUDA (serving.runners.TorchRunner does the same), fp32 on CPU.
        return "fp16" if self.device == "cuda" else "fp32"

    @property
    def cfg(self) -> bool:
        return self.guidance_scale > 1.0

    def request(self) -> dict[str, Any]:
        """The contract inputs every target receives (serving/contracts.py)."""
        request = {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "seed": self.seed,
            "height": self.height,
            "width": self.width,
            "scheduler": self.scheduler,
        }
        if self.pipeline == "img2img":
            request.update(image=synthetic_photo(self.height, self.width), strength=self.strength)
        if self.pipeline == "controlnet":
            request.update(control_image=synthetic_photo(self.height, self.width)[None], controlnet=[CONTROLNET_KIND],
                           controlnet_conditioning_scale=[1.0])
        return request

    def sweeps(self, target_name: str) -> bool:
        return self.sweep_targets is None or target_name in self.sweep_targets

    def request_with_steps(self, steps: int) -> dict[str, Any]:
        return {**self.request(), "num_inference_steps": steps}

    def requests_at(self, concurrency: int, target_name: str | None = None) -> int:
        if concurrency > 1:
            return self.waves * concurrency
        # Targets outside the sweep are secondary: fewer samples keep slow ones (sd15 on CPU) in budget.
        return self.latency_requests if target_name is None or self.sweeps(target_name) else min(self.latency_requests, 2)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision, "concurrency": list(self.concurrency),
                "orchestrator": self.orchestrator,
                "sweep_targets": list(self.sweep_targets) if self.sweep_targets is not None else None}


# (preset, device) -> the default workload.
WORKLOADS: dict[tuple[str, str], Workload] = {
    ("tiny", "cpu"): Workload("tiny", "cpu", 128, 128, steps=20, latency_requests=20, concurrency=(1, 2, 4, 8),
                              waves=3, overhead_probe_steps=5),
    # SD1.5 on 2 CPU cores is ~10 s per 256 px image at 4 steps (UNet ~1.5-2.2 s per batch-2 step, VAE
    # decode ~2 s), and its export ~2 min per runtime. To stay in the 15-minute budget: one timed wave at
    # concurrency 2 (2 cores are saturated from 2 on), and only the baseline and onnxruntime (the CPU
    # runtime) get the sweep; the torch runtime is measured at concurrency 1.
    ("sd15", "cpu"): Workload("sd15", "cpu", 256, 256, steps=4, latency_requests=3, concurrency=(1, 2),
                              waves=1, gateway=False,
                              sweep_targets=("diffusers", "triton[onnxruntime]")),
    ("tiny", "cuda"): Workload("tiny", "cuda", 128, 128, steps=20, latency_requests=30, concurrency=(1, 2, 4, 8),
                               waves=4, overhead_probe_steps=5),
    # Issue 11's targets: 512 px, 30 steps, CFG, one image: p50 at concurrency 1, throughput at 1, 4 and 16.
    ("sd15", "cuda"): Workload("sd15", "cuda", 512, 512, steps=30, latency_requests=10, concurrency=(1, 4, 16),
                               waves=3, overhead_probe_steps=10, gateway=False),
}


def workload_for(preset: str, device: str, quick: bool = False, **overrides: Any) -> Workload:
    """The default workload; `quick` is the smoke-test size (seconds, not minutes); overrides win."""
    if (preset, device) not in WORKLOADS:
        raise ValueError(f"no workload for preset {preset!r} on {device!r}; known: {sorted(WORKLOADS)}")
    workload = WORKLOADS[(preset, device)]
    if quick:
        workload = replace(workload, steps=3, latency_requests=3, concurrency=(1, 2), waves=1,
                           sweep_targets=None, gateway=True,
                           overhead_probe_steps=1 if workload.overhead_probe_steps else None)
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if overrides.get("pipeline", "txt2img") != "txt2img":
        if overrides["pipeline"] not in PIPELINES:
            raise ValueError(f"unknown pipeline {overrides['pipeline']!r}; known: {PIPELINES}")
        # The gateway and the overhead probe are measured on txt2img: they do not depend on the pipeline.
        overrides.setdefault("gateway", False)
        overrides.setdefault("overhead_probe_steps", None)
    if "concurrency" in overrides:
        overrides["concurrency"] = tuple(sorted(set(overrides["concurrency"]) | {1}))
    return replace(workload, **overrides)

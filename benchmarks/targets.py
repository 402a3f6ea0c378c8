"""The things a benchmark sends txt2img requests to, behind one interface.

A target opens one session per client thread (its own pipeline object or connection), and a session
turns the contract's request dict into uint8 images [n, h, w, 3]:
- `DiffusersTarget`: diffusers' StableDiffusionPipeline in-process, the baseline a user would otherwise pick;
- `TritonTarget`: the txt2img orchestrator over gRPC (tritonclient);
- `GatewayTarget`: the REST gateway's OpenAI-style `POST /v1/images/generations`.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

log = logging.getLogger(__name__)

Session = Callable[[dict[str, Any]], np.ndarray]


class Target(Protocol):
    name: str  # unique within a run: "diffusers", "triton[onnxruntime]", "gateway[onnxruntime]"
    kind: str  # "diffusers" | "triton" | "gateway"
    runtime: str  # what runs the networks: "torch" | "onnxruntime"

    def open_session(self) -> Session: ...

    def close(self) -> None: ...


@dataclass
class DiffusersTarget:
    """diffusers in-process: one pipeline object per thread sharing the modules, each with its own scheduler."""

    source: Any  # export.sources.PipelineSource
    device: str = "cpu"
    name: str = "diffusers"
    kind: str = "diffusers"
    runtime: str = "torch"

    def __post_init__(self) -> None:
        import torch

        dtype = torch.float16 if self.device == "cuda" else torch.float32
        for module in (self.source.text_encoder, self.source.unet, self.source.vae):
            module.to(self.device, dtype).eval()

    def open_session(self) -> Session:
        import torch

        from serving.schedulers import create_scheduler

        pipelines: dict[str, Any] = {}

        def generate(request: dict[str, Any]) -> np.ndarray:
            name = request["scheduler"]
            if name not in pipelines:
                pipeline = self.source.diffusers_pipeline(create_scheduler(name, self.source.scheduler_config))
                pipeline.set_progress_bar_config(disable=True)
                pipelines[name] = pipeline
            # The served pipeline draws its latents from a CPU generator too: same seed, same noise.
            generator = torch.Generator("cpu").manual_seed(int(request["seed"]))
            with torch.inference_mode():
                images = pipelines[name](
                    prompt=request["prompt"], negative_prompt=request.get("negative_prompt") or None,
                    num_inference_steps=request["num_inference_steps"], guidance_scale=request["guidance_scale"],
                    height=request["height"], width=request["width"], num_images_per_prompt=request.get("num_images", 1),
                    generator=generator, output_type="np",
                ).images
            # uint8 like the served output, so both sides do the same post-processing.
            return (images * 255).round().astype(np.uint8)

        return generate

    def close(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.empty_cache()


@dataclass
class TritonTarget:
    """The txt2img orchestrator over KServe v2 gRPC, one client connection per thread."""

    url: str
    runtime: str
    name: str = ""
    kind: str = "triton"
    _clients: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or f"triton[{self.runtime}]"

    def open_session(self) -> Session:
        from clients.triton_client import TritonTxt2ImgClient

        client = TritonTxt2ImgClient(self.url, "grpc")
        self._clients.append(client)
        return lambda request: client.generate(**request).images

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


@dataclass
class GatewayTarget:
    """The REST gateway's OpenAI Images route with the diffusion extras, images as base64 PNG."""

    base_url: str  # http://host:port
    runtime: str
    route: str = "/v1/images/generations"
    timeout_s: float = 600.0
    name: str = ""
    kind: str = "gateway"
    _clients: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or f"gateway[{self.runtime}]"

    @staticmethod
    def body(request: dict[str, Any]) -> dict[str, Any]:
        extras = ("negative_prompt", "seed", "num_inference_steps", "guidance_scale", "scheduler")
        return {
            "prompt": request["prompt"],
            "n": request.get("num_images", 1),
            "size": f"{request['width']}x{request['height']}",
            "response_format": "b64_json",
            **{key: request[key] for key in extras if key in request},
        }

    def open_session(self) -> Session:
        import httpx
        from PIL import Image

        client = httpx.Client(base_url=self.base_url, timeout=self.timeout_s)
        self._clients.append(client)

        def generate(request: dict[str, Any]) -> np.ndarray:
            response = client.post(self.route, json=self.body(request))
            response.raise_for_status()
            images = [np.asarray(Image.open(io.BytesIO(base64.b64decode(item["b64_json"]))).convert("RGB"))
                      for item in response.json()["data"]]
            return np.stack(images)

        return generate

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()

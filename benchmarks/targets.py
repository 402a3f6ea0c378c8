"""The things a benchmark sends generation requests to, behind one interface.

A target opens one session per client thread (its own pipeline object or connection), and a session
turns the contract's request dict into uint8 images [n, h, w, 3]:
- `DiffusersTarget`: diffusers' StableDiffusionPipeline (or its img2img / ControlNet sibling) in-process, the
  baseline a user would otherwise pick;
- `TritonTarget`: a generation orchestrator over gRPC (tritonclient);
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

    source: Any  # export.sources.PipelineSource (with source.controlnets for ControlNet requests)
    device: str = "cpu"
    name: str = "diffusers"
    kind: str = "diffusers"
    runtime: str = "torch"

    def __post_init__(self) -> None:
        import torch

        dtype = torch.float16 if self.device == "cuda" else torch.float32
        for module in (self.source.text_encoder, self.source.unet, self.source.vae, *self.source.controlnets.values()):
            module.to(self.device, dtype).eval()

    def open_session(self) -> Session:
        import torch

        from serving.schedulers import create_scheduler

        pipelines: dict[str, Any] = {}

        def generate(request: dict[str, Any]) -> np.ndarray:
            name = request["scheduler"]
            kind = "controlnet" if "control_image" in request else "img2img" if "image" in request else "txt2img"
            if (name, kind) not in pipelines:
                pipeline = self.source.diffusers_pipeline(create_scheduler(name, self.source.scheduler_config))
                pipeline = self._conditioned(pipeline, kind, request)
                pipeline.set_progress_bar_config(disable=True)
                pipelines[(name, kind)] = pipeline
            conditioning = self._conditioning(kind, request)
            # The served pipeline draws its latents from a CPU generator too: same seed, same noise.
            generator = torch.Generator("cpu").manual_seed(int(request["seed"]))
            with torch.inference_mode():
                images = pipelines[(name, kind)](
                    prompt=request["prompt"], negative_prompt=request.get("negative_prompt") or None,
                    num_inference_steps=request["num_inference_steps"], guidance_scale=request["guidance_scale"],
                    num_images_per_prompt=request.get("num_images", 1), generator=generator, output_type="np",
                    **conditioning,
                ).images
            # uint8 like the served output, so both sides do the same post-processing.
            return (images * 255).round().astype(np.uint8)

        return generate

    def _conditioned(self, pipeline: Any, kind: str, request: dict[str, Any]) -> Any:
        """The diffusers pipeline class for the request: img2img, or ControlNet on txt2img."""
        from diffusers import StableDiffusionControlNetPipeline, StableDiffusionImg2ImgPipeline

        if kind == "img2img":
            return StableDiffusionImg2ImgPipeline(**pipeline.components)
        if kind == "controlnet":
            (controlnet_kind,) = request["controlnet"]
            return StableDiffusionControlNetPipeline(**pipeline.components,
                                                     controlnet=self.source.controlnets[controlnet_kind])
        return pipeline

    @staticmethod
    def _conditioning(kind: str, request: dict[str, Any]) -> dict[str, Any]:
        from PIL import Image

        if kind == "img2img":  # its input image already has the requested size; the pipeline keeps it
            return {"image": Image.fromarray(request["image"]), "strength": request["strength"]}
        size = {"height": request["height"], "width": request["width"]}
        if kind == "controlnet":
            return {**size, "image": Image.fromarray(request["control_image"][0]),
                    "controlnet_conditioning_scale": request["controlnet_conditioning_scale"][0]}
        return size

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
    model_name: str = "txt2img"
    _clients: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or f"triton[{self.runtime}]"

    def open_session(self) -> Session:
        from clients.triton_client import TritonGenerationClient

        client = TritonGenerationClient(self.url, "grpc", model_name=self.model_name)
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

"""Gateway settings: environment variables `GATEWAY_*` (or a `.env` file), overridable from the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.replica_targets import ReplicaTarget
from serving.perception.contracts import SAM_CROPS_N_LAYERS, SAM_POINTS_PER_CROP

# The txt2img contract's own bounds (DESIGN.md section 3); settings may only tighten them.
CONTRACT_MAX_STEPS = 150
CONTRACT_MAX_IMAGES = 8
CONTRACT_GUIDANCE_RANGE = (0.0, 30.0)
CONTRACT_MAX_SEED = 2**63 - 1
# A generation model's decoupled twin (per-step progress) is `<model>_stream` (serving.contracts.streaming_twin).
STREAM_SUFFIX = "_stream"


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    # Triton replicas, comma-separated in the environment: gRPC `host:port`, or `dns:name:port` for every
    # address behind a DNS name (a Kubernetes headless Service), re-resolved every discovery_interval_s.
    replicas: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1:8001"])
    discovery_interval_s: float = Field(5.0, gt=0)
    # DNS servers (`ip` or `ip:port`) asked for `dns:` names; empty: the system resolver (getaddrinfo).
    dns_servers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dns_timeout_s: float = Field(2.0, gt=0)
    # Triton models behind the routes (each follows the contract of the same name in serving/contracts.py);
    # `stream: true` calls the decoupled twin `<model>_stream`.
    model: str = "txt2img"  # /v1/images/generations, /v1/txt2img
    img2img_model: str = "img2img"  # /v1/img2img, /v1/images/edits without a mask
    inpaint_model: str = "inpaint"  # /v1/inpaint, /v1/images/edits with a mask
    background_replace_model: str = "background_replace"  # /v1/background-replace
    restyle_room_model: str = "restyle_room"  # /v1/restyle-room
    product_enhance_model: str = "product_enhance"  # /v1/product-enhance
    product_finder_model: str = "product_finder"  # /v1/product-finder (no streaming twin)
    translate_model: str = "translate"  # catalog jobs (/v1/jobs): de->en before attributes and prompts
    # Catalog jobs: their SQLite database, uploads and output folders (jobs.sqlite, <job id>/).
    jobs_dir: Path = Path("out/jobs")
    streaming: bool = True  # false: `stream: true` is a 501 and no `_stream` model is needed
    # A replica is in rotation (and /readyz is 200) when these are loaded. Default: the txt2img model and,
    # with streaming, its twin. The other routes' models are optional: a replica without them still serves
    # the rest, and those routes answer 503 `model_not_available` until some replica loads them.
    required_models: Annotated[list[str] | None, NoDecode] = None
    max_in_flight_per_replica: int = Field(8, ge=1)
    request_timeout_s: float = Field(300.0, gt=0)
    health_interval_s: float = Field(2.0, gt=0)
    health_timeout_s: float = Field(2.0, gt=0)
    retry_after_s: int = Field(1, ge=0)  # Retry-After of 503s, and of 429s until a service time was measured
    # Admission: beyond max_in_flight_per_replica a request waits (interactive before batch) in a queue of at
    # most queue_max_depth requests for the whole replica set (0: no queue, overflow is a 429 at once), for
    # at most queue_max_wait_s (then a 503 queue_timeout).
    queue_max_depth: int = Field(64, ge=0)
    queue_max_wait_s: float = Field(60.0, gt=0)
    body_timeout_s: float = Field(60.0, gt=0)  # the whole request body must arrive within this (then 408)

    # Request limits (tighter than or equal to the contract's).
    max_image_size: int = Field(1024, ge=8)
    size_multiple: int = Field(8, ge=1)
    max_steps: int = Field(CONTRACT_MAX_STEPS, ge=1, le=CONTRACT_MAX_STEPS)
    max_images: int = Field(CONTRACT_MAX_IMAGES, ge=1, le=CONTRACT_MAX_IMAGES)
    max_prompt_chars: int = Field(2000, ge=1)
    # /v1/sam/automatic: the grid work one request may ask for (points_per_crop^2 points on each of 1 or 5 crops).
    max_sam_points_per_crop: int = Field(SAM_POINTS_PER_CROP[2], ge=1, le=SAM_POINTS_PER_CROP[2])
    max_sam_crops_n_layers: int = Field(SAM_CROPS_N_LAYERS[2], ge=0, le=SAM_CROPS_N_LAYERS[2])
    max_body_bytes: int = Field(64 * 1024, ge=1024)  # JSON-only routes (/v1/images/generations)
    # Routes that take images (/v1/images/edits, /v1/img2img, /v1/inpaint, /v1/txt2img with ControlNet).
    max_upload_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    # Decoded size cap of each uploaded image (decompression bombs): above it the upload is a 400.
    max_upload_pixels: int = Field(4096 * 4096, ge=64)
    schedulers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["ddim", "euler", "euler_ancestral", "dpmpp_2m", "pndm", "unipc"])

    # url responses.
    image_dir: Path = Path("out/gateway-images")
    image_ttl_s: float = Field(3600.0, gt=0)
    public_base_url: str | None = None  # e.g. https://images.example.com; default: the request's own base URL
    png_compress_level: int = Field(3, ge=0, le=9)

    # Security: keys from GATEWAY_API_KEYS (comma-separated) and/or a file with one key per line.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    api_keys_file: Path | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # empty: CORS off

    @field_validator("replicas", "dns_servers", "schedulers", "api_keys", "cors_origins", "required_models",
                     mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _comma_list(value)

    @model_validator(mode="after")
    def _check(self) -> "GatewaySettings":
        if not self.replicas:
            raise ValueError("at least one Triton replica is required (GATEWAY_REPLICAS=host:port,...)")
        self.replica_targets()  # a malformed entry fails here, at start-up
        return self

    def replica_targets(self) -> list[ReplicaTarget]:
        return [ReplicaTarget.parse(entry) for entry in self.replicas]

    @staticmethod
    def stream_model(model: str) -> str:
        return f"{model}{STREAM_SUFFIX}"

    def required(self) -> list[str]:
        """Models every replica in rotation must have loaded."""
        if self.required_models is not None:
            return list(self.required_models)
        return [self.model] + ([self.stream_model(self.model)] if self.streaming else [])

    def optional(self) -> list[str]:
        """The other routes' models: probed, routed to where loaded, never a condition of readiness."""
        models = [self.model, self.img2img_model, self.inpaint_model, self.background_replace_model,
                  self.restyle_room_model, self.product_enhance_model]
        if self.streaming:
            models += [self.stream_model(model) for model in list(models)]
        models.append(self.product_finder_model)  # answers at once: nothing to stream
        models.append(self.translate_model)  # catalog jobs only
        required = set(self.required())
        return [model for model in models if model not in required]

    def keys(self) -> set[str]:
        """All configured API keys (environment and file); empty means no authentication."""
        keys = {key.get_secret_value() for key in self.api_keys}
        if self.api_keys_file is not None:
            lines = self.api_keys_file.read_text().splitlines()
            keys |= {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}
        return keys

"""Gateway settings: environment variables `GATEWAY_*` (or a `.env` file), overridable from the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The txt2img contract's own bounds (DESIGN.md section 3); settings may only tighten them.
CONTRACT_MAX_STEPS = 150
CONTRACT_MAX_IMAGES = 8
CONTRACT_GUIDANCE_RANGE = (0.0, 30.0)
CONTRACT_MAX_SEED = 2**63 - 1


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    # Triton replicas (gRPC host:port), comma-separated in the environment.
    replicas: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1:8001"])
    model: str = "txt2img"
    stream_model: str = "txt2img_stream"  # empty: no streaming (and the replicas need not serve it)
    max_in_flight_per_replica: int = Field(8, ge=1)
    request_timeout_s: float = Field(300.0, gt=0)
    health_interval_s: float = Field(2.0, gt=0)
    health_timeout_s: float = Field(2.0, gt=0)
    retry_after_s: int = Field(1, ge=0)

    # Request limits (tighter than or equal to the contract's).
    max_image_size: int = Field(1024, ge=8)
    size_multiple: int = Field(8, ge=1)
    max_steps: int = Field(CONTRACT_MAX_STEPS, ge=1, le=CONTRACT_MAX_STEPS)
    max_images: int = Field(CONTRACT_MAX_IMAGES, ge=1, le=CONTRACT_MAX_IMAGES)
    max_prompt_chars: int = Field(2000, ge=1)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
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

    @field_validator("replicas", "schedulers", "api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _comma_list(value)

    @model_validator(mode="after")
    def _check(self) -> "GatewaySettings":
        if not self.replicas:
            raise ValueError("at least one Triton replica is required (GATEWAY_REPLICAS=host:port,...)")
        return self

    def keys(self) -> set[str]:
        """All configured API keys (environment and file); empty means no authentication."""
        keys = {key.get_secret_value() for key in self.api_keys}
        if self.api_keys_file is not None:
            lines = self.api_keys_file.read_text().splitlines()
            keys |= {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}
        return keys

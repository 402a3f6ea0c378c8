"""Request and response bodies. Limits come from settings, so the models are built per app.

Both request bodies forbid unknown fields: a misspelt diffusion option (`num_inference_step`) is an
error naming it rather than a silently default image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from gateway.settings import CONTRACT_GUIDANCE_RANGE, CONTRACT_MAX_SEED, GatewaySettings

_SIZE = re.compile(r"(\d{1,5})x(\d{1,5})")


class ImageData(BaseModel):
    b64_json: str | None = None
    url: str | None = None


class ImagesResponse(BaseModel):
    """OpenAI's ImagesResponse plus the seed used (`seed`, also in the X-Seed header)."""

    created: int
    data: list[ImageData]
    seed: int
    size: str
    output_format: Literal["png"] = "png"


class Txt2ImgJSONResponse(BaseModel):
    created: int
    seed: int
    width: int
    height: int
    images: list[ImageData]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    error: ErrorDetail


@dataclass(frozen=True)
class RequestModels:
    ImageGenerationRequest: type[BaseModel]
    Txt2ImgRequest: type[BaseModel]


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def build_request_models(settings: GatewaySettings) -> RequestModels:
    max_size, multiple, schedulers = settings.max_image_size, settings.size_multiple, tuple(settings.schedulers)
    low, high = CONTRACT_GUIDANCE_RANGE

    def check_side(name: str, value: int) -> int:
        if value % multiple:
            raise _error("size_multiple", f"{name} {value} is not a multiple of {multiple}")
        if not multiple <= value <= max_size:
            raise _error("size_range", f"{name} {value} is outside {multiple}..{max_size}")
        return value

    class DiffusionOptions(BaseModel):
        """The diffusion extras shared by both routes (all optional; the model's defaults apply)."""

        model_config = ConfigDict(extra="forbid")

        prompt: StrictStr = Field(min_length=1, max_length=settings.max_prompt_chars)
        negative_prompt: StrictStr | None = Field(None, max_length=settings.max_prompt_chars)
        seed: StrictInt | None = Field(None, ge=0, le=CONTRACT_MAX_SEED,
                                       description="random when omitted; the seed used is returned")
        num_inference_steps: StrictInt | None = Field(None, ge=1, le=settings.max_steps)
        guidance_scale: float | None = Field(None, ge=low, le=high, allow_inf_nan=False)
        scheduler: StrictStr | None = Field(None, description=f"one of {', '.join(schedulers)}")

        @field_validator("prompt")
        @classmethod
        def _prompt_not_blank(cls, value: str) -> str:
            if not value.strip():
                raise _error("blank", "prompt must contain non-whitespace text")
            return value

        @field_validator("scheduler")
        @classmethod
        def _known_scheduler(cls, value: str | None) -> str | None:
            if value is not None and value not in schedulers:
                raise _error("unknown_scheduler", f"unknown scheduler {value!r}; allowed: {', '.join(schedulers)}")
            return value

    class ImageGenerationRequest(DiffusionOptions):
        """OpenAI Images API `images.generate` body (+ the diffusion extras, e.g. via the SDK's extra_body)."""

        n: StrictInt = Field(1, ge=1, le=settings.max_images)
        size: StrictStr | None = Field(None, description=f"WxH, multiples of {multiple} up to {max_size}; "
                                                         "'auto' or omitted: the model's native size")
        response_format: Literal["b64_json", "url"] | None = Field(None, description="default b64_json")
        user: StrictStr | None = Field(None, max_length=256)
        stream: StrictBool = Field(False, description="Server-Sent Events: progress per step, then the image")
        # OpenAI fields accepted for compatibility; they do not change a diffusion result.
        model: StrictStr | None = None
        quality: StrictStr | None = None
        style: StrictStr | None = None
        moderation: StrictStr | None = None
        safety_identifier: StrictStr | None = Field(None, max_length=256)
        background: Literal["auto", "opaque"] | None = None
        output_format: Literal["png"] | None = None
        output_compression: StrictInt | None = Field(None, ge=0, le=100)
        partial_images: StrictInt | None = Field(None, ge=0, le=3)

        @field_validator("size")
        @classmethod
        def _size(cls, value: str | None) -> str | None:
            if value is None or value == "auto":
                return None
            match = _SIZE.fullmatch(value)
            if match is None:
                raise _error("size_format", f"size must be 'WIDTHxHEIGHT' (e.g. '512x512') or 'auto', got {value!r}")
            check_side("width", int(match[1]))
            check_side("height", int(match[2]))
            return value

        def dimensions(self) -> tuple[int | None, int | None]:
            if self.size is None:
                return None, None
            width, height = self.size.split("x")
            return int(width), int(height)

    class Txt2ImgRequest(DiffusionOptions):
        """Every input of the txt2img contract (DESIGN.md section 3), plus the response's form."""

        height: StrictInt | None = None
        width: StrictInt | None = None
        num_images: StrictInt = Field(1, ge=1, le=settings.max_images)
        response_format: Literal["png", "b64_json"] = Field("png", description="png: image/png bytes (one image)")
        stream: StrictBool = Field(False, description="Server-Sent Events: progress per step, then the image")

        @field_validator("height", "width")
        @classmethod
        def _side(cls, value: int | None, info) -> int | None:
            return None if value is None else check_side(info.field_name, value)

    return RequestModels(ImageGenerationRequest, Txt2ImgRequest)

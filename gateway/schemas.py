"""Request and response bodies. Limits come from settings, so the models are built per app.

Every request body forbids unknown fields: a misspelt diffusion option (`num_inference_step`) is an
error naming it rather than a silently default image. Numbers are strict: `true` is not 1, "20" is not 20
(multipart form fields are parsed as JSON scalars first, see gateway/request_body.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import (AllowInfNan, BaseModel, ConfigDict, Field, Strict, StrictBool, StrictInt, StrictStr,
                      field_validator)
from pydantic_core import PydanticCustomError

from gateway.png import b64, encode_png
from gateway.settings import CONTRACT_GUIDANCE_RANGE, CONTRACT_MAX_SEED, GatewaySettings

_SIZE = re.compile(r"([0-9]{1,5})x([0-9]{1,5})")  # ASCII digits: \d would match any script

# OpenAI's own model names: accepted on the OpenAI routes and mapped to the default exported variant.
OPENAI_MODEL_PREFIXES = ("dall-e", "gpt-image")


# A finite JSON number (int or float), never a boolean or a string. Strict types (not validators) keep the
# bounds in the OpenAPI document as `minimum`/`maximum`.
Number = Annotated[float, Strict(), AllowInfNan(False)]
# Examples in the OpenAPI document: requests built from them run (a 32x32 grey photo, a mask repainting its middle).
EXAMPLE_IMAGE = b64(encode_png(np.full((32, 32, 3), 128, np.uint8)))
EXAMPLE_MASK = b64(encode_png(np.pad(np.full((16, 16, 3), 255, np.uint8), ((8, 8), (8, 8), (0, 0)))))
EXAMPLE_PROMPT = "a walnut sideboard, studio light"

# The ControlNet list items' ranges (serving/contracts.py: conditioning scale 0..5, guidance window 0..1).
Scale = Annotated[Number, Field(ge=0, le=5)]
Fraction = Annotated[Number, Field(ge=0, le=1)]


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


# Server-Sent Events (`stream: true`): the `data` of each event, by event name.
class ProgressEvent(BaseModel):
    """Native and workflow routes' `progress`: one per stage and denoising step (`stage` names what runs:
    `denoise`, or a workflow's mask, depth, segmentation, composite)."""

    stage: str
    step: int
    total: int
    elapsed: float


class ImageEvent(BaseModel):
    """Native routes' last event, `image`."""

    seed: int
    width: int
    height: int
    images: list[ImageData]


class OpenAIProgressEvent(BaseModel):
    """`image_generation.progress` / `image_edit.progress` (ours: OpenAI sends no per-step event); `stage` as in the
    native routes' `progress`."""

    type: str
    stage: str
    step: int
    total: int
    elapsed: float


class TokenDetails(BaseModel):
    image_tokens: int
    text_tokens: int


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: TokenDetails


class OpenAICompletedEvent(BaseModel):
    """`image_generation.completed` / `image_edit.completed`: one per image, as OpenAI's."""

    type: str
    b64_json: str
    created_at: int
    size: str
    output_format: Literal["png"]
    quality: str
    background: str
    image_index: int
    seed: int
    usage: Usage


NATIVE_EVENTS: dict[str, type[BaseModel]] = {"progress": ProgressEvent, "image": ImageEvent, "error": ErrorResponse}


def openai_events(prefix: str) -> dict[str, type[BaseModel]]:
    return {f"{prefix}.progress": OpenAIProgressEvent, f"{prefix}.completed": OpenAICompletedEvent,
            "error": ErrorResponse}


class ReplicaState(BaseModel):
    url: str
    healthy: bool
    in_flight: int
    last_error: str | None
    models: list[str]


class Readiness(BaseModel):
    """/readyz: 200 `ready`, or 503 `not ready` with `error`."""

    status: Literal["ready", "not ready"]
    models: list[str]
    optional: dict[str, bool]
    replicas: list[ReplicaState]
    error: ErrorDetail | None = None


def _document(**keywords: object):
    """`json_schema_extra` adding keywords to a field's value schema (the non-null branch of an optional
    field): bounds, patterns and choices that validators check with their own messages."""

    def extra(schema: dict) -> None:
        branches = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") != "null"]
        for branch in branches:
            branch.update(keywords)

    return extra


@dataclass(frozen=True)
class RequestModels:
    ImageGenerationRequest: type[BaseModel]
    ImageEditRequest: type[BaseModel]
    Txt2ImgRequest: type[BaseModel]
    Img2ImgRequest: type[BaseModel]
    InpaintRequest: type[BaseModel]
    DiffusionOptions: type[BaseModel]  # the shared prompt/seed/steps/guidance/scheduler fields (workflow routes)


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

    side_bounds = _document(minimum=multiple, maximum=max_size, multipleOf=multiple)

    class DiffusionOptions(BaseModel):
        """The diffusion extras shared by both routes (all optional; the model's defaults apply)."""

        model_config = ConfigDict(extra="forbid")

        prompt: StrictStr = Field(min_length=1, max_length=settings.max_prompt_chars, examples=[EXAMPLE_PROMPT])
        negative_prompt: StrictStr | None = Field(None, max_length=settings.max_prompt_chars)
        # `lt` 2**63 rather than `le` 2**63 - 1: the document's bounds are floats, and 2**63 is exact as one.
        seed: StrictInt | None = Field(None, ge=0, lt=CONTRACT_MAX_SEED + 1,
                                       description="random when omitted; the seed used is returned")
        num_inference_steps: StrictInt | None = Field(None, ge=1, le=settings.max_steps)
        guidance_scale: Number | None = Field(None, ge=low, le=high)
        scheduler: StrictStr | None = Field(None, description=f"one of {', '.join(schedulers)}",
                                            json_schema_extra=_document(enum=list(schedulers)))

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
                                                         "'auto' or omitted: the model's native size",
                                       json_schema_extra=_document(pattern=r"^(auto|[0-9]{1,5}x[0-9]{1,5})$"))
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

        def variant(self) -> str | None:
            """`model` as an exported variant; OpenAI's model names (dall-e-2, gpt-image-1...) mean the default."""
            if self.model is None or self.model.startswith(OPENAI_MODEL_PREFIXES):
                return None
            return self.model

    class ImageEditRequest(ImageGenerationRequest):
        """OpenAI Images API `images.edit` form fields (the files `image` and `mask` come separately)."""

        strength: Number | None = Field(None, ge=0, le=1,
                                        description="how far from the image: 0 keeps it, 1 ignores it "
                                                    "(default: 0.8 without a mask, 1.0 with one)")
        input_fidelity: StrictStr | None = None  # OpenAI compatibility; ignored

    class ControlNetOptions(BaseModel):
        """ControlNet inputs of every native route: k images with their kind, scale and guidance window."""

        # k >= 1: an empty list is no ControlNet (leave the fields out instead).
        control_images: list[StrictStr] | None = Field(
            None, min_length=1, description="k conditioning images: base64 strings (JSON) or files (multipart)",
            examples=[[EXAMPLE_IMAGE]])
        controlnet: list[StrictStr] | None = Field(None, min_length=1, examples=[["depth"]],
                                                   description="k exported ControlNet kinds, e.g. depth, seg")
        controlnet_conditioning_scale: list[Scale] | None = Field(None, min_length=1,
                                                                  description="k values in 0..5 (default 1)")
        control_guidance_start: list[Fraction] | None = Field(None, min_length=1,
                                                              description="k values in 0..1 (default 0)")
        control_guidance_end: list[Fraction] | None = Field(None, min_length=1,
                                                            description="k values in 0..1 (default 1)")

    class Txt2ImgRequest(DiffusionOptions, ControlNetOptions):
        """Every input of the txt2img contract (DESIGN.md section 3), plus the response's form."""

        model: StrictStr | None = Field(None, description="exported variant (default: the first exported)")
        height: StrictInt | None = Field(None, json_schema_extra=side_bounds)
        width: StrictInt | None = Field(None, json_schema_extra=side_bounds)
        num_images: StrictInt = Field(1, ge=1, le=settings.max_images)
        response_format: Literal["png", "b64_json"] = Field("png", description="png: image/png bytes (one image)")
        stream: StrictBool = Field(False, description="Server-Sent Events: progress per step, then the image")

        @field_validator("height", "width")
        @classmethod
        def _side(cls, value: int | None, info) -> int | None:
            return None if value is None else check_side(info.field_name, value)

    class Img2ImgRequest(Txt2ImgRequest):
        """The img2img contract: txt2img's inputs plus the source image and strength."""

        image: StrictStr | None = Field(None, examples=[EXAMPLE_IMAGE],
                                        description="required: base64 PNG/JPEG/WebP (JSON) or a file "
                                                          "(multipart); RGBA/greyscale are converted to RGB")
        strength: Number | None = Field(None, ge=0, le=1, description="default 0.8")

    class InpaintRequest(Img2ImgRequest):
        """The inpaint contract: img2img's inputs plus the mask (white repaints)."""

        mask_image: StrictStr | None = Field(None, examples=[EXAMPLE_MASK],
                                             description="required: greyscale mask like image, white "
                                                               "(>= 128) repaints; base64 or a file")
        strength: Number | None = Field(None, ge=0, le=1, description="default 1.0")

    return RequestModels(ImageGenerationRequest, ImageEditRequest, Txt2ImgRequest, Img2ImgRequest, InpaintRequest,
                         DiffusionOptions)

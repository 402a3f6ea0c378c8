"""Perception routes under /v1/: depth, segmentation, foreground masks, SAM (prompted and automatic), CLIP
score and zero-shot.

Each takes its image as a multipart file or as base64 in JSON (`image`; `images` for the CLIP score),
calls the Triton model of the same contract (serving/perception/contracts.py) and answers a PNG
(`response_format: "png"`, the default for the map routes) or JSON. An upload that is not an image is a
400 naming the field; the model's own input errors come back as 400s naming the field too.
"""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from gateway import openapi_docs, uploads
from gateway.errors import invalid
from gateway.perception_service import PerceptionService
from gateway.request_body import Files, read_body
from gateway.schemas import EXAMPLE_IMAGE, Fraction, Number
from gateway.security import check_api_key
from gateway.settings import GatewaySettings
from serving.perception.contracts import (
    MAX_SAM_PROMPTS, SAM_CROPS_NMS_THRESH, SAM_POINTS_PER_BATCH, SAM_POINTS_PER_CROP, SAM_PRED_IOU_THRESH,
    SAM_STABILITY_SCORE_THRESH,
)

PERCEPTION_PATHS = frozenset({"/v1/depth", "/v1/segmentation", "/v1/foreground-mask", "/v1/sam", "/v1/sam/automatic",
                              "/v1/clip/score", "/v1/clip/classify"})
ResponseFormat = Literal["png", "b64_json"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageRequest(_Body):
    image: StrictStr | None = Field(None, description="base64 image (JSON); in a multipart form, a file",
                                    examples=[EXAMPLE_IMAGE])
    response_format: ResponseFormat = "png"


class SamRequest(_Body):
    image: StrictStr | None = Field(None, description="base64 image (JSON); in a multipart form, a file",
                                    examples=[EXAMPLE_IMAGE])
    input_boxes: list[Annotated[list[Number], Field(min_length=4, max_length=4)]] | None = Field(
        None, min_length=1, max_length=MAX_SAM_PROMPTS, examples=[[[4, 4, 28, 28]]],
        description="boxes [x0, y0, x1, y1] in pixels; in a form, one field per box, each its JSON text")
    input_points: list[Annotated[list[Annotated[list[Number], Field(min_length=2, max_length=2)]],
                                 Field(min_length=1)]] | None = Field(
        None, min_length=1, max_length=MAX_SAM_PROMPTS,
        description="per prompt, points [x, y] in pixels; in a form, one field per prompt (JSON text)")
    input_labels: list[Annotated[list[Annotated[StrictInt, Field(ge=0, le=1)]], Field(min_length=1)]] | None = Field(
        None, min_length=1, max_length=MAX_SAM_PROMPTS,
        description="per prompt, 1 (foreground) or 0 (background) per point; in a form, as input_points")


def sam_automatic_request(settings: GatewaySettings) -> type[BaseModel]:
    """The sam_automatic contract's inputs; the grid's limits are the settings' (at most the contract's)."""

    class SamAutomaticRequest(_Body):
        image: StrictStr | None = Field(None, description="base64 image (JSON); in a multipart form, a file",
                                        examples=[EXAMPLE_IMAGE])
        points_per_crop: StrictInt | None = Field(
            None, ge=1, le=settings.max_sam_points_per_crop,
            description=f"an n x n point grid per crop (default {SAM_POINTS_PER_CROP[0]}, or the limit when lower)")
        points_per_batch: StrictInt | None = Field(
            None, ge=1, le=SAM_POINTS_PER_BATCH[2],
            description=f"grid points per mask-decoder call (default {SAM_POINTS_PER_BATCH[0]})")
        pred_iou_thresh: Fraction | None = Field(
            None, description=f"a mask is kept when its predicted IoU is above (default {SAM_PRED_IOU_THRESH})")
        stability_score_thresh: Fraction | None = Field(
            None, description=f"and its stability score is above (default {SAM_STABILITY_SCORE_THRESH})")
        crops_nms_thresh: Fraction | None = Field(
            None, description="box IoU above which the lower-scored of two masks is dropped "
                              f"(default {SAM_CROPS_NMS_THRESH})")
        crops_n_layers: StrictInt | None = Field(
            None, ge=0, le=settings.max_sam_crops_n_layers,
            description="1: also a grid on each of 2 x 2 overlapping crops (default 0)")

    return SamAutomaticRequest


class ClipScoreRequest(_Body):
    images: list[StrictStr] | None = Field(None, description="base64 images (JSON); in a form, files",
                                           examples=[[EXAMPLE_IMAGE]])
    text: list[StrictStr] = Field(..., min_length=1, description="one caption per image", examples=[["a grey square"]])


class ClipClassifyRequest(_Body):
    image: StrictStr | None = Field(None, description="base64 image (JSON); in a multipart form, a file",
                                    examples=[EXAMPLE_IMAGE])
    labels: list[StrictStr] = Field(..., min_length=1, examples=[["sofa", "lamp"]])
    hypothesis_template: StrictStr | None = None


class DepthJSON(BaseModel):
    depth: str = Field(description="base64 PNG, 8-bit depth (near is bright)")
    width: int
    height: int


class MaskJSON(BaseModel):
    mask: str = Field(description="base64 PNG, 8-bit mask (white = foreground)")
    width: int
    height: int


class SegmentationJSON(BaseModel):
    color_map: str = Field(description="base64 PNG, ADE20K palette")
    label_map: str = Field(description="base64 PNG, 8-bit class ids")
    labels: list[int]
    width: int
    height: int


class SamResponse(BaseModel):
    masks: list[list[str]] = Field(description="per prompt, three base64 PNG masks (white = inside)")
    iou_scores: list[list[float]]


class SamAutomaticResponse(BaseModel):
    masks: list[str] = Field(description="base64 PNG masks of the image's size (white = inside), best score first; "
                                         "empty when no mask passes the thresholds")
    scores: list[float] = Field(description="per mask, the model's predicted IoU")
    bounding_boxes: list[list[int]] = Field(description="per mask, [x1, y1, x2, y2]: its first and last pixel "
                                                        "column and row")
    width: int
    height: int


class ClipScoreResponse(BaseModel):
    scores: list[float]


class LabelScore(BaseModel):
    label: str
    score: float


class ClipClassifyResponse(BaseModel):
    labels: list[LabelScore] = Field(description="sorted by score, highest first")


def _png(array: np.ndarray, level: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def _b64_png(array: np.ndarray, level: int) -> str:
    return base64.b64encode(_png(array, level)).decode("ascii")


async def _images(field: str, body_values: list[str] | None, files: Files, max_pixels: int, keep_alpha: bool
                  ) -> list[np.ndarray]:
    """Decoded uploads (files or base64) of `field`, RGB (RGBA when `keep_alpha` and transparent)."""
    blobs = list(files.get(field, [])) + [uploads.from_base64(field, text) for text in body_values or []]
    if not blobs:
        raise invalid(field, f"invalid '{field}': an image is required (a file in a form, base64 in JSON)")

    def decode(blob: bytes) -> np.ndarray:
        image = uploads.open_image(field, blob, max_pixels)
        if keep_alpha and uploads.has_alpha(image):
            return np.asarray(image.convert("RGBA"), dtype=np.uint8)
        return uploads.to_rgb(image)

    return await asyncio.to_thread(lambda: [decode(blob) for blob in blobs])


def _service(request: Request) -> PerceptionService:
    state = request.app.state.gateway
    settings = state.settings
    return PerceptionService(state.pool, state.metrics, settings.request_timeout_s, settings.retry_after_s)


async def _one_image(request: Request, body: BaseModel, files: Files, keep_alpha: bool = False) -> np.ndarray:
    settings = request.app.state.gateway.settings
    images = await _images("image", [body.image] if body.image else None, files, settings.max_upload_pixels,
                           keep_alpha)
    if len(images) > 1:
        raise invalid("image", "invalid 'image': give one image")
    return images[0]


async def _map_route(request: Request, model: str, output: str, extra: dict[str, str] | None = None,
                     keep_alpha: bool = False) -> Response:
    body, files = await read_body(request, ImageRequest, file_fields={"image"})
    image = await _one_image(request, body, files, keep_alpha)
    outputs = await _service(request).infer(model, {"image": image})
    level = request.app.state.gateway.settings.png_compress_level
    if body.response_format == "png":
        return Response(await asyncio.to_thread(_png, outputs[output], level), media_type="image/png")
    payload = {name: await asyncio.to_thread(_b64_png, outputs[key], level) for name, key in
               {output: output, **(extra or {})}.items()}
    return JSONResponse({**payload, "width": int(image.shape[1]), "height": int(image.shape[0])})


async def depth(request: Request) -> Response:
    """The depth image of transformers' depth-estimation pipeline (ControlNet-depth input)."""
    return await _map_route(request, "depth_estimator", "depth")


async def segmentation(request: Request) -> Response:
    """ADE20K colour map (ControlNet-seg input); JSON adds `label_map` (8-bit PNG of class ids)."""
    body, files = await read_body(request, ImageRequest, file_fields={"image"})
    image = await _one_image(request, body, files)
    outputs = await _service(request).infer("segmenter", {"image": image})
    level = request.app.state.gateway.settings.png_compress_level
    if body.response_format == "png":
        return Response(await asyncio.to_thread(_png, outputs["color_map"], level), media_type="image/png")
    labels = outputs["label_map"]
    return JSONResponse({"color_map": _b64_png(outputs["color_map"], level),
                         "label_map": _b64_png(labels.astype(np.uint8), level),
                         "labels": sorted(int(v) for v in np.unique(labels)),
                         "width": int(image.shape[1]), "height": int(image.shape[0])})


async def foreground_mask(request: Request) -> Response:
    """Salient-object mask, as rembg.remove(only_mask=True); an RGBA cut-out's alpha is its mask."""
    return await _map_route(request, "foreground_mask", "mask", keep_alpha=True)


async def sam(request: Request) -> JSONResponse:
    """Segment Anything: per prompt, three masks (base64 PNGs, white = inside) and their IoU scores."""
    body, files = await read_body(request, SamRequest, file_fields={"image"})
    image = await _one_image(request, body, files)
    inputs: dict[str, Any] = {
        "image": image,
        "input_boxes": None if body.input_boxes is None else np.asarray(body.input_boxes, np.float32),
        "input_points": None if body.input_points is None else _rectangular("input_points", body.input_points, np.float32),
        "input_labels": None if body.input_labels is None else _rectangular("input_labels", body.input_labels, np.int32),
    }
    outputs = await _service(request).infer("sam", inputs)
    level = request.app.state.gateway.settings.png_compress_level
    masks = [[_b64_png(mask * 255, level) for mask in prompt] for prompt in outputs["masks"]]
    return JSONResponse({"masks": masks, "iou_scores": outputs["iou_scores"].round(6).tolist()})


def sam_automatic_endpoint(body_model: type[BaseModel], max_points_per_crop: int):
    async def sam_automatic(request: Request) -> JSONResponse:
        """Segment Anything's automatic masks over a point grid, as transformers' mask-generation pipeline."""
        body, files = await read_body(request, body_model, file_fields={"image"})
        image = await _one_image(request, body, files)
        options = body.model_dump(exclude={"image"})
        if options["points_per_crop"] is None and max_points_per_crop < SAM_POINTS_PER_CROP[0]:
            options["points_per_crop"] = max_points_per_crop  # the deployment's limit bounds the default too
        scalars = {name: None if value is None else [value] for name, value in options.items()}  # dims [1]
        outputs = await _service(request).infer("sam_automatic", {"image": image, **scalars})
        level = request.app.state.gateway.settings.png_compress_level
        masks = await asyncio.to_thread(lambda: [_b64_png(mask * 255, level) for mask in outputs["masks"]])
        return JSONResponse({"masks": masks, "scores": outputs["scores"].round(6).tolist(),
                             "bounding_boxes": outputs["bounding_boxes"].astype(int).tolist(),
                             "width": int(image.shape[1]), "height": int(image.shape[0])})

    return sam_automatic


def _rectangular(field: str, values: list, dtype: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=dtype)
    except ValueError:
        raise invalid(field, f"invalid '{field}': every prompt must have the same number of points") from None


async def clip_score(request: Request) -> JSONResponse:
    """CLIP score per (image, caption) pair: max(100 x cosine, 0), as torchmetrics' CLIPScore."""
    body, files = await read_body(request, ClipScoreRequest, file_fields={"images"})
    settings = request.app.state.gateway.settings
    images = await _images("images", body.images, files, settings.max_upload_pixels, keep_alpha=False)
    if len({image.shape for image in images}) > 1:
        raise invalid("images", "invalid 'images': all images of one request must have the same size")
    outputs = await _service(request).infer("clip_score", {"image": np.stack(images), "text": body.text})
    return JSONResponse({"scores": [round(float(s), 5) for s in outputs["score"]]})


async def clip_classify(request: Request) -> JSONResponse:
    """Zero-shot probabilities, as transformers' zero-shot-image-classification pipeline (sorted)."""
    body, files = await read_body(request, ClipClassifyRequest, file_fields={"image"})
    image = await _one_image(request, body, files)
    outputs = await _service(request).infer("clip_classify", {"image": image, "labels": body.labels,
                                                              "hypothesis_template": body.hypothesis_template})
    ranked = sorted(zip(body.labels, outputs["probs"].tolist()), key=lambda item: -item[1])
    return JSONResponse({"labels": [{"label": label, "score": round(score, 6)} for label, score in ranked]})


# (path, endpoint, request body, JSON answer, whether `response_format: png` answers the map as PNG bytes)
ROUTES = [
    ("/v1/depth", depth, ImageRequest, DepthJSON, True),
    ("/v1/segmentation", segmentation, ImageRequest, SegmentationJSON, True),
    ("/v1/foreground-mask", foreground_mask, ImageRequest, MaskJSON, True),
    ("/v1/sam", sam, SamRequest, SamResponse, False),
    ("/v1/clip/score", clip_score, ClipScoreRequest, ClipScoreResponse, False),
    ("/v1/clip/classify", clip_classify, ClipClassifyRequest, ClipClassifyResponse, False),
]
IMAGE_FIELDS = ("image", "images")


def _request_openapi(model: type[BaseModel]) -> dict:
    """JSON with base64 images, or a multipart form with the images as files."""
    images = [name for name in IMAGE_FIELDS if name in model.model_fields]
    return openapi_docs.request_body(model, file_fields=[name for name in images if name == "image"],
                                     list_file_fields=[name for name in images if name == "images"],
                                     required=images)


def routes(settings: GatewaySettings) -> list[tuple]:
    """ROUTES and /v1/sam/automatic, whose body's limits come from the settings."""
    automatic = sam_automatic_request(settings)
    entry = ("/v1/sam/automatic", sam_automatic_endpoint(automatic, settings.max_sam_points_per_crop), automatic,
             SamAutomaticResponse, False)
    at = [path for path, *_ in ROUTES].index("/v1/sam") + 1
    return [*ROUTES[:at], entry, *ROUTES[at:]]


def build_router(settings: GatewaySettings) -> APIRouter:
    router = APIRouter(tags=["perception"])
    for path, endpoint, model, answer, png in routes(settings):
        content = {**(openapi_docs.PNG if png else {}), **openapi_docs.json_content(answer)}
        responses = {200: {"content": content, "description": "PNG (the default) or JSON (`response_format: "
                                                              "b64_json`)" if png else "JSON"},
                     **openapi_docs.error_responses(openapi_docs.MODEL_ROUTE_ERRORS)}
        router.add_api_route(path, endpoint, methods=["POST"], dependencies=[Depends(check_api_key)],
                             summary=(endpoint.__doc__ or "").split("\n")[0], responses=responses,
                             name=endpoint.__name__, openapi_extra=_request_openapi(model))
    return router

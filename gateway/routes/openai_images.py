"""OpenAI Images API: POST /v1/images/generations, POST /v1/images/edits, and GET /v1/images/{image_id}.

generations -> txt2img. edits (multipart, as OpenAI's): with a mask -> inpaint, where the mask's fully
transparent pixels (alpha 0) are repainted; with no mask but an image with transparent pixels, the
image's own alpha is the mask (as OpenAI does); otherwise -> img2img with `strength`.
"""


import asyncio
import time

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from gateway import errors, openapi_docs, sse, uploads
from gateway.contract_mapping import job
from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.errors import GatewayError, invalid
from gateway.generation_service import Generated, GenerationJob, Progress
from gateway.image_store import ImageStoreUnwritable
from gateway.metrics import route_label
from gateway.png import b64, encode_pngs
from gateway.request_body import read_body
from gateway.schemas import (ImageData, ImagesResponse, OpenAICompletedEvent, OpenAIProgressEvent, RequestModels,
                             TokenDetails, Usage, openai_events)
from gateway.security import check_api_key
from gateway.state import GatewayState
from gateway.streaming import stream_job

# Triton's input names -> this route's fields, for error messages.
RENAME = {"width": "size", "height": "size", "num_images": "n"}
EDIT_RENAME = {**RENAME, "mask_image": "mask"}
EDIT_FILES = ("image", "mask")
ERRORS = openapi_docs.error_responses(openapi_docs.STREAMING_ROUTE_ERRORS)


def _responses(event_prefix: str) -> dict:
    """ImagesResponse JSON, or OpenAI's image events when `stream` is true; the gateway's errors."""
    return {200: {"description": "ImagesResponse, or Server-Sent Events when `stream` is true: "
                                 f"`{event_prefix}.progress` per step, then `{event_prefix}.completed` per image",
                  "content": openapi_docs.event_stream(openai_events(event_prefix))},
            **ERRORS}


def _generation_inputs(body) -> dict:
    """The fields images.generate and images.edit share, as contract inputs."""
    width, height = body.dimensions()
    return {"prompt": body.prompt, "negative_prompt": body.negative_prompt,
            "num_inference_steps": body.num_inference_steps, "guidance_scale": body.guidance_scale,
            "scheduler": body.scheduler, "height": height, "width": width, "num_images": body.n,
            "model": body.variant()}


def _edit_openapi(model) -> dict:
    """A multipart form only (as OpenAI's images.edit): the files `image` and `mask`, then the fields."""
    extra = openapi_docs.request_body(model, file_fields=EDIT_FILES, json=False, required=["image"])
    form = extra["requestBody"]["content"]["multipart/form-data"]["schema"]
    form["properties"]["image"] = {**form["properties"]["image"], "description": "PNG, JPEG or WebP; RGBA allowed"}
    form["properties"]["mask"] = {**form["properties"]["mask"],
                                  "description": "PNG like image; fully transparent pixels mark the area to edit"}
    return extra


def build_router(models: RequestModels) -> APIRouter:
    router = APIRouter(tags=["OpenAI Images API"])
    ImageGenerationRequest = models.ImageGenerationRequest
    ImageEditRequest = models.ImageEditRequest

    @router.post("/v1/images/generations", response_model=ImagesResponse, responses=_responses("image_generation"),
                 dependencies=[Depends(check_api_key)], summary="Create images (OpenAI images.generate)")
    async def create_images(body: ImageGenerationRequest, request: Request) -> Response:  # type: ignore[valid-type]
        state: GatewayState = request.app.state.gateway
        generation = job(state.settings, "txt2img", _generation_inputs(body), body.seed)
        return await _answer(request, state, body, generation, RENAME, "image_generation")

    @router.post("/v1/images/edits", response_model=ImagesResponse, responses=_responses("image_edit"),
                 dependencies=[Depends(check_api_key)], openapi_extra=_edit_openapi(ImageEditRequest),
                 summary="Edit an image (OpenAI images.edit): inpaint with a mask, img2img without")
    async def edit_images(request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        body, files = await read_body(request, ImageEditRequest, file_fields=EDIT_FILES)
        image, mask = await asyncio.to_thread(_decode_edit_files, files, state.settings.max_upload_pixels)
        inputs = {**_generation_inputs(body), "image": image, "strength": body.strength}
        if mask is not None:
            edit = job(state.settings, "inpaint", {**inputs, "mask_image": mask}, body.seed)
        else:
            edit = job(state.settings, "img2img", inputs, body.seed)
        return await _answer(request, state, body, edit, EDIT_RENAME, "image_edit")

    @router.get("/v1/images/{image_id}", response_class=FileResponse,
                responses={200: {"content": openapi_docs.PNG, "description": "The PNG"},
                           **openapi_docs.error_responses([404, 500])},
                summary="An image from a `url` response (until it expires)")
    async def get_image(image_id: str, request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        path = state.store.path_for(image_id)
        if path is None:
            raise GatewayError(404, "image not found or expired", param="image_id", code="not_found")
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, no-transform"})

    return router


def _decode_edit_files(files: dict[str, list[bytes]], max_pixels: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(RGB image, inpaint mask or None) from the uploaded `image` and optional `mask` (a worker thread)."""
    for name in EDIT_FILES:
        if len(files.get(name, [])) > 1:
            raise invalid(name, f"invalid '{name}': expected one file, got {len(files[name])}")
    if "image" not in files:
        raise invalid("image", "invalid 'image': is required (a PNG, JPEG or WebP file)")
    image = uploads.open_image("image", files["image"][0], max_pixels)
    rgb = uploads.to_rgb(image)
    if "mask" in files:
        mask_image = uploads.open_image("mask", files["mask"][0], max_pixels)
        if mask_image.size != image.size:
            raise invalid("mask", f"invalid 'mask': {mask_image.width}x{mask_image.height} but image is "
                                  f"{image.width}x{image.height}; they must have the same size")
        alpha = uploads.alpha_of(mask_image)
        if alpha is None:
            raise invalid("mask", "invalid 'mask': has no alpha channel; its fully transparent pixels "
                                  "(alpha 0) mark the area to edit")
        return rgb, uploads.repaint_where_transparent(alpha)
    alpha = uploads.alpha_of(image)
    if alpha is not None and (alpha == 0).any():
        return rgb, uploads.repaint_where_transparent(alpha)  # the image's own transparency is the mask
    return rgb, None


async def _answer(request: Request, state: GatewayState, body, generation: GenerationJob, rename: dict,
                  event_prefix: str) -> Response:
    """ImagesResponse (b64_json or url), or OpenAI-style SSE when `stream` is true."""
    if body.stream:
        return await stream_job(request, state, generation, rename, _stream_renderer(state, event_prefix))
    try:
        result = await unless_disconnected(request, state.service.generate(generation, rename))
    except ClientDisconnected:
        state.metrics.cancelled.labels(route_label(request.scope)).inc()
        return Response(status_code=499)
    pngs = await asyncio.to_thread(encode_pngs, result.images, state.settings.png_compress_level)
    if body.response_format == "url":
        try:
            ids = await asyncio.to_thread(lambda: [state.store.save(png) for png in pngs])
        except ImageStoreUnwritable as error:
            raise errors.image_store_unwritable(str(error)) from None
        base = (state.settings.public_base_url or str(request.base_url)).rstrip("/")
        data = [ImageData(url=f"{base}/v1/images/{image_id}") for image_id in ids]
    else:
        data = [ImageData(b64_json=b64(png)) for png in pngs]
    state.metrics.images.inc(len(data))
    _, h, w, _ = result.images.shape
    response = ImagesResponse(created=int(time.time()), data=data, seed=result.seed, size=f"{w}x{h}")
    return JSONResponse(response.model_dump(exclude_none=True), headers={"X-Seed": str(result.seed)})


def _stream_renderer(state: GatewayState, prefix: str):
    """OpenAI's streaming event names (`image_generation.*` / `image_edit.*`); per-step progress is ours."""

    async def render(item: Progress | Generated) -> bytes:
        if isinstance(item, Progress):
            return sse.event(f"{prefix}.progress", OpenAIProgressEvent(
                type=f"{prefix}.progress", stage=item.stage, step=item.step, total=item.total, elapsed=item.elapsed_s))
        pngs = await asyncio.to_thread(encode_pngs, item.images, state.settings.png_compress_level)
        state.metrics.images.inc(len(pngs))
        _, h, w, _ = item.images.shape
        usage = Usage(input_tokens=0, output_tokens=0, total_tokens=0,
                      input_tokens_details=TokenDetails(image_tokens=0, text_tokens=0))
        return b"".join(sse.event(f"{prefix}.completed", OpenAICompletedEvent(
            type=f"{prefix}.completed", b64_json=b64(png), created_at=int(time.time()), size=f"{w}x{h}",
            output_format="png", quality="auto", background="opaque", image_index=index, seed=item.seed,
            usage=usage)) for index, png in enumerate(pngs))

    return render

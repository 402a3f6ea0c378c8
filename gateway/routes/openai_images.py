"""OpenAI Images API: POST /v1/images/generations and the `url` responses' GET /v1/images/{image_id}."""


import asyncio
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from gateway import sse
from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.errors import GatewayError
from gateway.metrics import route_label
from gateway.png import b64, encode_pngs
from gateway.schemas import ErrorResponse, ImageData, ImagesResponse, RequestModels
from gateway.security import check_api_key
from gateway.state import GatewayState
from gateway.streaming import stream_job
from gateway.txt2img_service import Generated, Progress, Txt2ImgJob

# Triton's input names -> this route's fields, for error messages.
RENAME = {"width": "size", "height": "size", "num_images": "n"}
ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 413, 429, 502, 503, 504)}


def build_router(models: RequestModels) -> APIRouter:
    router = APIRouter(tags=["OpenAI Images API"])
    ImageGenerationRequest = models.ImageGenerationRequest

    @router.post("/v1/images/generations", response_model=ImagesResponse, responses=ERRORS,
                 dependencies=[Depends(check_api_key)], summary="Create images (OpenAI images.generate)")
    async def create_images(body: ImageGenerationRequest, request: Request) -> Response:  # type: ignore[valid-type]
        state: GatewayState = request.app.state.gateway
        width, height = body.dimensions()
        job = Txt2ImgJob(
            prompt=body.prompt, seed=Txt2ImgJob.new_seed() if body.seed is None else body.seed,
            negative_prompt=body.negative_prompt, num_inference_steps=body.num_inference_steps,
            guidance_scale=body.guidance_scale, height=height, width=width, scheduler=body.scheduler,
            num_images=body.n,
        )
        if body.stream:
            return await stream_job(request, state, job, RENAME, _stream_renderer(state))
        try:
            result = await unless_disconnected(request, state.service.generate(job, RENAME))
        except ClientDisconnected:
            state.metrics.cancelled.labels(route_label(request.scope)).inc()
            return Response(status_code=499)
        pngs = await asyncio.to_thread(encode_pngs, result.images, state.settings.png_compress_level)
        if body.response_format == "url":
            ids = await asyncio.to_thread(lambda: [state.store.save(png) for png in pngs])
            base = (state.settings.public_base_url or str(request.base_url)).rstrip("/")
            data = [ImageData(url=f"{base}/v1/images/{image_id}") for image_id in ids]
        else:
            data = [ImageData(b64_json=b64(png)) for png in pngs]
        state.metrics.images.inc(len(data))
        _, h, w, _ = result.images.shape
        response = ImagesResponse(created=int(time.time()), data=data, seed=result.seed, size=f"{w}x{h}")
        return JSONResponse(response.model_dump(exclude_none=True), headers={"X-Seed": str(result.seed)})

    @router.get("/v1/images/{image_id}", response_class=FileResponse, responses={404: {"model": ErrorResponse}},
                summary="An image from a `url` response (until it expires)")
    async def get_image(image_id: str, request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        path = state.store.path_for(image_id)
        if path is None:
            raise GatewayError(404, "image not found or expired", param="image_id", code="not_found")
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, no-transform"})

    return router


def _stream_renderer(state: GatewayState):
    """OpenAI's streaming event names; per-step progress is this gateway's own event type."""

    async def render(item: Progress | Generated) -> bytes:
        if isinstance(item, Progress):
            return sse.event("image_generation.progress", {"type": "image_generation.progress", "step": item.step,
                                                           "total": item.total, "elapsed": item.elapsed_s})
        pngs = await asyncio.to_thread(encode_pngs, item.images, state.settings.png_compress_level)
        state.metrics.images.inc(len(pngs))
        _, h, w, _ = item.images.shape
        return b"".join(sse.event("image_generation.completed", {
            "type": "image_generation.completed", "b64_json": b64(png), "created_at": int(time.time()),
            "size": f"{w}x{h}", "output_format": "png", "quality": "auto", "background": "opaque",
            "image_index": index, "seed": item.seed,
            "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                      "input_tokens_details": {"image_tokens": 0, "text_tokens": 0}},
        }) for index, png in enumerate(pngs))

    return render

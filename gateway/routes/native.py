"""Native route: POST /v1/txt2img with every txt2img contract input; PNG bytes, JSON or SSE."""


import asyncio
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gateway import sse
from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.errors import invalid
from gateway.metrics import route_label
from gateway.png import b64, encode_png, encode_pngs
from gateway.schemas import ErrorResponse, ImageData, RequestModels, Txt2ImgJSONResponse
from gateway.security import check_api_key
from gateway.state import GatewayState
from gateway.streaming import stream_job
from gateway.txt2img_service import Generated, Progress, Txt2ImgJob

ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 413, 429, 502, 503, 504)}


def build_router(models: RequestModels) -> APIRouter:
    router = APIRouter(tags=["native"])
    Txt2ImgRequest = models.Txt2ImgRequest

    @router.post("/v1/txt2img", dependencies=[Depends(check_api_key)], summary="txt2img with every contract input",
                 responses={200: {"content": {"image/png": {}, "application/json": {"schema": Txt2ImgJSONResponse.model_json_schema()},
                                              "text/event-stream": {}},
                                  "description": "PNG (default), JSON with base64 images, or SSE when stream is true"},
                            **ERRORS})
    async def txt2img(body: Txt2ImgRequest, request: Request) -> Response:  # type: ignore[valid-type]
        state: GatewayState = request.app.state.gateway
        if body.response_format == "png" and body.num_images > 1 and not body.stream:
            raise invalid("num_images", "a PNG response holds one image; use response_format 'b64_json' "
                                        "for num_images > 1")
        job = Txt2ImgJob(
            prompt=body.prompt, seed=Txt2ImgJob.new_seed() if body.seed is None else body.seed,
            negative_prompt=body.negative_prompt, num_inference_steps=body.num_inference_steps,
            guidance_scale=body.guidance_scale, height=body.height, width=body.width, scheduler=body.scheduler,
            num_images=body.num_images,
        )
        if body.stream:
            return await stream_job(request, state, job, {}, _stream_renderer(state))
        try:
            result = await unless_disconnected(request, state.service.generate(job))
        except ClientDisconnected:
            state.metrics.cancelled.labels(route_label(request.scope)).inc()
            return Response(status_code=499)
        _, height, width, _ = result.images.shape
        headers = {"X-Seed": str(result.seed), "X-Replica-Attempts": str(result.attempts)}
        state.metrics.images.inc(len(result.images))
        level = state.settings.png_compress_level
        if body.response_format == "png":
            png = await asyncio.to_thread(encode_png, result.images[0], level)
            return Response(png, media_type="image/png", headers=headers)
        pngs = await asyncio.to_thread(encode_pngs, result.images, level)
        payload = Txt2ImgJSONResponse(created=int(time.time()), seed=result.seed, width=width, height=height,
                                      images=[ImageData(b64_json=b64(png)) for png in pngs])
        return JSONResponse(payload.model_dump(exclude_none=True), headers=headers)

    return router


def _stream_renderer(state: GatewayState):
    async def render(item: Progress | Generated) -> bytes:
        if isinstance(item, Progress):
            return sse.event("progress", {"step": item.step, "total": item.total, "elapsed": item.elapsed_s})
        pngs = await asyncio.to_thread(encode_pngs, item.images, state.settings.png_compress_level)
        state.metrics.images.inc(len(pngs))
        _, height, width, _ = item.images.shape
        return sse.event("image", {"seed": item.seed, "width": width, "height": height,
                                   "images": [{"b64_json": b64(png)} for png in pngs]})

    return render

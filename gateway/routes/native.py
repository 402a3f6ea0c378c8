"""Native routes: POST /v1/txt2img, /v1/img2img and /v1/inpaint, one per generation contract.

Each takes its contract's inputs under their own names (DESIGN.md section 3), as JSON (images base64)
or as a multipart form (images as files, repeated fields for ControlNet lists), and answers PNG bytes
(default), JSON with base64 images (`response_format: "b64_json"`) or Server-Sent Events
(`stream: true`: `progress` per step, then `image`). The three differ only in their schema.
"""


import asyncio
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from gateway import openapi_docs, sse
from gateway.contract_mapping import NATIVE_IMAGE_FIELDS, NATIVE_RENAME, native_job
from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.errors import invalid
from gateway.generation_service import Generated, Progress
from gateway.metrics import route_label
from gateway.png import b64, encode_png, encode_pngs
from gateway.request_body import read_body
from gateway.schemas import NATIVE_EVENTS, ImageData, ImageEvent, ProgressEvent, RequestModels, Txt2ImgJSONResponse
from gateway.security import check_api_key
from gateway.state import GatewayState
from gateway.streaming import stream_job

SUMMARIES = {
    "txt2img": "Text to image (optionally ControlNet-guided)",
    "img2img": "Image to image: `image` redrawn with `strength` (optionally ControlNet-guided)",
    "inpaint": "Inpainting: repaint where `mask_image` is white (optionally ControlNet-guided)",
}


RESPONSES = {200: {"content": {**openapi_docs.PNG, **openapi_docs.json_content(Txt2ImgJSONResponse),
                                **openapi_docs.event_stream(NATIVE_EVENTS)},
                    "description": "PNG (default), JSON with base64 images (`response_format: b64_json`), or "
                                   "Server-Sent Events when `stream` is true: `progress` per step, then `image`"},
             **openapi_docs.error_responses(openapi_docs.STREAMING_ROUTE_ERRORS)}


def _openapi(model: type[BaseModel]) -> dict:
    """Both encodings in the docs: JSON with base64 images, or a multipart form with files."""
    images = [name for name in NATIVE_IMAGE_FIELDS if name in model.model_fields]
    required = [name for name in ("image", "mask_image") if name in images]  # control_images are optional
    return openapi_docs.request_body(model, file_fields=[name for name in images if name != "control_images"],
                                     list_file_fields=[name for name in images if name == "control_images"],
                                     required=required)


def build_router(models: RequestModels) -> APIRouter:
    router = APIRouter(tags=["native"])

    def add(contract: str, model: type[BaseModel]) -> None:
        async def generate(request: Request) -> Response:
            body, files = await read_body(request, model, file_fields=NATIVE_IMAGE_FIELDS)
            return await run(request, contract, body, files)

        router.add_api_route(f"/v1/{contract}", generate, methods=["POST"], dependencies=[Depends(check_api_key)],
                             summary=SUMMARIES[contract], responses=RESPONSES, openapi_extra=_openapi(model),
                             name=contract)

    add("txt2img", models.Txt2ImgRequest)
    add("img2img", models.Img2ImgRequest)
    add("inpaint", models.InpaintRequest)
    return router


async def run(request: Request, contract: str, body: BaseModel, files: dict) -> Response:
    state: GatewayState = request.app.state.gateway
    if body.response_format == "png" and body.num_images > 1 and not body.stream:
        raise invalid("num_images", "a PNG response holds one image; use response_format 'b64_json' "
                                    "for num_images > 1")
    job = await native_job(state.settings, contract, body, files)
    if body.stream:
        return await stream_job(request, state, job, NATIVE_RENAME, _stream_renderer(state))
    try:
        result = await unless_disconnected(request, state.service.generate(job, NATIVE_RENAME))
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


def _stream_renderer(state: GatewayState):
    async def render(item: Progress | Generated) -> bytes:
        if isinstance(item, Progress):
            return sse.event("progress", ProgressEvent(step=item.step, total=item.total, elapsed=item.elapsed_s))
        pngs = await asyncio.to_thread(encode_pngs, item.images, state.settings.png_compress_level)
        state.metrics.images.inc(len(pngs))
        _, height, width, _ = item.images.shape
        return sse.event("image", ImageEvent(seed=item.seed, width=width, height=height,
                                             images=[ImageData(b64_json=b64(png)) for png in pngs]))

    return render

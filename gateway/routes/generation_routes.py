"""What every route that runs one generation contract shares: reading its body, calling the model, answering.

A route is a `GenerationRoute` (its contract, path, schema and documentation); `add_routes` mounts a table
of them. Bodies use the contract's own input names, as JSON (images base64) or a multipart form (images
as files, repeated fields for lists). Answers: PNG bytes (default), JSON with base64 images
(`response_format: "b64_json"`) or Server-Sent Events (`stream: true`: `progress` per stage and step, then
`image`). Workflows add their intermediate results (mask, depth, segmentation) to the JSON and the last
event when asked (`return_intermediates: true`); only then are they requested from Triton.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from gateway import openapi_docs, sse
from gateway.contract_mapping import NATIVE_IMAGE_FIELDS, NATIVE_RENAME, native_job, required_images
from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.errors import invalid
from gateway.generation_service import Generated, Progress
from gateway.metrics import route_label
from gateway.png import b64, encode_png, encode_pngs
from gateway.request_body import read_body
from gateway.schemas import NATIVE_EVENTS, ImageData, ImageEvent, ProgressEvent, Txt2ImgJSONResponse
from gateway.security import check_api_key
from gateway.state import GatewayState
from gateway.streaming import stream_job


@dataclass(frozen=True)
class GenerationRoute:
    """One POST route running one generation contract (serving/contracts.py)."""

    contract: str
    path: str
    summary: str
    model: type[BaseModel]
    # The contract's intermediate outputs a client may ask for (`return_intermediates`).
    intermediates: tuple[str, ...] = ()
    json_model: type[BaseModel] = Txt2ImgJSONResponse
    image_event: type[BaseModel] = ImageEvent
    errors: Sequence[int] = openapi_docs.STREAMING_ROUTE_ERRORS
    rename: Mapping[str, str] = field(default_factory=lambda: dict(NATIVE_RENAME))

    def responses(self) -> dict:
        events = {**NATIVE_EVENTS, "image": self.image_event}
        stages = "per stage and denoising step" if self.intermediates else "per denoising step"
        return {200: {"content": {**openapi_docs.PNG, **openapi_docs.json_content(self.json_model),
                                  **openapi_docs.event_stream(events)},
                      "description": "PNG (default), JSON with base64 images (`response_format: b64_json`), or "
                                     f"Server-Sent Events when `stream` is true: `progress` {stages}, then `image`"},
                **openapi_docs.error_responses(self.errors)}

    def openapi_body(self) -> dict:
        """Both encodings in the docs: JSON with base64 images, or a multipart form with files."""
        images = [name for name in NATIVE_IMAGE_FIELDS if name in self.model.model_fields]
        return openapi_docs.request_body(self.model, file_fields=[name for name in images if name != "control_images"],
                                         list_file_fields=[name for name in images if name == "control_images"],
                                         required=required_images(self.contract, images))


def add_routes(router: APIRouter, routes: Sequence[GenerationRoute]) -> APIRouter:
    for route in routes:
        _add(router, route)
    return router


def _add(router: APIRouter, route: GenerationRoute) -> None:
    async def generate(request: Request) -> Response:
        body, files = await read_body(request, route.model, file_fields=NATIVE_IMAGE_FIELDS)
        return await run(request, route, body, files)

    router.add_api_route(route.path, generate, methods=["POST"], dependencies=[Depends(check_api_key)],
                         summary=route.summary, responses=route.responses(), openapi_extra=route.openapi_body(),
                         name=route.contract)


async def run(request: Request, route: GenerationRoute, body: Any, files: dict) -> Response:
    state: GatewayState = request.app.state.gateway
    wants_intermediates = bool(getattr(body, "return_intermediates", False))
    if body.response_format == "png" and not body.stream:
        if body.num_images > 1:
            raise invalid("num_images", "a PNG response holds one image; use response_format 'b64_json' "
                                        "for num_images > 1")
        if wants_intermediates:
            raise invalid("return_intermediates", "invalid 'return_intermediates': a PNG response holds the image "
                                                  "only; use response_format 'b64_json' or stream")
    extra = route.intermediates if wants_intermediates else ()
    job = await native_job(state.settings, route.contract, body, files, extra_outputs=extra)
    if body.stream:
        return await stream_job(request, state, job, route.rename, _stream_renderer(state, route))
    try:
        result = await unless_disconnected(request, state.service.generate(job, route.rename))
    except ClientDisconnected:
        state.metrics.cancelled.labels(route_label(request.scope)).inc()
        return Response(status_code=499)
    headers = {"X-Seed": str(result.seed), "X-Replica-Attempts": str(result.attempts)}
    state.metrics.images.inc(len(result.images))
    level = state.settings.png_compress_level
    if body.response_format == "png":
        png = await asyncio.to_thread(encode_png, result.images[0], level)
        return Response(png, media_type="image/png", headers=headers)
    fields = await asyncio.to_thread(_result_fields, result, level)
    payload = route.json_model(created=int(time.time()), **fields)
    return JSONResponse(payload.model_dump(exclude_none=True), headers=headers)


def _result_fields(result: Generated, level: int) -> dict[str, Any]:
    """The JSON answer's and the last event's common fields (PNG encoding: call in a worker thread)."""
    _, height, width, _ = result.images.shape
    fields: dict[str, Any] = {"seed": result.seed, "width": width, "height": height,
                              "images": [ImageData(b64_json=b64(png)) for png in encode_pngs(result.images, level)]}
    if result.intermediates:
        fields["intermediates"] = {name: b64(encode_png(_image(array), level))
                                   for name, array in result.intermediates.items()}
    return fields


def _image(array: np.ndarray) -> np.ndarray:
    """An intermediate as an image: [H, W] greyscale or [H, W, 3] colour (a leading batch axis of 1 dropped)."""
    return array[0] if array.ndim == 4 or (array.ndim == 3 and array.shape[-1] != 3) else array


def _stream_renderer(state: GatewayState, route: GenerationRoute):
    async def render(item: Progress | Generated) -> bytes:
        if isinstance(item, Progress):
            return sse.event("progress", ProgressEvent(stage=item.stage, step=item.step, total=item.total,
                                                       elapsed=item.elapsed_s))
        fields = await asyncio.to_thread(_result_fields, item, state.settings.png_compress_level)
        state.metrics.images.inc(len(fields["images"]))
        return sse.event("image", route.image_event(**fields))

    return render

"""Photo workflow routes: POST /v1/background-replace, /v1/restyle-room, /v1/product-enhance and /v1/product-finder.

The generating ones are each their workflow contract's schema (gateway/workflow_schemas.py) and a table entry;
the plumbing (bodies, PNG / b64_json / SSE answers, cancellation) is the native routes',
gateway/routes/generation_routes.py. A photo the workflow cannot work with (no foreground found, none of
keep_classes in the room) is a 422 naming the field; a malformed one a 400.

/v1/product-finder answers JSON only: the objects found (label, score, box, mask as a base64 PNG); none
found is an empty list. It reads its body the same way and runs the same kind of job, through
`GenerationService.infer_outputs`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gateway import openapi_docs
from gateway.contract_mapping import native_job
from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.metrics import route_label
from gateway.png import b64, encode_png
from gateway.request_body import read_body
from gateway.routes.generation_routes import GenerationRoute, add_routes
from gateway.security import check_api_key
from gateway.state import GatewayState
from gateway.workflow_schemas import (ProductFinderRequest, ProductFinderResponse, WorkflowImageEvent,
                                      WorkflowJSONResponse, WorkflowModels)

PRODUCT_FINDER_PATH = "/v1/product-finder"
WORKFLOW_PATHS = frozenset({"/v1/background-replace", "/v1/restyle-room", "/v1/product-enhance", PRODUCT_FINDER_PATH})


def _route(contract: str, summary: str, model, intermediates: tuple[str, ...]) -> GenerationRoute:
    return GenerationRoute(contract, "/v1/" + contract.replace("_", "-"), summary, model, intermediates=intermediates,
                           json_model=WorkflowJSONResponse, image_event=WorkflowImageEvent,
                           errors=openapi_docs.WORKFLOW_ROUTE_ERRORS, rename={})


async def product_finder(request: Request) -> Response:
    """Product finder: the objects of `labels` in the photo, each with its score, box and mask"""
    state: GatewayState = request.app.state.gateway
    body, files = await read_body(request, ProductFinderRequest, file_fields={"image"})
    job = await native_job(state.settings, "product_finder", body, files)
    try:  # a client that leaves cancels the Triton request (the finder stops between proposals)
        outputs = await unless_disconnected(request, state.service.infer_outputs(job))
    except ClientDisconnected:
        state.metrics.cancelled.labels(route_label(request.scope)).inc()
        return Response(status_code=499)
    height, width = job.inputs["image"].shape[:2]
    objects = await asyncio.to_thread(_objects, outputs, state.settings.png_compress_level)
    return JSONResponse(ProductFinderResponse(objects=objects, width=width, height=height).model_dump())


def _objects(outputs: dict[str, np.ndarray], level: int) -> list[dict[str, Any]]:
    """The contract's [m] outputs as one object each (PNG encoding: call in a worker thread)."""
    return [{"label": label.decode("utf-8", "replace"), "score": round(float(score), 6),
             "box": [int(round(float(v))) for v in box], "mask": b64(encode_png(mask, level))}
            for label, score, box, mask in zip(outputs["labels"], outputs["scores"], outputs["boxes"],
                                               outputs["masks"])]


def _add_product_finder(router: APIRouter) -> None:
    responses = {200: {"content": openapi_docs.json_content(ProductFinderResponse),
                       "description": "JSON: the objects found, highest score first (an empty list when none)"},
                 **openapi_docs.error_responses(openapi_docs.MODEL_ROUTE_ERRORS)}
    router.add_api_route(PRODUCT_FINDER_PATH, product_finder, methods=["POST"], dependencies=[Depends(check_api_key)],
                         summary=(product_finder.__doc__ or "").strip(), responses=responses, name="product_finder",
                         openapi_extra=openapi_docs.request_body(ProductFinderRequest, file_fields=["image"],
                                                                 required=["image"]))


def build_router(models: WorkflowModels) -> APIRouter:
    router = add_routes(APIRouter(tags=["workflows"]), [
        _route("background_replace", "Product packshot: a new background from `prompt`, the product kept "
                                     "pixel-exact (mask from `mask_image`, the photo's alpha, or found)",
               models.BackgroundReplaceRequest, ("mask", "depth")),
        _route("restyle_room", "Interior restyle: the room redrawn along its depth and segmentation; "
                               "`keep_classes` stay the photo", models.RestyleRoomRequest,
               ("mask", "depth", "segmentation")),
        _route("product_enhance", "Product enhance: the `mask_image` region repainted with ControlNet depth, "
                                  "the rest kept pixel-exact", models.ProductEnhanceRequest, ("mask", "depth")),
    ])
    _add_product_finder(router)
    return router

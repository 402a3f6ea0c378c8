"""Photo workflow routes: POST /v1/background-replace, /v1/restyle-room and /v1/product-enhance.

Each is its workflow contract's schema (gateway/workflow_schemas.py) and a table entry; the plumbing
(bodies, PNG / b64_json / SSE answers, cancellation) is the native routes', gateway/routes/generation_routes.py.
A photo the workflow cannot work with (no foreground found, none of keep_classes in the room) is a 422
naming the field; a malformed one a 400.
"""

from fastapi import APIRouter

from gateway import openapi_docs
from gateway.routes.generation_routes import GenerationRoute, add_routes
from gateway.workflow_schemas import WorkflowImageEvent, WorkflowJSONResponse, WorkflowModels

WORKFLOW_PATHS = frozenset({"/v1/background-replace", "/v1/restyle-room", "/v1/product-enhance"})


def _route(contract: str, summary: str, model, intermediates: tuple[str, ...]) -> GenerationRoute:
    return GenerationRoute(contract, "/v1/" + contract.replace("_", "-"), summary, model, intermediates=intermediates,
                           json_model=WorkflowJSONResponse, image_event=WorkflowImageEvent,
                           errors=openapi_docs.WORKFLOW_ROUTE_ERRORS, rename={})


def build_router(models: WorkflowModels) -> APIRouter:
    return add_routes(APIRouter(tags=["workflows"]), [
        _route("background_replace", "Product packshot: a new background from `prompt`, the product kept "
                                     "pixel-exact (mask from `mask_image`, the photo's alpha, or found)",
               models.BackgroundReplaceRequest, ("mask", "depth")),
        _route("restyle_room", "Interior restyle: the room redrawn along its depth and segmentation; "
                               "`keep_classes` stay the photo", models.RestyleRoomRequest,
               ("mask", "depth", "segmentation")),
        _route("product_enhance", "Product enhance: the `mask_image` region repainted with ControlNet depth, "
                                  "the rest kept pixel-exact", models.ProductEnhanceRequest, ("mask", "depth")),
    ])

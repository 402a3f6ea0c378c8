"""Request and response bodies of the photo workflow routes (/v1/background-replace, /v1/restyle-room,
/v1/product-enhance, /v1/product-finder): each workflow contract's inputs under their own names
(serving/contracts.py), plus how to answer. The generating ones are built per app, like gateway/schemas.py,
since their limits come from settings; product_finder's limits are its contract's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from gateway.schemas import EXAMPLE_IMAGE, EXAMPLE_MASK, ImageEvent, Number, RequestModels, Txt2ImgJSONResponse
from gateway.settings import GatewaySettings
from serving.contracts import MAX_FINDER_LABELS

EDGE_PIXELS = (0, 64)  # mask_dilation / mask_feather (serving/workflows/stages.py EDGE_RANGE)
# The workflows' intermediate outputs, as the contracts name them.
INTERMEDIATES = ("mask", "depth", "segmentation")


class Intermediates(BaseModel):
    """The workflow's intermediate results as base64 PNGs (those the workflow has)."""

    mask: str | None = Field(None, description="greyscale: 255 where the output is the input photo "
                                               "(product_enhance: where it was repainted)")
    depth: str | None = Field(None, description="greyscale depth map that conditioned the ControlNet")
    segmentation: str | None = Field(None, description="ADE20K colour map (restyle-room)")


class WorkflowJSONResponse(Txt2ImgJSONResponse):
    intermediates: Intermediates | None = Field(None, description="with `return_intermediates: true`")


class WorkflowImageEvent(ImageEvent):
    """A workflow route's last event, `image`."""

    intermediates: Intermediates | None = None


class ProductFinderRequest(BaseModel):
    """product_finder: the objects of the given classes in a photo (SAM's automatic masks, CLIP zero-shot labels)."""

    model_config = ConfigDict(extra="forbid")

    image: StrictStr | None = Field(None, examples=[EXAMPLE_IMAGE],
                                    description="required: the photo, base64 PNG/JPEG/WebP (JSON) or a file "
                                                "(multipart); RGBA is taken as is")
    labels: list[Annotated[StrictStr, Field(min_length=1)]] = Field(
        ..., min_length=1, max_length=MAX_FINDER_LABELS, examples=[["handbag", "sneaker"]],
        description="the classes to find (\"background\" is implicit, the rejection class, and refused); "
                    "in a form, one field per label")
    threshold: Number | None = Field(None, ge=0, le=1, description="the least CLIP probability of a found object "
                                                                   "(default 0.5)")
    points_per_side: StrictInt | None = Field(None, ge=1, le=8, description="SAM's point grid is n x n "
                                                                            "(default 6)")
    min_mask_score: Number | None = Field(None, ge=0, le=1, description="a mask is kept when SAM's predicted IoU "
                                                                        "is above this (default 0.88; 0: no filter)")
    stability_score_thresh: Number | None = Field(None, ge=0, le=1,
                                                  description="and when its stability score is above this "
                                                              "(default 0.95; 0: no filter)")
    max_objects: StrictInt | None = Field(None, ge=1, le=64, description="default 8")


class FoundObject(BaseModel):
    label: str = Field(description="one of `labels`")
    score: float = Field(description="its CLIP probability, 0..1")
    box: list[int] = Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] in pixels, inclusive")
    mask: str = Field(description="base64 PNG, greyscale of the photo's size, 255 inside the object")


class ProductFinderResponse(BaseModel):
    objects: list[FoundObject] = Field(description="by score, highest first; empty when nothing was found")
    width: int
    height: int


@dataclass(frozen=True)
class WorkflowModels:
    BackgroundReplaceRequest: type[BaseModel]
    RestyleRoomRequest: type[BaseModel]
    ProductEnhanceRequest: type[BaseModel]


def build_workflow_models(settings: GatewaySettings, models: RequestModels) -> WorkflowModels:
    low, high = EDGE_PIXELS

    class WorkflowOptions(models.DiffusionOptions):  # type: ignore[name-defined,misc]
        """What every workflow takes: a photo, the diffusion options, the output size and the answer's form."""

        model: StrictStr | None = Field(None, description="exported variant (default: the first exported)")
        image: StrictStr | None = Field(None, examples=[EXAMPLE_IMAGE],
                                        description="required: the photo, base64 PNG/JPEG/WebP (JSON) or a file "
                                                    "(multipart)")
        max_side: StrictInt | None = Field(None, ge=settings.size_multiple, le=settings.max_image_size,
                                           description="longest side of the output (default: the model's native "
                                                       "size); the photo's aspect ratio is kept, sides rounded "
                                                       "down to the latent stride, never upscaled")
        num_images: StrictInt = Field(1, ge=1, le=settings.max_images)
        response_format: Literal["png", "b64_json"] = Field("png", description="png: image/png bytes (one image)")
        stream: StrictBool = Field(False, description="Server-Sent Events: `progress` per stage and step, then "
                                                      "the image")
        return_intermediates: StrictBool = Field(False, description="add the intermediate results (mask, depth, "
                                                                    "segmentation) as base64 PNGs (b64_json or "
                                                                    "stream)")

    class BackgroundReplaceRequest(WorkflowOptions):
        """background_replace: a new background behind the product, the product kept pixel-exact."""

        image: StrictStr | None = Field(None, examples=[EXAMPLE_IMAGE],
                                        description="required: the product photo, base64 or a file; an RGBA "
                                                    "cut-out's alpha is the product mask")
        mask_image: StrictStr | None = Field(None, examples=[EXAMPLE_MASK],
                                             description="greyscale like image, white (255) = the product to keep "
                                                         "(default: found by foreground_mask)")
        controlnet_conditioning_scale: Number | None = Field(None, ge=0, le=5, description="default 1.0")
        mask_dilation: StrictInt | None = Field(None, ge=low, le=high,
                                                description="px the new background reaches under the product edge "
                                                            "(default 0)")
        mask_feather: StrictInt | None = Field(None, ge=low, le=high,
                                               description="px of soft edge when the product is composited back "
                                                           "(default 0)")

    class RestyleRoomRequest(WorkflowOptions):
        """restyle_room: the room redrawn along its depth and segmentation; keep_classes stay the photo."""

        strength: Number | None = Field(None, ge=0, le=1, description="absent: txt2img guided by the room's "
                                                                      "structure; 0..1: img2img from the photo")
        depth_scale: Number | None = Field(None, ge=0, le=5, description="default 1.0")
        seg_scale: Number | None = Field(None, ge=0, le=5, description="default 1.0")
        keep_classes: list[StrictStr] | None = Field(None, min_length=1, examples=[["wall"]],
                                                     description="ADE20K class names kept from the photo, e.g. "
                                                                 "wall, window, floor")

    class ProductEnhanceRequest(WorkflowOptions):
        """product_enhance: the product region repainted; everything outside it stays the photo."""

        mask_image: StrictStr | None = Field(None, examples=[EXAMPLE_MASK],
                                             description="required: greyscale like image, >= 128 = the product "
                                                         "region to enhance; base64 or a file")
        strength: Number | None = Field(None, ge=0, le=1, description="default 0.6")
        controlnet_conditioning_scale: Number | None = Field(None, ge=0, le=5, description="default 1.0")
        mask_dilation: StrictInt | None = Field(None, ge=low, le=high, description="default 8")

    return WorkflowModels(BackgroundReplaceRequest, RestyleRoomRequest, ProductEnhanceRequest)


"""The one place where a route's validated body becomes a Triton contract's inputs (a GenerationJob).

Routes are a schema (gateway/schemas.py) and a mapping: the native routes use their contract's own input
names, so their mapping is `native_job`; the OpenAI routes rename (`n` -> num_images, `size` -> width and
height, `mask` -> mask_image) and say so in their `rename` tables, which also turn Triton's error messages
back into the route's field names. Images are decoded here, in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel

from gateway import uploads
from gateway.errors import invalid
from gateway.generation_service import GenerationJob
from gateway.request_body import Files
from gateway.settings import GatewaySettings

# Body fields that say how to answer, not what to generate.
RESPONSE_FIELDS = frozenset({"response_format", "stream"})
# Native image fields (base64 in JSON, files in multipart) -> contract inputs.
NATIVE_IMAGE_FIELDS = {"image": "image", "mask_image": "mask_image", "control_images": "control_image"}
CONTROL_LISTS = ("controlnet_conditioning_scale", "control_guidance_start", "control_guidance_end")
# Contract input -> native field name, for Triton's error messages.
NATIVE_RENAME = {"control_image": "control_images"}


def model_for(settings: GatewaySettings, contract: str) -> str:
    """The Triton model serving a contract on this gateway's replicas."""
    return {"txt2img": settings.model, "img2img": settings.img2img_model, "inpaint": settings.inpaint_model}[contract]


def job(settings: GatewaySettings, contract: str, inputs: Mapping[str, Any], seed: int | None) -> GenerationJob:
    return GenerationJob.create(model_for(settings, contract), inputs, seed, contract=contract)


def image_sources(body: BaseModel, files: Files, fields: Mapping[str, str]) -> dict[str, list[bytes]]:
    """Each image field's bytes: uploaded files (multipart) or base64 strings (JSON or form text)."""
    sources: dict[str, list[bytes]] = {}
    for field in fields:
        if field in files:
            sources[field] = files[field]
            continue
        value = getattr(body, field, None)
        if value is None:
            continue
        texts = value if isinstance(value, list) else [value]
        sources[field] = [uploads.from_base64(field, text) for text in texts]
    return sources


def _decode_native(sources: dict[str, list[bytes]], max_pixels: int) -> dict[str, np.ndarray]:
    decoded: dict[str, np.ndarray] = {}
    for field, blobs in sources.items():
        if field != "control_images" and len(blobs) != 1:
            raise invalid(field, f"invalid '{field}': expected one image, got {len(blobs)}")
        images = [uploads.open_image(field, blob, max_pixels) for blob in blobs]
        if field == "mask_image":
            decoded["mask_image"] = uploads.to_luminance(images[0])
        elif field == "image":
            decoded["image"] = uploads.to_rgb(images[0])
        else:
            arrays = [uploads.to_rgb(image) for image in images]
            if len({array.shape for array in arrays}) > 1:
                sizes = ", ".join(f"{a.shape[1]}x{a.shape[0]}" for a in arrays)
                raise invalid(field, f"invalid '{field}': the control images must share one size, got {sizes}")
            decoded["control_image"] = np.stack(arrays)
    return decoded


def check_controlnet_lists(values: Mapping[str, Any], images_field: str = "control_images") -> None:
    """k consistency of the ControlNet fields, checked before any image is decoded or sent."""
    kinds = values.get("controlnet")
    images = values.get(images_field)
    if images is None and kinds is None:
        for name in CONTROL_LISTS:
            if values.get(name) is not None:
                raise invalid(name, f"invalid '{name}': given without control_images and controlnet")
        return
    if images is None:
        raise invalid(images_field, f"invalid '{images_field}': required with controlnet (one image per ControlNet)")
    if kinds is None:
        raise invalid("controlnet", "invalid 'controlnet': required with control_images: which ControlNet "
                                    "(e.g. depth, seg) for each image")
    k = len(kinds)
    if len(images) != k:
        raise invalid("controlnet", f"invalid 'controlnet': names {k} ControlNets but {images_field} holds "
                                    f"{len(images)} images")
    for name in CONTROL_LISTS:
        if values.get(name) is not None and len(values[name]) != k:
            raise invalid(name, f"invalid '{name}': has {len(values[name])} values; it needs one per ControlNet ({k})")


async def native_job(settings: GatewaySettings, contract: str, body: BaseModel, files: Files) -> GenerationJob:
    """A native route's body (contract names, images base64 or files) as a job of `contract`."""
    image_fields = {field: NATIVE_IMAGE_FIELDS[field] for field in NATIVE_IMAGE_FIELDS if field in type(body).model_fields}
    sources = image_sources(body, files, image_fields)
    for field in ("image", "mask_image"):
        if field in image_fields and field not in sources:
            raise invalid(field, f"invalid '{field}': is required (base64 in JSON, or a file in a multipart form)")
    values = body.model_dump(exclude=RESPONSE_FIELDS | set(image_fields))
    check_controlnet_lists({**values, "control_images": sources.get("control_images")})
    images = await asyncio.to_thread(_decode_native, sources, settings.max_upload_pixels)
    return job(settings, contract, {**values, **images}, body.seed)

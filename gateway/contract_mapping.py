"""The one place where a route's validated body becomes a Triton contract's inputs (a GenerationJob).

Routes are a schema (gateway/schemas.py) and a mapping: the native routes use their contract's own input
names, so their mapping is `native_job`; the OpenAI routes rename (`n` -> num_images, `size` -> width and
height, `mask` -> mask_image) and say so in their `rename` tables, which also turn Triton's error messages
back into the route's field names. Images are decoded here, in a worker thread.
"""

from __future__ import annotations

import asyncio
import typing
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel

from gateway import uploads
from gateway.errors import invalid
from gateway.generation_service import GenerationJob
from gateway.request_body import Files
from gateway.settings import GatewaySettings
from serving.contracts import GENERATION_CONTRACTS

# Body fields that say how to answer, not what to generate.
RESPONSE_FIELDS = frozenset({"response_format", "stream", "return_intermediates"})
# Native image fields (base64 in JSON, files in multipart) -> contract inputs.
NATIVE_IMAGE_FIELDS = {"image": "image", "mask_image": "mask_image", "control_images": "control_image"}
CONTROL_LISTS = ("controlnet_conditioning_scale", "control_guidance_start", "control_guidance_end")
# Contract input -> native field name, for Triton's error messages.
NATIVE_RENAME = {"control_image": "control_images"}


def model_for(settings: GatewaySettings, contract: str) -> str:
    """The Triton model serving a contract on this gateway's replicas."""
    return {"txt2img": settings.model, "img2img": settings.img2img_model, "inpaint": settings.inpaint_model,
            "background_replace": settings.background_replace_model, "restyle_room": settings.restyle_room_model,
            "product_enhance": settings.product_enhance_model,
            "product_finder": settings.product_finder_model}[contract]


def job(settings: GatewaySettings, contract: str, inputs: Mapping[str, Any], seed: int | None,
        extra_outputs: tuple[str, ...] = ()) -> GenerationJob:
    return GenerationJob.create(model_for(settings, contract), inputs, seed, contract=contract,
                                extra_outputs=extra_outputs)


def required_images(contract: str, fields: typing.Iterable[str]) -> list[str]:
    """The image fields the contract cannot do without (img2img's image, product_enhance's mask_image...)."""
    spec = GENERATION_CONTRACTS[contract]
    return [field for field in fields
            if NATIVE_IMAGE_FIELDS[field] in spec.input_names and not spec.input(NATIVE_IMAGE_FIELDS[field]).optional]


def _keeps_alpha(contract: str) -> bool:
    """Whether the contract's `image` takes RGBA too (background_replace: the alpha is the product mask)."""
    spec = GENERATION_CONTRACTS[contract]
    return "image" in spec.input_names and spec.input("image").dims[-1] == -1


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


def _decode_native(sources: dict[str, list[bytes]], max_pixels: int, keep_alpha: bool = False) -> dict[str, np.ndarray]:
    decoded: dict[str, np.ndarray] = {}
    for field, blobs in sources.items():
        if field != "control_images" and len(blobs) != 1:
            raise invalid(field, f"invalid '{field}': expected one image, got {len(blobs)}")
        images = [uploads.open_image(field, blob, max_pixels) for blob in blobs]
        if field == "mask_image":
            decoded["mask_image"] = uploads.to_luminance(images[0])
        elif field == "image":
            alpha = uploads.alpha_of(images[0]) if keep_alpha else None
            rgb = uploads.to_rgb(images[0])
            decoded["image"] = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=-1)
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


async def native_job(settings: GatewaySettings, contract: str, body: BaseModel, files: Files,
                     extra_outputs: tuple[str, ...] = ()) -> GenerationJob:
    """A native or workflow route's body (contract names, images base64 or files) as a job of `contract`."""
    image_fields = {field: NATIVE_IMAGE_FIELDS[field] for field in NATIVE_IMAGE_FIELDS if field in type(body).model_fields}
    sources = image_sources(body, files, image_fields)
    for field in required_images(contract, image_fields):
        if field not in sources:
            raise invalid(field, f"invalid '{field}': is required (base64 in JSON, or a file in a multipart form)")
    values = body.model_dump(exclude=RESPONSE_FIELDS | set(image_fields))
    if "control_images" in image_fields:  # workflows take one scalar scale and no ControlNet list
        check_controlnet_lists({**values, "control_images": sources.get("control_images")})
    images = await asyncio.to_thread(_decode_native, sources, settings.max_upload_pixels, _keeps_alpha(contract))
    return job(settings, contract, {**values, **images}, getattr(body, "seed", None), extra_outputs)

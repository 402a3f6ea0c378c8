"""Parsing of perception requests: images, texts and numbers, each error naming its input."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from serving.pipelines.errors import InvalidInputError

Inputs = Mapping[str, "np.ndarray | None"]


def _check_image(image: np.ndarray, name: str, max_side: int) -> None:
    height, width, channels = image.shape
    if channels not in (3, 4):
        raise InvalidInputError(name, f"must be RGB or RGBA (last dimension 3 or 4), got {channels} channels")
    if height == 0 or width == 0:
        raise InvalidInputError(name, f"is empty ({height} x {width} pixels)")
    if max(height, width) > max_side:
        raise InvalidInputError(name, f"is {height} x {width} pixels; each side must be at most {max_side}")


def parse_image(inputs: Inputs, name: str, max_side: int) -> np.ndarray:
    """One UINT8 image [H, W, 3|4]."""
    image = inputs.get(name)
    if image is None:
        raise InvalidInputError(name, "is required")
    if image.dtype != np.uint8:
        raise InvalidInputError(name, f"must be UINT8 pixels, got {image.dtype}")
    if image.ndim != 3:
        raise InvalidInputError(name, f"must be one image [H, W, 3|4], got shape {list(image.shape)}")
    _check_image(image, name, max_side)
    return image


def parse_images(inputs: Inputs, name: str, max_side: int, max_count: int) -> np.ndarray:
    """A batch of same-size UINT8 images [n, H, W, 3|4]; a single [H, W, C] image counts as n = 1."""
    images = inputs.get(name)
    if images is None:
        raise InvalidInputError(name, "is required")
    if images.dtype != np.uint8:
        raise InvalidInputError(name, f"must be UINT8 pixels, got {images.dtype}")
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise InvalidInputError(name, f"must be images [n, H, W, 3|4], got shape {list(images.shape)}")
    if not 1 <= len(images) <= max_count:
        raise InvalidInputError(name, f"has {len(images)} images; allowed 1..{max_count}")
    _check_image(images[0], name, max_side)
    return images


def parse_texts(inputs: Inputs, name: str, max_count: int) -> list[str]:
    """BYTES [k] of non-empty UTF-8 strings, 1 <= k <= max_count."""
    value = inputs.get(name)
    if value is None:
        raise InvalidInputError(name, "is required")
    flat = np.asarray(value, dtype=object).reshape(-1)
    if not 1 <= flat.size <= max_count:
        raise InvalidInputError(name, f"has {flat.size} entries; allowed 1..{max_count}")
    texts = []
    for item in flat:
        try:
            text = item.decode("utf-8") if isinstance(item, bytes) else str(item)
        except UnicodeDecodeError:
            raise InvalidInputError(name, "must be UTF-8 text") from None
        if not text.strip():
            raise InvalidInputError(name, "entries must be non-empty strings")
        texts.append(text)
    return texts


def parse_optional_text(inputs: Inputs, name: str, default: str) -> str:
    if inputs.get(name) is None:
        return default
    texts = parse_texts(inputs, name, max_count=1)
    return texts[0]

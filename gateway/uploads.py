"""Uploaded images: base64 or file bytes -> uint8 arrays, decoded with Pillow (call from a worker thread).

Every failure is a 400 naming the field the image came in: bytes that are not a PNG, JPEG or WebP image,
a corrupt or truncated file, or an image whose decoded size exceeds `max_pixels` (decompression bombs
are refused from the header, before any pixel is decoded). Modes are normalised: images become RGB,
masks single-channel.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from gateway.errors import GatewayError, invalid

FORMATS = ("PNG", "JPEG", "WEBP")
_DATA_URL = re.compile(r"data:image/[\w.+-]+;base64,", re.I)


def from_base64(field: str, text: str) -> bytes:
    """A base64 image (optionally a data: URL) as bytes."""
    text = _DATA_URL.sub("", text.strip(), count=1)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(field, f"invalid '{field}': not valid base64 (send the image file's bytes base64-encoded)",
                      code="invalid_image") from None


def open_image(field: str, data: bytes, max_pixels: int) -> Image.Image:
    """The decoded image (all pixels loaded), or a 400 naming `field`."""
    if not data:
        raise invalid(field, f"invalid '{field}': the file is empty", code="invalid_image")
    image = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = image.size
            if width * height > max_pixels:
                raise _too_many_pixels(field, width, height, max_pixels)
            image.load()
    except GatewayError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        if image is None:
            raise invalid(field, f"invalid '{field}': the image is larger than {max_pixels} pixels",
                          code="image_too_large") from None
        raise _too_many_pixels(field, *image.size, max_pixels) from None
    except UnidentifiedImageError:
        raise invalid(field, f"invalid '{field}': not a PNG, JPEG or WebP image", code="invalid_image") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt data
        raise invalid(field, f"invalid '{field}': the image could not be decoded ({error})",
                      code="invalid_image") from None
    return image


def _too_many_pixels(field: str, width: int, height: int, max_pixels: int) -> GatewayError:
    return invalid(field, f"invalid '{field}': {width}x{height} is {width * height} pixels, above the limit of "
                          f"{max_pixels}", code="image_too_large")


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def to_rgb(image: Image.Image) -> np.ndarray:
    """uint8 [H, W, 3]; transparency is dropped (palette, greyscale, CMYK... converted)."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def alpha_of(image: Image.Image) -> np.ndarray | None:
    """uint8 [H, W] alpha channel, or None when the image has no transparency."""
    if not has_alpha(image):
        return None
    return np.asarray(image.convert("RGBA"), dtype=np.uint8)[..., 3]


def to_luminance(image: Image.Image) -> np.ndarray:
    """uint8 [H, W] greyscale (a mask: white repaints)."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("L"), dtype=np.uint8)


def repaint_where_transparent(alpha: np.ndarray) -> np.ndarray:
    """OpenAI's mask convention -> the inpaint contract's: fully transparent (alpha 0) = 255 = repaint."""
    return np.where(alpha == 0, 255, 0).astype(np.uint8)

"""PNG encoding of uint8 HWC images and HW masks (Pillow; no torch)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def encode_png(image: np.ndarray, compress_level: int = 3) -> bytes:
    """uint8 [H, W, 3] as RGB, or [H, W] (a mask, a depth map) as greyscale."""
    buffer = io.BytesIO()
    mode = "L" if image.ndim == 2 else "RGB"
    Image.fromarray(np.ascontiguousarray(image), mode=mode).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def encode_pngs(images: np.ndarray, compress_level: int = 3) -> list[bytes]:
    return [encode_png(image, compress_level) for image in images]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

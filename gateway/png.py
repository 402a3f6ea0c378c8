"""PNG encoding of uint8 HWC images (Pillow; no torch)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def encode_png(image: np.ndarray, compress_level: int = 3) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode="RGB").save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def encode_pngs(images: np.ndarray, compress_level: int = 3) -> list[bytes]:
    return [encode_png(image, compress_level) for image in images]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

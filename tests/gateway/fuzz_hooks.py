"""Schemathesis hooks of tests/gateway/test_openapi_fuzz.py: some uploads are real images.

Random bytes in a multipart file field only ever reach the gateway's 400 "not an image" answer. About
half of the files generated in the fuzzing phase (chosen by their bytes, so a seed replays the same run)
are swapped for a small real PNG (a one-article CSV for a catalog job's `file`), so the routes' own
paths (inpaint and img2img edits, streams, url answers, catalog jobs) are fuzzed too. A file is
schema-valid either way: the document says `format: binary`, nothing more.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

import numpy as np
import schemathesis
from PIL import Image
from schemathesis.transport.serialization import Binary


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


_middle = (slice(8, 24), slice(8, 24))
PHOTO = _png(np.full((32, 32, 3), 128, np.uint8))
# OpenAI's mask: transparent pixels are repainted. The native mask_image: white pixels are repainted.
_alpha = np.full((32, 32, 4), 255, np.uint8)
_alpha[_middle + (slice(3, 4),)] = 0
ALPHA_MASK = _png(_alpha)
_white = np.zeros((32, 32), np.uint8)
_white[_middle] = 255
WHITE_MASK = _png(_white)
# A catalog job's sheet (POST /v1/jobs): one article, so the jobs the fuzzer starts finish in seconds.
ARTICLES_CSV = "article_id,beschreibung\nF1,Rotes T-Shirt aus 100 % Baumwolle\n".encode()
REAL_FILES = {"mask": ALPHA_MASK, "mask_image": WHITE_MASK, "file": ARTICLES_CSV}


def _swap(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_swap(name, item) for item in value]
    if isinstance(value, Binary) and zlib.crc32(value.data) % 2 == 0:
        return Binary(REAL_FILES.get(name, PHOTO))
    return value


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    return {name: _swap(name, value) for name, value in body.items()}

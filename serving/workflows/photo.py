"""Pixel operations the photo workflows share: the size policy, masks, and the exact composite."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from serving.pipelines.errors import InvalidInputError


def fit_size(height: int, width: int, max_side: int, multiple: int) -> tuple[int, int]:
    """Keep the aspect ratio, longest side at most `max_side` (never upscaled), sides rounded down to `multiple`."""
    scale = min(1.0, max_side / max(height, width))
    fitted = (int(height * scale) // multiple * multiple, int(width * scale) // multiple * multiple)
    if min(fitted) < multiple:
        raise InvalidInputError("image", f"{width}x{height} fitted into {max_side} px is below the model's "
                                         f"latent stride {multiple} on one side")
    return fitted


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [H, W] or [H, W, C] -> `size` (height, width) with Lanczos; unchanged when already that size."""
    if image.shape[:2] == size:
        return image
    mode = "L" if image.ndim == 2 else {3: "RGB", 4: "RGBA"}[image.shape[-1]]
    pil = Image.fromarray(np.ascontiguousarray(image), mode)
    return np.asarray(pil.resize(size[::-1], Image.Resampling.LANCZOS))


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grows the white area of a uint8 mask by `pixels` (a square max filter)."""
    if pixels <= 0:
        return mask
    return np.asarray(Image.fromarray(mask, "L").filter(ImageFilter.MaxFilter(2 * pixels + 1)))


def feather(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Softens the inside of a mask's edge over about `pixels`; never extends it (stays <= the mask)."""
    if pixels <= 0:
        return mask
    blurred = np.asarray(Image.fromarray(mask, "L").filter(ImageFilter.GaussianBlur(pixels)))
    return np.minimum(mask, blurred)


def composite(original: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """original x alpha + generated x (1 - alpha) per image, in integers: where alpha is 255 the result
    is `original` bit for bit, where it is 0 it is `generated`. original [H,W,3], generated [n,H,W,3]."""
    a = alpha.astype(np.uint32)[None, :, :, None]
    mixed = original.astype(np.uint32)[None] * a + generated.astype(np.uint32) * (255 - a)
    return ((mixed + 127) // 255).astype(np.uint8)


def gray_to_rgb(image: np.ndarray) -> np.ndarray:
    """A single-channel condition (depth) as the RGB image ControlNets take (the channel repeated)."""
    return np.ascontiguousarray(np.repeat(image[..., None], 3, axis=-1))

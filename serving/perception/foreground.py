"""foreground_mask orchestrator: rembg's pre-processing -> `foreground_mask_net` (the rembg ONNX file) ->
rembg's post-processing, equal to `rembg.remove(image, only_mask=True, session=...)`. An RGBA image whose
alpha already marks the product (any pixel not fully opaque) skips the network: the alpha is the mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from serving.perception.contracts import MAX_IMAGE_SIDE
from serving.perception.inputs import Inputs, parse_image
from serving.perception.stages import read_settings
from serving.stage_types import ComponentCaller


def rembg_normalize(image: Image.Image, mean, std, size: int) -> np.ndarray:
    """rembg BaseSession.normalize: RGB, Lanczos to size x size, divide by the max pixel, mean/std, NCHW."""
    pixels = np.array(image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS))
    pixels = pixels / max(np.max(pixels), 1e-6)
    normalised = (pixels - np.asarray(mean)) / np.asarray(std)
    return normalised.transpose(2, 0, 1)[None].astype(np.float32)


def rembg_mask(prediction: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """rembg's custom-session post-processing: min-max, x 255 truncated, Lanczos back to the image size."""
    pred = prediction[:, 0, :, :]
    high, low = np.max(pred), np.min(pred)
    if not high > low:  # a constant prediction (rembg would divide by zero): no foreground
        return np.zeros(size[::-1], dtype=np.uint8)
    pred = np.squeeze((pred - low) / (high - low))
    mask = Image.fromarray((pred * 255).astype("uint8"), mode="L")
    return np.array(mask.resize(size, Image.Resampling.LANCZOS))


class ForegroundMaskPipeline:
    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        settings = read_settings(assets)
        self.call = call
        self.mean, self.std, self.size = settings["mean"], settings["std"], int(settings["size"])

    def __call__(self, inputs: Inputs) -> dict[str, np.ndarray]:
        # 1. check inputs; an RGBA cut-out already carries its mask
        image = parse_image(inputs, "image", MAX_IMAGE_SIDE)
        if image.shape[-1] == 4 and image[..., 3].min() < 255:
            return {"mask": np.ascontiguousarray(image[..., 3])}
        pil = Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")
        # 2. rembg's normalisation, 3. network, 4. rembg's mask
        pixels = rembg_normalize(pil, self.mean, self.std, self.size)
        prediction = self.call("foreground_mask_net", {"pixel_values": pixels}, ["mask"])["mask"]
        return {"mask": rembg_mask(prediction, pil.size)}

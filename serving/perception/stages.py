"""Stages shared by the perception orchestrators: assets, image conversion, the library's image processor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from serving.perception.contracts import MAX_IMAGE_SIDE
from serving.perception.inputs import parse_image
from serving.stage_types import ComponentCaller

SETTINGS_FILE = "perception.json"
IMAGE_PROCESSOR_DIR = "image_processor"
TOKENIZER_DIR = "tokenizer"


def read_settings(assets: Path) -> dict[str, Any]:
    return json.loads((Path(assets) / SETTINGS_FILE).read_text())


def load_image_processor(assets: Path):
    """The image processor the library users call, saved at export (PIL backend: no torchvision here)."""
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(Path(assets) / IMAGE_PROCESSOR_DIR, backend="pil")


def to_rgb(image: np.ndarray) -> Image.Image:
    """UINT8 [H, W, 3|4] -> RGB PIL image; alpha is dropped as transformers' `load_image` does (convert("RGB"))."""
    mode = "RGBA" if image.shape[-1] == 4 else "RGB"
    return Image.fromarray(np.ascontiguousarray(image), mode).convert("RGB")


def pixel_values(processor, images: Sequence[Image.Image]) -> np.ndarray:
    return np.asarray(processor(images=list(images), return_tensors="np")["pixel_values"], dtype=np.float32)


class ProcessorNetwork:
    """The stages depth and segmentation share: check the image -> the model's image processor -> network."""

    network = ""  # the Triton component
    output = ""  # its raw output

    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        self.call = call
        self.image_processor = load_image_processor(assets)

    def forward(self, inputs: Mapping[str, "np.ndarray | None"]) -> tuple[Image.Image, np.ndarray]:
        image = to_rgb(parse_image(inputs, "image", MAX_IMAGE_SIDE))
        pixels = pixel_values(self.image_processor, [image])
        return image, self.call(self.network, {"pixel_values": pixels}, [self.output])[self.output]

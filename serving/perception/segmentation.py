"""segmenter orchestrator: image -> `segmenter_net` (UperNet / Segformer on ADE20K) -> label map through the
image processor's post_process_semantic_segmentation, and the ADE20K colour map ControlNet-seg takes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from serving.perception.ade20k import colorize
from serving.perception.contracts import MAX_IMAGE_SIDE
from serving.perception.inputs import Inputs, parse_image
from serving.perception.stages import ComponentCaller, load_image_processor, pixel_values, to_rgb


class SegmenterPipeline:
    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        self.call = call
        self.image_processor = load_image_processor(assets)

    def __call__(self, inputs: Inputs) -> dict[str, np.ndarray]:
        import torch

        # 1. check inputs, 2. the model's image processor
        image = to_rgb(parse_image(inputs, "image", MAX_IMAGE_SIDE))
        pixels = pixel_values(self.image_processor, [image])
        # 3. network
        logits = self.call("segmenter_net", {"pixel_values": pixels}, ["logits"])["logits"]
        # 4. the processor's post-processing: bilinear to the input size, argmax over classes
        outputs = SimpleNamespace(logits=torch.from_numpy(logits))
        labels = self.image_processor.post_process_semantic_segmentation(outputs, target_sizes=[image.size[::-1]])[0]
        label_map = labels.numpy().astype(np.int32)
        return {"label_map": label_map, "color_map": colorize(label_map)}

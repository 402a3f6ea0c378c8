"""segmenter orchestrator: image -> `segmenter_net` (UperNet / Segformer on ADE20K) -> label map through the
image processor's post_process_semantic_segmentation, and the ADE20K colour map ControlNet-seg takes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from serving.perception.ade20k import colorize
from serving.perception.inputs import Inputs
from serving.perception.stages import ProcessorNetwork


class SegmenterPipeline(ProcessorNetwork):
    network, output = "segmenter_net", "logits"

    def __call__(self, inputs: Inputs) -> dict[str, np.ndarray]:
        import torch

        # 1. check inputs, 2. the model's image processor, 3. network
        image, logits = self.forward(inputs)
        # 4. the processor's post-processing: bilinear to the input size, argmax over classes
        outputs = SimpleNamespace(logits=torch.from_numpy(logits))
        labels = self.image_processor.post_process_semantic_segmentation(outputs, target_sizes=[image.size[::-1]])[0]
        label_map = labels.numpy().astype(np.int32)
        return {"label_map": label_map, "color_map": colorize(label_map)}

"""depth_estimator orchestrator: image -> `depth_estimator_net` (DPT / Depth Anything) -> the depth image
of transformers' pipeline("depth-estimation"), which is what ControlNet-depth users feed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from serving.perception.inputs import Inputs
from serving.perception.stages import ProcessorNetwork


def depth_image(predicted_depth: np.ndarray) -> np.ndarray:
    """The pipeline's normalisation, in the same float32 arithmetic: min-max to [0, 1], x 255, truncate."""
    depth = np.asarray(predicted_depth, dtype=np.float32)
    span = depth.max() - depth.min()
    if not span > 0:  # a constant map (the pipeline would divide by zero): all black
        return np.zeros(depth.shape, dtype=np.uint8)
    return ((depth - depth.min()) / span * 255).astype(np.uint8)


class DepthPipeline(ProcessorNetwork):
    network, output = "depth_estimator_net", "predicted_depth"

    def __call__(self, inputs: Inputs) -> dict[str, np.ndarray]:
        import torch

        # 1. check inputs, 2. the model's image processor, 3. network
        image, raw = self.forward(inputs)
        # 4. the processor's post-processing (bicubic to the input size), then the pipeline's depth image
        outputs = SimpleNamespace(predicted_depth=torch.from_numpy(raw))
        resized = self.image_processor.post_process_depth_estimation(outputs, [image.size[::-1]])[0]
        resized = resized["predicted_depth"].numpy().reshape(image.height, image.width)  # squeeze() drops 1 px sides
        return {"predicted_depth": raw[0].astype(np.float32), "depth": depth_image(resized)}

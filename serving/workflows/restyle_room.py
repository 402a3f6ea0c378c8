"""restyle_room: a room photo restyled by a prompt, its structure kept.

Stages: fit the photo -> depth (`depth_estimator`) and ADE20K segmentation (`segmenter`) -> depth +
segmentation MultiControlNet (scales per request) as txt2img, or as img2img from the photo with
`strength` -> with `keep_classes`, those classes (walls, windows, floor...) are left out of the repainted
region and composited back from the photo, bit for bit.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from serving.contracts import IMG2IMG, INPAINT, TXT2IMG
from serving.perception.ade20k import class_ids
from serving.pipelines.errors import InvalidInputError, UnprocessableInputError
from serving.stage_types import ProgressCallback
from serving.tensor_values import UNIT_RANGE, optional_float_in
from serving.workflows.photo import composite, gray_to_rgb
from serving.workflows.stages import Inputs, PhotoWorkflow, StageReporter


def keep_class_names(inputs: Inputs) -> list[str]:
    value = inputs.get("keep_classes")
    if value is None:
        return []
    try:
        names = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.asarray(value).reshape(-1)]
    except UnicodeDecodeError:
        raise InvalidInputError("keep_classes", "must be UTF-8 text") from None
    if not names or any(not name.strip() for name in names):
        raise InvalidInputError("keep_classes", "must be non-empty ADE20K class names, e.g. wall, window, floor")
    return names


class RestyleRoom(PhotoWorkflow):
    def __call__(self, inputs: Inputs, on_step: ProgressCallback | None = None,
                 is_cancelled: Callable[[], bool] = lambda: False) -> dict[str, np.ndarray]:
        # 1. inputs and the fitted photo
        self.check_names(inputs)
        photo = self.photo(inputs)
        settings = self.settings(inputs)
        size = self.target_size(inputs, photo, settings)
        strength = optional_float_in(inputs, "strength", None, *UNIT_RANGE)
        scales = [self.scale(inputs, "depth_scale"), self.scale(inputs, "seg_scale")]
        try:
            keep_ids = class_ids(keep_class_names(inputs))
        except KeyError as unknown:
            raise InvalidInputError("keep_classes", f"unknown ADE20K class {unknown}; e.g. wall, windowpane, "
                                                    "floor, ceiling, door") from None
        reporter = StageReporter(on_step, self.steps(inputs))
        rgb = self.fitted(photo, size)
        # 2. the room's structure
        reporter.stage("depth")
        depth = self.perceive("depth_estimator", rgb, "depth")
        reporter.stage("segmentation")
        segmented = self.call("segmenter", {"image": rgb}, ["label_map", "color_map"])
        keep = (np.isin(segmented["label_map"], keep_ids) * 255).astype(np.uint8)
        if keep_ids and not keep.any():
            raise UnprocessableInputError("keep_classes", "none of these classes was found in the photo")
        # 3. the restyled room, guided by both conditions
        conditioned = {
            "height": np.array([size[0]], np.int32), "width": np.array([size[1]], np.int32),
            "control_image": np.stack([gray_to_rgb(depth), segmented["color_map"]]),
            "controlnet": np.array([b"depth", b"seg"], dtype=np.object_),
            "controlnet_conditioning_scale": np.array(scales, np.float32),
        }
        if strength is not None:
            conditioned.update(image=rgb, strength=np.array([strength], np.float32))
        if keep_ids:
            conditioned.update(image=rgb, mask_image=255 - keep)
            contract = INPAINT
        else:
            contract = IMG2IMG if strength is not None else TXT2IMG
        images, params = self.generate(contract, inputs, conditioned, reporter, is_cancelled)
        # 4. the kept classes back, exactly
        reporter.stage("composite", params.denoising_steps if params.image is not None else params.num_inference_steps)
        return {"image": composite(rgb, images, keep), "seed": np.array([params.seed], dtype=np.int64),
                "mask": keep, "depth": depth, "segmentation": segmented["color_map"]}

"""product_enhance: a product in a photo repainted in place ("make its leather look richer"), the rest of
the photo untouched.

Stages: fit the photo and its mask -> the product region (mask >= 128, dilated by `mask_dilation`) ->
depth (`depth_estimator`) -> ControlNet-depth inpainting of the region with `strength` -> the photo
composited back outside the region, bit for bit.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from serving.contracts import INPAINT, PRODUCT_ENHANCE
from serving.pipelines.errors import UnprocessableInputError
from serving.stage_types import ProgressCallback
from serving.tensor_values import UNIT_RANGE, optional_float_in
from serving.workflows.photo import composite, dilate, gray_to_rgb
from serving.workflows.stages import Inputs, PhotoWorkflow, StageReporter

REPAINT_LEVEL = 128  # the inpaint mask processor's binarisation threshold (0.5 of 255)


class ProductEnhance(PhotoWorkflow):
    def __call__(self, inputs: Inputs, on_step: ProgressCallback | None = None,
                 is_cancelled: Callable[[], bool] = lambda: False) -> dict[str, np.ndarray]:
        # 1. inputs, the fitted photo and the product region
        self.check_names(inputs)
        photo = self.photo(inputs)
        mask = self.mask(inputs, "mask_image", photo, required=True)
        settings = self.settings(inputs)
        size = self.target_size(inputs, photo, settings)
        strength = optional_float_in(inputs, "strength", float(PRODUCT_ENHANCE.input("strength").default), *UNIT_RANGE)
        scale = self.scale(inputs, "controlnet_conditioning_scale")
        dilation = self.pixels(inputs, "mask_dilation", int(PRODUCT_ENHANCE.input("mask_dilation").default))
        reporter = StageReporter(on_step, self.steps(inputs))
        rgb = self.fitted(photo, size)
        region = dilate(((self.fitted(mask, size) >= REPAINT_LEVEL) * 255).astype(np.uint8), dilation)
        if not region.any():
            raise UnprocessableInputError("mask_image", "marks no product region (no pixel >= 128 at the output size)")
        # 2. depth
        reporter.stage("depth")
        depth = self.perceive("depth_estimator", rgb, "depth")
        # 3. the region repainted
        images, params = self.generate(INPAINT, inputs, {
            "image": rgb, "mask_image": region, "strength": np.array([strength], np.float32),
            "height": np.array([size[0]], np.int32), "width": np.array([size[1]], np.int32),
            "control_image": gray_to_rgb(depth)[None], "controlnet": np.array([b"depth"], dtype=np.object_),
            "controlnet_conditioning_scale": np.array([scale], np.float32),
        }, reporter, is_cancelled)
        # 4. everything outside the region back, exactly
        reporter.stage("composite", params.denoising_steps)
        return {"image": composite(rgb, images, 255 - region), "seed": np.array([params.seed], dtype=np.int64),
                "mask": region, "depth": depth}

"""background_replace: a product photo on a new, generated background, the product itself untouched.

Stages (the by-hand recipe of users' background generators, every network served by Triton):
1. fit the photo to the model (aspect ratio kept, longest side <= max_side, sides on the latent stride);
2. the product mask: `mask_image`, else the RGBA alpha, else the `foreground_mask` orchestrator (rembg);
3. depth of the fitted photo (`depth_estimator`), the ControlNet-depth condition;
4. ControlNet-depth inpainting of the background (the inverted mask, dilated under the product edge);
5. the fitted photo composited back through the (feathered) mask: bit-identical where it is 255.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from serving.contracts import INPAINT
from serving.pipelines.errors import UnprocessableInputError
from serving.stage_types import ProgressCallback
from serving.workflows.photo import composite, dilate, feather, gray_to_rgb
from serving.workflows.stages import Inputs, PhotoWorkflow, StageReporter

FOREGROUND_LEVEL = 128  # mask pixels at or above this are product (the inpaint mask binarises at the same level)


class BackgroundReplace(PhotoWorkflow):
    def __call__(self, inputs: Inputs, on_step: ProgressCallback | None = None,
                 is_cancelled: Callable[[], bool] = lambda: False) -> dict[str, np.ndarray]:
        # 1. inputs and the fitted photo
        self.check_names(inputs)
        photo = self.photo(inputs, channels=(3, 4))
        given_mask = self.mask(inputs, "mask_image", photo, required=False)
        settings = self.settings(inputs)
        size = self.target_size(inputs, photo, settings)
        dilation, feathering = self.pixels(inputs, "mask_dilation", 0), self.pixels(inputs, "mask_feather", 0)
        scale = self.scale(inputs, "controlnet_conditioning_scale")
        reporter = StageReporter(on_step, self.steps(inputs))
        fitted = self.fitted(photo, size)
        rgb = np.ascontiguousarray(fitted[..., :3])
        # 2. the product mask
        reporter.stage("mask")
        if given_mask is not None:
            product = self.fitted(given_mask, size)
        elif fitted.shape[-1] == 4 and fitted[..., 3].min() < 255:
            product = np.ascontiguousarray(fitted[..., 3])
        else:
            product = self.perceive("foreground_mask", rgb, "mask")
        if product.max() < FOREGROUND_LEVEL:
            source = "mask_image" if given_mask is not None else "image"
            raise UnprocessableInputError(source, "no foreground found (the product mask is empty); send "
                                                  "mask_image or an RGBA cut-out")
        # 3. depth
        reporter.stage("depth")
        depth = self.perceive("depth_estimator", rgb, "depth")
        # 4. the background repainted around the product
        background = dilate(255 - product, dilation)
        images, params = self.generate(INPAINT, inputs, {
            "image": rgb, "mask_image": background, "height": np.array([size[0]], np.int32),
            "width": np.array([size[1]], np.int32), "control_image": gray_to_rgb(depth)[None],
            "controlnet": np.array([b"depth"], dtype=np.object_),
            "controlnet_conditioning_scale": np.array([scale], np.float32),
        }, reporter, is_cancelled)
        # 5. the product back, exactly
        reporter.stage("composite", params.denoising_steps)
        alpha = feather(product, feathering)
        return {"image": composite(rgb, images, alpha), "seed": np.array([params.seed], dtype=np.int64),
                "mask": alpha, "depth": depth}

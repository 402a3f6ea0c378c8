"""The public contracts of the generation orchestrators, defined once.

Each orchestrator's config.pbtxt (written by `python -m export`), the clients' and the gateway's
input dtypes, and the README contract tables all derive from these specs; the orchestrators parse
their requests against them. Torch-free, so the gateway and the clients can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.perception.contracts import SAM_PRED_IOU_THRESH, SAM_STABILITY_SCORE_THRESH

# Triton dtype -> numpy dtype of the tensor a client sends.
NUMPY_DTYPES: dict[str, Any] = {
    "BYTES": np.object_,
    "UINT8": np.uint8,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP32": np.float32,
}


@dataclass(frozen=True)
class TensorContract:
    name: str
    dtype: str  # Triton dtype without the TYPE_ prefix
    dims: tuple[int, ...]
    default: str = ""  # documentation: what an absent optional input means
    allowed: str = ""  # documentation: the rule the orchestrator enforces
    optional: bool = True

    @property
    def numpy_dtype(self) -> Any:
        return NUMPY_DTYPES[self.dtype]


@dataclass(frozen=True)
class OrchestratorContract:
    name: str
    summary: str
    inputs: tuple[TensorContract, ...]
    outputs: tuple[TensorContract, ...]
    decoupled: bool = False
    # "module:Class" of the runner the orchestrator model hosts (imported in the Triton stub only).
    runner: str = "serving.pipelines.generation_runner:GenerationRunner"
    # Triton models that must be in the repository for `python -m export` to install this orchestrator.
    requires: tuple[str, ...] = ()

    def input(self, name: str) -> TensorContract:
        return next(spec for spec in self.inputs if spec.name == name)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    def streaming_twin(self) -> "OrchestratorContract":
        """The decoupled twin: the same inputs, one progress response per step, then the result."""
        return OrchestratorContract(f"{self.name}_stream", f"{self.summary} Decoupled: progress per step.",
                                    self.inputs, self.outputs + PROGRESS_OUTPUTS, decoupled=True,
                                    runner=self.runner, requires=self.requires)


T = TensorContract

TXT2IMG_INPUTS = (
    T("prompt", "BYTES", (1,), "required", "non-empty UTF-8 text", optional=False),
    T("negative_prompt", "BYTES", (1,), "empty", "text"),
    T("num_inference_steps", "INT32", (1,), "30", "1..150"),
    T("guidance_scale", "FP32", (1,), "7.5", "finite, 0..30 (CFG when > 1)"),
    T("seed", "INT64", (1,), "random", "0..2^63-1"),
    T("height", "INT32", (1,), "model's native size (with an input image: its size rounded down to the stride)",
      "multiples of 8 and of the latent stride, up to `--max-image-size`"),
    T("width", "INT32", (1,), "as height", "as height"),
    T("scheduler", "BYTES", (1,), "ddim", "ddim, euler, euler_ancestral, dpmpp_2m, pndm, unipc"),
    T("num_images", "INT32", (1,), "1", "1..8"),
    T("model", "BYTES", (1,), "the first exported variant", "an exported variant name (an unknown one lists them)"),
)
CONTROLNET_INPUTS = (
    T("control_image", "UINT8", (-1, -1, -1, 3), "no ControlNet", "k RGB images [k,H,W,3], k = len(controlnet)"),
    T("controlnet", "BYTES", (-1,), "required with control_image", "k exported ControlNet kinds, e.g. depth, seg"),
    T("controlnet_conditioning_scale", "FP32", (-1,), "1.0 each", "k values in 0..5"),
    T("control_guidance_start", "FP32", (-1,), "0.0 each", "k values in 0..1, each < its end"),
    T("control_guidance_end", "FP32", (-1,), "1.0 each", "k values in 0..1"),
)
IMAGE_INPUT = T("image", "UINT8", (-1, -1, 3), "required", "RGB [H,W,3], up to the maximum size", optional=False)
MASK_INPUT = T("mask_image", "UINT8", (-1, -1), "required", "[H,W] like image; >= 128 repaints (255 = repaint)",
               optional=False)


def _strength(default: str) -> TensorContract:
    return T("strength", "FP32", (1,), default, "0..1, leaving at least one denoising step")


GENERATION_OUTPUTS = (
    T("image", "UINT8", (-1, -1, -1, 3), allowed="[n, height, width, 3]"),
    T("seed", "INT64", (1,), allowed="the seed used"),
)
PROGRESS_OUTPUTS = (
    T("step", "INT32", (1,), allowed="completed denoising steps"),
    T("total", "INT32", (1,), allowed="denoising steps of the request"),
    T("elapsed_s", "FP32", (1,), allowed="seconds since the request started"),
    T("stage", "BYTES", (1,), allowed="the stage running: a workflow's stage, or denoise"),
)

TXT2IMG = OrchestratorContract(
    "txt2img", "Text to image (StableDiffusionPipeline; with ControlNet inputs StableDiffusionControlNetPipeline).",
    TXT2IMG_INPUTS + CONTROLNET_INPUTS, GENERATION_OUTPUTS)
# The component models a txt2img request without ControlNet calls (what a txt2img-only server loads).
TXT2IMG_COMPONENTS = ("text_encoder", "unet", "vae_decoder")
IMG2IMG = OrchestratorContract(
    "img2img", "Image to image (StableDiffusionImg2ImgPipeline; with ControlNet StableDiffusionControlNetImg2ImgPipeline).",
    TXT2IMG_INPUTS + (IMAGE_INPUT, _strength("0.8")) + CONTROLNET_INPUTS, GENERATION_OUTPUTS)
INPAINT = OrchestratorContract(
    "inpaint", "Inpainting with 9-channel inpainting UNets or 4-channel UNets by latent blending "
               "(StableDiffusionInpaintPipeline; with ControlNet StableDiffusionControlNetInpaintPipeline).",
    TXT2IMG_INPUTS + (IMAGE_INPUT, MASK_INPUT, _strength("1.0")) + CONTROLNET_INPUTS, GENERATION_OUTPUTS)


# Photo workflows (DESIGN.md section 3): perception stages, then a conditioned generation, then compositing.
WORKFLOW_COMMON = tuple(spec for spec in TXT2IMG_INPUTS if spec.name not in ("height", "width"))
PHOTO_INPUT = T("image", "UINT8", (-1, -1, -1), "required", "RGB [H,W,3] or RGBA [H,W,4], up to 4096 px per side",
                optional=False)
RGB_PHOTO_INPUT = T("image", "UINT8", (-1, -1, 3), "required", "RGB [H,W,3], up to 4096 px per side", optional=False)
MAX_SIDE_INPUT = T("max_side", "INT32", (1,), "the model's native size",
                   "output keeps the photo's aspect ratio, longest side at most this (up to `--max-image-size`), "
                   "sides rounded down to the latent stride")
KEEP_MASK_DOC = "[H, W] 255 where the output is the input photo, bit for bit"

BACKGROUND_REPLACE = OrchestratorContract(
    "background_replace",
    "Product packshots: foreground mask -> depth -> ControlNet-depth inpainting of the background -> the "
    "original product composited back, bit-identical where the mask is 255.",
    WORKFLOW_COMMON + (
        PHOTO_INPUT,
        T("mask_image", "UINT8", (-1, -1), "foreground_mask (or the RGBA alpha)",
          "[H,W] like image, 255 = product to keep"),
        T("controlnet_conditioning_scale", "FP32", (1,), "1.0", "0..5"),
        T("mask_dilation", "INT32", (1,), "0", "0..64 px the repainted background reaches under the product edge"),
        T("mask_feather", "INT32", (1,), "0", "0..64 px of soft edge when the product is composited back"),
        MAX_SIDE_INPUT,
    ),
    GENERATION_OUTPUTS + (
        T("mask", "UINT8", (-1, -1), allowed=KEEP_MASK_DOC + " (the composite's alpha)"),
        T("depth", "UINT8", (-1, -1), allowed="[H, W] the depth image that conditioned the ControlNet"),
    ),
    runner="serving.workflows.background_replace:BackgroundReplace",
    requires=("foreground_mask", "depth_estimator", "controlnet_depth", "unet_controlnet", "vae_encoder"),
)

RESTYLE_ROOM = OrchestratorContract(
    "restyle_room",
    "Interiors: depth and ADE20K segmentation -> depth + segmentation MultiControlNet, as txt2img or (with "
    "strength) img2img; keep_classes stay the input photo, bit for bit.",
    WORKFLOW_COMMON + (
        RGB_PHOTO_INPUT,
        T("strength", "FP32", (1,), "absent: txt2img guided by the room's structure", "0..1: img2img from the photo"),
        T("depth_scale", "FP32", (1,), "1.0", "0..5, the depth ControlNet's conditioning scale"),
        T("seg_scale", "FP32", (1,), "1.0", "0..5, the segmentation ControlNet's conditioning scale"),
        T("keep_classes", "BYTES", (-1,), "none", "ADE20K class names kept from the photo, e.g. wall, window, floor"),
        MAX_SIDE_INPUT,
    ),
    GENERATION_OUTPUTS + (
        T("mask", "UINT8", (-1, -1), allowed=KEEP_MASK_DOC + " (0 everywhere without keep_classes)"),
        T("depth", "UINT8", (-1, -1), allowed="[H, W] the depth ControlNet's condition"),
        T("segmentation", "UINT8", (-1, -1, 3), allowed="[H, W, 3] the ADE20K colour map ControlNet-seg saw"),
    ),
    runner="serving.workflows.restyle_room:RestyleRoom",
    requires=("depth_estimator", "segmenter", "controlnet_depth", "controlnet_seg", "unet_controlnet"),
)

PRODUCT_ENHANCE = OrchestratorContract(
    "product_enhance",
    "Product photoshoots: repaint the product region (mask_image, dilated) with ControlNet depth; every pixel "
    "outside the dilated mask stays the input photo, bit for bit.",
    WORKFLOW_COMMON + (
        RGB_PHOTO_INPUT,
        T("mask_image", "UINT8", (-1, -1), "required", "[H,W] like image, >= 128 = the product region to enhance",
          optional=False),
        T("strength", "FP32", (1,), "0.6", "0..1, how far the product may change"),
        T("controlnet_conditioning_scale", "FP32", (1,), "1.0", "0..5"),
        T("mask_dilation", "INT32", (1,), "8", "0..64 px added around the product region"),
        MAX_SIDE_INPUT,
    ),
    GENERATION_OUTPUTS + (
        T("mask", "UINT8", (-1, -1), allowed="[H, W] 255 where the output was repainted (the dilated region); "
                                            "elsewhere the output is the input photo, bit for bit"),
        T("depth", "UINT8", (-1, -1), allowed="[H, W] the depth image that conditioned the ControlNet"),
    ),
    runner="serving.workflows.product_enhance:ProductEnhance",
    requires=("depth_estimator", "controlnet_depth", "unet_controlnet", "vae_encoder"),
)

MAX_FINDER_LABELS = 31  # clip_classify takes 32 labels; one is the implicit "background"
PRODUCT_FINDER = OrchestratorContract(
    "product_finder",
    "Product photoshoots: the objects of the given classes in a photo. `sam_automatic` proposals (Segment "
    "Anything's automatic masks on an n x n point grid, as transformers' pipeline(\"mask-generation\"): kept by "
    "predicted IoU and stability, overlaps removed by box NMS 0.7) -> each box crop classified by CLIP zero-shot "
    "over the labels plus \"background\" -> those whose best label is not background and whose probability "
    "reaches `threshold`. Nothing found is a valid answer (zero objects).",
    (
        PHOTO_INPUT,
        T("labels", "BYTES", (-1,), "required", f"1..{MAX_FINDER_LABELS} non-empty class names, e.g. handbag",
          optional=False),
        T("threshold", "FP32", (1,), "0.5", "0..1, the least CLIP probability of a found object"),
        T("points_per_side", "INT32", (1,), "6", "1..8: SAM's point grid is n x n (sam_automatic's points_per_crop)"),
        T("min_mask_score", "FP32", (1,), str(SAM_PRED_IOU_THRESH),
          "0..1, a mask is kept when SAM's predicted IoU is above this (sam_automatic's pred_iou_thresh; 0: no "
          "IoU filter)"),
        T("stability_score_thresh", "FP32", (1,), str(SAM_STABILITY_SCORE_THRESH),
          "0..1, and when its stability score is above this (0: no stability filter)"),
        T("max_objects", "INT32", (1,), "8", "1..64"),
    ),
    (
        T("labels", "BYTES", (-1,), allowed="[m] the class of each object found, by probability"),
        T("scores", "FP32", (-1,), allowed="[m] its CLIP probability"),
        T("masks", "UINT8", (-1, -1, -1), allowed="[m, H, W] 255 inside the object"),
        T("boxes", "FP32", (-1, 4), allowed="[m, 4] x1, y1, x2, y2 in pixels (inclusive)"),
    ),
    runner="serving.workflows.product_finder:ProductFinder",
    requires=("sam_automatic", "clip_classify"),
)

WORKFLOWS = (BACKGROUND_REPLACE, RESTYLE_ROOM, PRODUCT_ENHANCE)

GENERATION_CONTRACTS: dict[str, OrchestratorContract] = {
    **{contract.name: contract
       for base in (TXT2IMG, IMG2IMG, INPAINT, *WORKFLOWS)
       for contract in (base, base.streaming_twin())},
    PRODUCT_FINDER.name: PRODUCT_FINDER,  # no denoising steps to stream
}


def contract_table(contract: OrchestratorContract) -> str:
    """The README's Markdown table of a contract's inputs (-1 dims print as `-1`: any size)."""
    rows = ["| input | type | default | allowed |", "|---|---|---|---|"]
    for spec in contract.inputs:
        dims = ",".join(str(d) for d in spec.dims)
        rows.append(f"| `{spec.name}` | {spec.dtype} [{dims}] | {spec.default} | {spec.allowed} |")
    return "\n".join(rows)


def contracts_markdown() -> str:
    """The README's contract section body: one table per generation orchestrator (a test keeps them equal)."""
    parts = []
    for contract in GENERATION_CONTRACTS.values():
        if contract.decoupled:
            continue
        outputs = ", ".join(f"`{spec.name}` {spec.dtype} [{','.join(map(str, spec.dims))}]" for spec in contract.outputs)
        twin = f" (and `{contract.name}_stream`)" if f"{contract.name}_stream" in GENERATION_CONTRACTS else ""
        parts.append(f"#### `{contract.name}`{twin}\n\n{contract.summary}\n\n"
                     f"{contract_table(contract)}\n\nOutputs: {outputs}.")
    return "\n\n".join(parts)

"""Public contracts of the perception orchestrators, defined once.

`python -m export` writes each orchestrator's config.pbtxt from these; the orchestrators parse their
requests against them; the clients and the README tables use the same names. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_IMAGE_SIDE = 4096  # larger images are refused (the processors would resize them anyway)
MAX_CLIP_IMAGES = 16  # clip_score pairs per request (clip_image's max batch)
MAX_LABELS = 32  # clip_classify labels per request (half of clip_text's max batch)


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str  # Triton dtype without TYPE_
    dims: tuple[int, ...]
    doc: str = ""
    optional: bool = False


@dataclass(frozen=True)
class PerceptionContract:
    name: str
    summary: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    networks: tuple[str, ...]  # the component models it calls through BLS
    pipeline: str  # "module:Class" of the stages (imported in the Triton stub only)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)


IMAGE_DOC = f"RGB or RGBA (alpha ignored), 1..{MAX_IMAGE_SIDE} px per side"

CLIP_SCORE = PerceptionContract(
    name="clip_score",
    summary="CLIP image-text score per pair, as torchmetrics' CLIPScore: max(100 x cosine, 0).",
    inputs=(
        Tensor("image", "UINT8", (-1, -1, -1, -1), f"[n, H, W, 3|4], n = 1..{MAX_CLIP_IMAGES}; {IMAGE_DOC}"),
        Tensor("text", "BYTES", (-1,), "[n] captions, one per image; non-empty, at most 77 CLIP tokens"),
    ),
    outputs=(Tensor("score", "FP32", (-1,), "[n]"),),
    networks=("clip_text", "clip_image"),
    pipeline="serving.perception.clip:ClipScorePipeline",
)

CLIP_CLASSIFY = PerceptionContract(
    name="clip_classify",
    summary="Zero-shot classification, as transformers' pipeline('zero-shot-image-classification').",
    inputs=(
        Tensor("image", "UINT8", (-1, -1, -1), f"[H, W, 3|4]; {IMAGE_DOC}"),
        Tensor("labels", "BYTES", (-1,), f"[k] candidate labels, k = 1..{MAX_LABELS}, non-empty"),
        Tensor("hypothesis_template", "BYTES", (1,), 'default "This is a photo of {}."; must contain {}',
               optional=True),
    ),
    outputs=(Tensor("probs", "FP32", (-1,), "[k] softmax over the labels, in the order given"),),
    networks=("clip_text", "clip_image"),
    pipeline="serving.perception.clip:ClipClassifyPipeline",
)

DEPTH_ESTIMATOR = PerceptionContract(
    name="depth_estimator",
    summary="Monocular depth, as transformers' pipeline('depth-estimation') (DPT, Depth Anything).",
    inputs=(Tensor("image", "UINT8", (-1, -1, -1), f"[H, W, 3|4]; {IMAGE_DOC}"),),
    outputs=(
        Tensor("predicted_depth", "FP32", (-1, -1), "[h, w] the network's raw output at its input size"),
        Tensor("depth", "UINT8", (-1, -1), "[H, W] the pipeline's 'depth' image (min-max scaled to 0..255)"),
    ),
    networks=("depth_estimator_net",),
    pipeline="serving.perception.depth:DepthPipeline",
)

SEGMENTER = PerceptionContract(
    name="segmenter",
    summary="ADE20K semantic segmentation (UperNet/Segformer) with the image processor's post-processing.",
    inputs=(Tensor("image", "UINT8", (-1, -1, -1), f"[H, W, 3|4]; {IMAGE_DOC}"),),
    outputs=(
        Tensor("label_map", "INT32", (-1, -1), "[H, W] class ids (post_process_semantic_segmentation)"),
        Tensor("color_map", "UINT8", (-1, -1, 3), "[H, W, 3] ADE20K palette, the ControlNet-seg input"),
    ),
    networks=("segmenter_net",),
    pipeline="serving.perception.segmentation:SegmenterPipeline",
)

FOREGROUND_MASK = PerceptionContract(
    name="foreground_mask",
    summary="Salient-object mask of a product photo, as rembg.remove(image, only_mask=True) with the same ONNX file.",
    inputs=(Tensor("image", "UINT8", (-1, -1, -1),
                   f"[H, W, 3|4], 1..{MAX_IMAGE_SIDE} px per side; an RGBA alpha with any pixel below 255 is the mask"),),
    outputs=(Tensor("mask", "UINT8", (-1, -1), "[H, W] 255 = foreground"),),
    networks=("foreground_mask_net",),
    pipeline="serving.perception.foreground:ForegroundMaskPipeline",
)

MAX_SAM_PROMPTS = 64

SAM = PerceptionContract(
    name="sam",
    summary="Segment Anything (transformers SamModel): one image embedding per request, masks for many prompts.",
    inputs=(
        Tensor("image", "UINT8", (-1, -1, -1), f"[H, W, 3|4]; {IMAGE_DOC}"),
        Tensor("input_boxes", "FP32", (-1, 4), f"[P, 4] x1, y1, x2, y2 in pixels, inside the image; P = 1..{MAX_SAM_PROMPTS}",
               optional=True),
        Tensor("input_points", "FP32", (-1, -1, 2), "[P, N, 2] x, y in pixels, inside the image (with boxes: same P)",
               optional=True),
        Tensor("input_labels", "INT32", (-1, -1), "[P, N] 1 = foreground point, 0 = background; default 1",
               optional=True),
    ),
    outputs=(
        Tensor("masks", "UINT8", (-1, 3, -1, -1), "[P, 3, H, W] 1 = inside (post_process_masks, threshold 0)"),
        Tensor("iou_scores", "FP32", (-1, 3), "[P, 3] the model's predicted IoU per mask"),
    ),
    networks=("sam_image_encoder", "sam_mask_decoder"),
    pipeline="serving.perception.sam:SamPipeline",
)

# sam_automatic: transformers' MaskGenerationPipeline defaults, and bounds on the work one request may ask
# for (crops x grid points decoded; crop layer 2 would be 21 image embeddings per request).
SAM_POINTS_PER_CROP = (32, 1, 64)  # default, least, most
SAM_POINTS_PER_BATCH = (64, 1, 64)
SAM_CROPS_N_LAYERS = (0, 0, 1)
SAM_PRED_IOU_THRESH = 0.88
SAM_STABILITY_SCORE_THRESH = 0.95
SAM_CROPS_NMS_THRESH = 0.7

SAM_AUTOMATIC = PerceptionContract(
    name="sam_automatic",
    summary="Segment Anything automatic masks, as transformers' pipeline('mask-generation'): a point grid on "
            "the image (and on its crops), one image embedding per crop, the grid decoded in batches, masks "
            "kept by predicted IoU and stability, overlaps removed by box NMS.",
    inputs=(
        Tensor("image", "UINT8", (-1, -1, -1), f"[H, W, 3|4]; {IMAGE_DOC}"),
        Tensor("points_per_crop", "INT32", (1,),
               f"default {SAM_POINTS_PER_CROP[0]}: an n x n point grid per crop, n = "
               f"{SAM_POINTS_PER_CROP[1]}..{SAM_POINTS_PER_CROP[2]}", optional=True),
        Tensor("points_per_batch", "INT32", (1,),
               f"default {SAM_POINTS_PER_BATCH[0]}: grid points per mask-decoder call, "
               f"{SAM_POINTS_PER_BATCH[1]}..{SAM_POINTS_PER_BATCH[2]} (same masks, less memory)", optional=True),
        Tensor("pred_iou_thresh", "FP32", (1,),
               f"default {SAM_PRED_IOU_THRESH}, 0..1: a mask is kept when its predicted IoU is above", optional=True),
        Tensor("stability_score_thresh", "FP32", (1,),
               f"default {SAM_STABILITY_SCORE_THRESH}, 0..1: and its stability score (IoU of the mask "
               "binarised at +1 and -1) is above", optional=True),
        Tensor("crops_nms_thresh", "FP32", (1,),
               f"default {SAM_CROPS_NMS_THRESH}, 0..1: a mask whose box overlaps a better one's above this "
               "box IoU is dropped", optional=True),
        Tensor("crops_n_layers", "INT32", (1,),
               f"default {SAM_CROPS_N_LAYERS[0]}, {SAM_CROPS_N_LAYERS[1]}..{SAM_CROPS_N_LAYERS[2]}: layer 1 "
               "adds 2 x 2 overlapping crops (overlap 512/1500), each with its own grid", optional=True),
    ),
    outputs=(
        Tensor("masks", "UINT8", (-1, -1, -1), "[m, H, W] 1 = inside, best score first; m may be 0"),
        Tensor("scores", "FP32", (-1,), "[m] the model's predicted IoU per mask"),
        Tensor("bounding_boxes", "FP32", (-1, 4), "[m, 4] x1, y1, x2, y2: the mask's first and last "
                                                  "pixel column and row"),
    ),
    networks=("sam_image_encoder", "sam_mask_decoder"),
    pipeline="serving.perception.sam_automatic:SamAutomaticPipeline",
)

CONTRACTS: dict[str, PerceptionContract] = {
    c.name: c for c in (CLIP_SCORE, CLIP_CLASSIFY, DEPTH_ESTIMATOR, SEGMENTER, FOREGROUND_MASK, SAM, SAM_AUTOMATIC)
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # "3|4" inside a Markdown table cell


def _dims(dims: tuple[int, ...]) -> str:
    return ",".join(str(d) for d in dims)


def perception_contracts_markdown() -> str:
    """The README's perception contract section (a test keeps it equal to these specs)."""
    parts = []
    for contract in CONTRACTS.values():
        rows = ["| input | type | required | allowed |", "|---|---|---|---|"]
        rows += [f"| `{s.name}` | {s.dtype} [{_dims(s.dims)}] | {'no' if s.optional else 'yes'} | {_cell(s.doc)} |"
                 for s in contract.inputs]
        outputs = "; ".join(f"`{s.name}` {s.dtype} [{_dims(s.dims)}]: {_cell(s.doc)}" for s in contract.outputs)
        networks = ", ".join(f"`{n}`" for n in contract.networks)
        parts.append(f"#### `{contract.name}`\n\n{contract.summary} Calls {networks} through BLS.\n\n"
                     + "\n".join(rows) + f"\n\nOutputs: {outputs}.")
    return "\n\n".join(parts)

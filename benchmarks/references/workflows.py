"""The photo workflows run by hand, as users run them today: rembg, transformers and diffusers in-process on
the same weights, with the fitting, mask and compositing steps written out here (not imported from serving)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.references.conditioned import reference_images
from benchmarks.references.perception import depth_pipeline, segmentation_labels


def fit(image: np.ndarray, max_side: int, multiple: int) -> np.ndarray:
    """Aspect ratio kept, longest side <= max_side, sides rounded down to the multiple, Lanczos."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (int(width * scale) // multiple * multiple, int(height * scale) // multiple * multiple)
    pil = Image.fromarray(image)
    return image if pil.size == size else np.asarray(pil.resize(size, Image.Resampling.LANCZOS))


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    return mask if pixels == 0 else np.asarray(Image.fromarray(mask).filter(ImageFilter.MaxFilter(2 * pixels + 1)))


def soften(mask: np.ndarray, pixels: int) -> np.ndarray:
    return mask if pixels == 0 else np.minimum(mask, np.asarray(Image.fromarray(mask).filter(ImageFilter.GaussianBlur(pixels))))


def paste(original: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[None, :, :, None].astype(np.int64)
    return ((original[None].astype(np.int64) * a + generated.astype(np.int64) * (255 - a) + 127) // 255).astype(np.uint8)


def background_replace(weights, photo: np.ndarray, prompt: str, *, max_side: int, multiple: int,
                       dilation: int = 0, feather: int = 0, scale: float = 1.0, **options) -> dict[str, np.ndarray]:
    """The seed project's recipe: fit -> rembg mask -> DPT depth -> ControlNet-depth inpainting -> paste back."""
    from rembg import remove

    rgb = fit(photo, max_side, multiple)
    mask = np.asarray(remove(Image.fromarray(rgb), only_mask=True, session=weights["rembg"]))
    depth = depth_pipeline(weights["depth"], rgb)["depth"]
    images = reference_images(weights["base"], prompt, image=rgb, mask_image=grow(255 - mask, dilation),
                              controlnets=[weights["controlnets"]["depth"]], control_image=[np.stack([depth] * 3, -1)],
                              controlnet_conditioning_scale=[scale], height=rgb.shape[0], width=rgb.shape[1], **options)
    alpha = soften(mask, feather)
    return {"image": paste(rgb, images, alpha), "mask": alpha, "depth": depth, "fitted": rgb}


def restyle_room(weights, photo: np.ndarray, prompt: str, *, max_side: int, multiple: int, strength: float | None = None,
                 scales: tuple[float, float] = (1.0, 1.0), keep_ids: tuple[int, ...] = (), **options) -> dict[str, np.ndarray]:
    """Depth + ADE20K segmentation MultiControlNet (txt2img, img2img, or inpainting around kept classes)."""
    from serving.perception.ade20k import colorize

    rgb = fit(photo, max_side, multiple)
    depth = depth_pipeline(weights["depth"], rgb)["depth"]
    labels = segmentation_labels(weights["segmenter"], rgb)
    colors = colorize(labels.astype(np.int32))
    keep = (np.isin(labels, keep_ids) * 255).astype(np.uint8)
    kwargs = dict(options, controlnets=[weights["controlnets"]["depth"], weights["controlnets"]["seg"]],
                  control_image=[np.stack([depth] * 3, -1), colors], controlnet_conditioning_scale=list(scales),
                  height=rgb.shape[0], width=rgb.shape[1])
    if strength is not None:
        kwargs.update(image=rgb, strength=strength)
    if keep_ids:
        kwargs.update(image=rgb, mask_image=255 - keep)
    images = reference_images(weights["base"], prompt, **kwargs)
    return {"image": paste(rgb, images, keep), "mask": keep, "depth": depth, "segmentation": colors, "fitted": rgb}


def product_enhance(weights, photo: np.ndarray, mask: np.ndarray, prompt: str, *, max_side: int, multiple: int,
                    strength: float, dilation: int, scale: float = 1.0, **options) -> dict[str, np.ndarray]:
    """ControlNet-depth inpainting of the dilated product region, the rest pasted back."""
    rgb = fit(photo, max_side, multiple)
    region = grow(((fit(mask, max_side, multiple) >= 128) * 255).astype(np.uint8), dilation)
    depth = depth_pipeline(weights["depth"], rgb)["depth"]
    images = reference_images(weights["base"], prompt, image=rgb, mask_image=region, strength=strength,
                              controlnets=[weights["controlnets"]["depth"]], control_image=[np.stack([depth] * 3, -1)],
                              controlnet_conditioning_scale=[scale], height=rgb.shape[0], width=rgb.shape[1], **options)
    return {"image": paste(rgb, images, 255 - region), "mask": region, "depth": depth, "fitted": rgb}


def product_finder(sam_source, clip_source, image: np.ndarray, labels: list[str], *, points_per_side: int,
                   min_mask_score: float, stability_score_thresh: float, threshold: float) -> list[dict]:
    """pipeline("mask-generation") (SAM's automatic masks, NMS 0.7), its empty masks skipped, each mask's box crop
    through pipeline("zero-shot-image-classification") with "background" as the rejection class."""
    from transformers import pipeline

    from benchmarks.mask_generation import mask_generation_pipeline

    generated = mask_generation_pipeline(sam_source)(Image.fromarray(image), points_per_crop=points_per_side,
                                                     pred_iou_thresh=min_mask_score,
                                                     stability_score_thresh=stability_score_thresh)
    classifier = pipeline("zero-shot-image-classification", model=clip_source.model, tokenizer=clip_source.tokenizer,
                          image_processor=clip_source.image_processor)
    found = []
    for mask, box in zip(generated["masks"], generated["bounding_boxes"].tolist()):
        if not mask.any():  # kept by the pipeline when no filter is on: no object to crop
            continue
        x1, y1, x2, y2 = (int(v) for v in box)  # the mask's first and last pixel column and row
        crop = Image.fromarray(np.ascontiguousarray(image[y1:y2 + 1, x1:x2 + 1]))
        best = classifier(crop, candidate_labels=labels + ["background"])[0]
        if best["label"] != "background" and best["score"] >= threshold:
            found.append({"label": best["label"], "score": best["score"], "mask": mask, "box": (x1, y1, x2, y2)})
    return sorted(found, key=lambda f: -f["score"])

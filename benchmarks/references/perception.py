"""In-process references for the perception parity tests: the libraries users call today, on the same weights."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from benchmarks.perception import TorchmetricsClip
from export.perception.sources import PerceptionSource


def torchmetrics_clip_scores(source: PerceptionSource, images: np.ndarray, texts: list[str]) -> np.ndarray:
    """torchmetrics' clip_score for each (image, text) pair (it averages over a batch, so one pair per call)."""
    from torchmetrics.functional.multimodal import clip_score
    from transformers import CLIPProcessor

    processor = CLIPProcessor(image_processor=source.image_processor, tokenizer=source.tokenizer)
    model = TorchmetricsClip(source.model)
    scores = []
    for image, text in zip(images, texts):
        tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3].transpose(2, 0, 1)))
        with torch.no_grad():
            scores.append(float(clip_score(tensor, text, model_name_or_path=lambda: (model, processor))))
    return np.array(scores, dtype=np.float32)


def zero_shot_probs(source: PerceptionSource, image: np.ndarray, labels: list[str], **kwargs) -> np.ndarray:
    """transformers' pipeline("zero-shot-image-classification"), probabilities in the order of `labels`."""
    from transformers import pipeline

    classifier = pipeline("zero-shot-image-classification", model=source.model, tokenizer=source.tokenizer,
                          image_processor=source.image_processor)
    result = classifier(Image.fromarray(image), candidate_labels=labels, **kwargs)
    by_label = {item["label"]: item["score"] for item in result}
    return np.array([by_label[label] for label in labels], dtype=np.float32)


def depth_pipeline(source: PerceptionSource, image: np.ndarray) -> dict[str, np.ndarray]:
    """transformers' pipeline("depth-estimation"): the 'depth' image and the resized predicted depth."""
    from transformers import pipeline

    estimator = pipeline("depth-estimation", model=source.model, image_processor=source.image_processor)
    result = estimator(Image.fromarray(image))
    return {"depth": np.array(result["depth"]), "predicted_depth": result["predicted_depth"].numpy()}


def segmentation_labels(source: PerceptionSource, image: np.ndarray) -> np.ndarray:
    """The ControlNet-seg recipe: image processor -> model -> post_process_semantic_segmentation."""
    pil = Image.fromarray(image).convert("RGB")
    inputs = source.image_processor(images=pil, return_tensors="pt")
    with torch.no_grad():
        outputs = source.model(**inputs)
    return source.image_processor.post_process_semantic_segmentation(outputs, target_sizes=[pil.size[::-1]])[0].numpy()


def photo(height: int, width: int, seed: int, channels: int = 3) -> np.ndarray:
    """A smooth synthetic photo (gradients and a disc) rather than white noise, so resizing matters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(6 * x + rng.uniform(0, 6)), np.cos(5 * y + rng.uniform(0, 6)), x * y], axis=-1)
    disc = ((x - 0.5) ** 2 + (y - 0.4) ** 2 < 0.08)[..., None]
    image = (127.5 * (base + 1) * 0.8 + 40 * disc + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8)
    if channels == 4:
        alpha = np.full((height, width, 1), 255, np.uint8)
        image = np.concatenate([image, alpha], axis=-1)
    return image

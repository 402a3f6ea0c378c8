"""CLIP orchestrators: `clip_score` (torchmetrics' CLIPScore per pair) and `clip_classify`
(transformers' zero-shot-image-classification pipeline), both over the `clip_text` and `clip_image`
components. Text embeddings of repeated captions, labels and prompts come from a bounded LRU cache.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from serving.perception.contracts import MAX_CLIP_IMAGES, MAX_IMAGE_SIDE, MAX_LABELS
from serving.perception.inputs import Inputs, parse_image, parse_images, parse_optional_text, parse_texts
from serving.perception.stages import (
    TOKENIZER_DIR,
    load_image_processor,
    pixel_values,
    read_settings,
    to_rgb,
)
from serving.pipelines.errors import InvalidInputError
from serving.stage_types import ComponentCaller

DEFAULT_HYPOTHESIS_TEMPLATE = "This is a photo of {}."
TEXT_CACHE_SIZE = 4096


class TextEmbeddingCache:
    """Bounded LRU of text -> projected CLIP text embedding."""

    def __init__(self, capacity: int = TEXT_CACHE_SIZE) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, text: str) -> np.ndarray | None:
        value = self._items.get(text)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(text)
        self.hits += 1
        return value

    def put(self, text: str, embedding: np.ndarray) -> None:
        self._items[text] = embedding
        self._items.move_to_end(text)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class ClipEncoder:
    """Tokenizes, caches and calls the two CLIP towers; returns L2-normalised embeddings."""

    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        from transformers import AutoTokenizer

        settings = read_settings(assets)
        self.call = call
        self.max_length = int(settings["max_length"])
        self.logit_scale = float(settings["logit_scale"])
        self.tokenizer = AutoTokenizer.from_pretrained(Path(assets) / TOKENIZER_DIR)
        self.image_processor = load_image_processor(assets)
        self.cache = TextEmbeddingCache()

    def token_ids(self, texts: list[str], input_name: str) -> np.ndarray:
        ids = self.tokenizer(texts, padding=False, truncation=False)["input_ids"]
        for text, row in zip(texts, ids):
            if len(row) > self.max_length:
                raise InvalidInputError(input_name, f"{text[:40]!r}... is {len(row)} CLIP tokens; at most "
                                                    f"{self.max_length} including start and end")
        pad = self.tokenizer.pad_token_id
        padded = np.full((len(ids), self.max_length), pad, dtype=np.int64)
        for i, row in enumerate(ids):
            padded[i, : len(row)] = row
        return padded

    def text_embeddings(self, texts: list[str], input_name: str) -> np.ndarray:
        found = {text: self.cache.get(text) for text in dict.fromkeys(texts)}
        missing = [text for text, embedding in found.items() if embedding is None]
        if missing:
            ids = self.token_ids(missing, input_name)
            embeds = self.call("clip_text", {"input_ids": ids}, ["text_embeds"])["text_embeds"]
            for text, embedding in zip(missing, _normalise(embeds)):
                self.cache.put(text, embedding)
                found[text] = embedding
        return np.stack([found[text] for text in texts])

    def image_embeddings(self, images: np.ndarray) -> np.ndarray:
        pixels = pixel_values(self.image_processor, [to_rgb(image) for image in images])
        return _normalise(self.call("clip_image", {"pixel_values": pixels}, ["image_embeds"])["image_embeds"])


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class ClipScorePipeline:
    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        self.encoder = ClipEncoder(assets, call)

    def __call__(self, inputs: Inputs) -> dict[str, np.ndarray]:
        # 1. check inputs
        images = parse_images(inputs, "image", MAX_IMAGE_SIDE, MAX_CLIP_IMAGES)
        texts = parse_texts(inputs, "text", MAX_CLIP_IMAGES)
        if len(texts) != len(images):
            raise InvalidInputError("text", f"has {len(texts)} captions for {len(images)} images; give one per image")
        # 2. encode text (cached) and images, 3. score as torchmetrics: 100 x cosine, clamped at 0
        text = self.encoder.text_embeddings(texts, "text")
        image = self.encoder.image_embeddings(images)
        score = np.maximum(100.0 * np.sum(text * image, axis=-1), 0.0)
        return {"score": score.astype(np.float32)}


class ClipClassifyPipeline:
    def __init__(self, assets: Path, call: ComponentCaller) -> None:
        self.encoder = ClipEncoder(assets, call)

    def __call__(self, inputs: Inputs) -> dict[str, np.ndarray]:
        # 1. check inputs
        image = parse_image(inputs, "image", MAX_IMAGE_SIDE)
        labels = parse_texts(inputs, "labels", MAX_LABELS)
        template = parse_optional_text(inputs, "hypothesis_template", DEFAULT_HYPOTHESIS_TEMPLATE)
        if "{}" not in template:
            raise InvalidInputError("hypothesis_template", "must contain {} where the label goes")
        # 2. encode "template.format(label)" (cached) and the image, 3. softmax of scaled cosines (CLIP logits)
        text = self.encoder.text_embeddings([template.format(label) for label in labels], "labels")
        pixels = self.encoder.image_embeddings(image[None])
        logits = np.exp(self.encoder.logit_scale) * (pixels @ text.T)[0]
        logits = logits - logits.max()
        probs = np.exp(logits) / np.exp(logits).sum()
        return {"probs": probs.astype(np.float32)}

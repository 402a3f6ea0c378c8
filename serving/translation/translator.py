"""The `translate` orchestrator's runner: texts -> sentences that fit -> encoder once -> decoder steps (greedy or
beam search) -> detokenised translations, rejoined per text.

Every network runs in its component through BLS. Shapes are bucketed (source and past lengths rounded up to
`LENGTH_BUCKET`, with masks) so that decoding steps of concurrent requests have equal shapes and Triton's
dynamic batcher runs them as one `translator_decoder` execution, even when the requests are at different steps.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from serving.contracts import OrchestratorContract
from serving.perception.inputs import parse_texts
from serving.pipelines.errors import InvalidInputError
from serving.stage_types import ComponentCaller
from serving.translation.contracts import MAX_BEAMS, MAX_TEXTS
from serving.translation.search import beam_search, greedy_search
from serving.translation.segments import join_translations, split_text
from serving.translation.settings import TOKENIZER_DIR, TranslationSettings

log = logging.getLogger(__name__)

Inputs = Mapping[str, "np.ndarray | None"]
LENGTH_BUCKET = 16


def bucket(length: int) -> int:
    return max(LENGTH_BUCKET, -(-length // LENGTH_BUCKET) * LENGTH_BUCKET)


class DecoderState:
    """The rows' encoder outputs and self-attention cache; one `translator_decoder` call per step.

    The cache is [rows, layers, 2, heads, capacity, head_dim]; the past sent is padded to a bucketed length
    with `past_mask`, and each row's position is explicit, which is what lets steps of requests of different
    lengths share an execution."""

    def __init__(self, call: ComponentCaller, settings: TranslationSettings, hidden: np.ndarray,
                 mask: np.ndarray) -> None:
        self.call = call
        self.settings = settings
        self.hidden = hidden
        self.mask = mask
        self.length = 0  # past tokens, the same for every row
        self.cache = np.zeros((len(hidden), settings.layers, 2, settings.heads, LENGTH_BUCKET, settings.head_dim),
                              dtype=np.float32)

    def step(self, tokens: np.ndarray) -> np.ndarray:
        past = bucket(self.length)
        capacity = bucket(self.length + 1)  # room for this step's key/values too
        if capacity > self.cache.shape[4]:
            grown = np.zeros(self.cache.shape[:4] + (capacity, self.cache.shape[5]), dtype=np.float32)
            grown[:, :, :, :, : self.cache.shape[4]] = self.cache
            self.cache = grown
        rows = len(tokens)
        past_mask = np.broadcast_to(np.arange(past) < self.length, (rows, past)).astype(np.int64)
        logits, presents = [], []
        limit = self.settings.decoder_max_batch
        for start in range(0, rows, limit):  # a BLS request holds at most the decoder's max batch
            part = slice(start, start + limit)
            out = self.call(self.settings.decoder_model, {
                "input_ids": tokens[part, None].astype(np.int64),
                "position_ids": np.full((len(tokens[part]), 1), self.length, dtype=np.int64),
                "encoder_hidden_states": self.hidden[part],
                "encoder_attention_mask": self.mask[part],
                "past_key_values": self.cache[part, :, :, :, :past],
                "past_mask": past_mask[part],
            }, ["logits", "present_key_values"])
            logits.append(out["logits"])
            presents.append(out["present_key_values"])
        self.cache[:, :, :, :, self.length] = np.concatenate(presents)[:, :, :, :, 0]
        self.length += 1
        return np.concatenate(logits).astype(np.float32)

    def select(self, rows: np.ndarray) -> None:
        self.cache, self.hidden, self.mask = self.cache[rows], self.hidden[rows], self.mask[rows]


class Translator:
    def __init__(self, assets: Path, call: ComponentCaller, contract: OrchestratorContract) -> None:
        from transformers import MarianTokenizer  # needs sentencepiece

        self.call = call
        self.contract = contract
        self.settings = TranslationSettings.read(assets)
        self.tokenizer = MarianTokenizer.from_pretrained(Path(assets) / TOKENIZER_DIR)

    # 1. check inputs
    def parse(self, inputs: Inputs) -> tuple[list[str], int, int]:
        texts = parse_texts(inputs, "text", MAX_TEXTS)
        num_beams = _int(inputs, "num_beams", self.settings.num_beams, 1, MAX_BEAMS)
        most = self.settings.max_length - 1
        max_new_tokens = _int(inputs, "max_new_tokens", most, 1, most)
        return texts, num_beams, max_new_tokens

    def __call__(self, inputs: Inputs, is_cancelled: Callable[[], bool] = lambda: False) -> dict[str, np.ndarray]:
        texts, num_beams, max_new_tokens = self.parse(inputs)
        translations = self.translate(texts, num_beams, max_new_tokens, is_cancelled)
        return {"translation": np.array([t.encode("utf-8") for t in translations], dtype=np.object_)}

    def translate(self, texts: list[str], num_beams: int, max_new_tokens: int,
                  is_cancelled: Callable[[], bool] = lambda: False) -> list[str]:
        # 2. split texts that are too long into sentences
        pieces = [split_text(text, self.fits) for text in texts]
        sentences = [sentence for parts in pieces for sentence in parts]
        # 3. encode (once), 4. decode, 5. detokenise and rejoin
        hidden, mask = self.encode(sentences)
        max_length = max_new_tokens + 1  # generate's max_length counts the decoder start token
        if num_beams == 1:
            ids = greedy_search(DecoderState(self.call, self.settings, hidden, mask), len(sentences), max_length,
                                self.settings.search, is_cancelled)
        else:
            rows = np.repeat(np.arange(len(sentences)), num_beams)
            state = DecoderState(self.call, self.settings, hidden[rows], mask[rows])
            ids = beam_search(state, len(sentences), num_beams, max_length, self.settings.search, is_cancelled)
        decoded = iter(self.tokenizer.batch_decode(ids, skip_special_tokens=True))
        return [join_translations([next(decoded) for _ in parts]) for parts in pieces]

    def fits(self, text: str) -> bool:
        return len(self.tokenizer(text, verbose=False)["input_ids"]) <= self.settings.max_source_tokens

    def encode(self, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        batch = self.tokenizer(sentences, padding=True, truncation=True, return_tensors="np")
        ids, mask = batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)
        padded = bucket(ids.shape[1])  # equal shapes across requests batch in the decoder
        extra = padded - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, extra)), constant_values=self.tokenizer.pad_token_id)
        mask = np.pad(mask, ((0, 0), (0, extra)))
        hidden = []
        limit = self.settings.decoder_max_batch
        for start in range(0, len(ids), limit):
            out = self.call(self.settings.encoder_model, {"input_ids": ids[start : start + limit],
                                                          "attention_mask": mask[start : start + limit]},
                            ["last_hidden_state"])
            hidden.append(out["last_hidden_state"])
        return np.concatenate(hidden), mask


def _int(inputs: Inputs, name: str, default: int, low: int, high: int) -> int:
    value = inputs.get(name)
    if value is None:
        return default
    flat = np.asarray(value).reshape(-1)
    if flat.size != 1 or not np.issubdtype(flat.dtype, np.integer):
        raise InvalidInputError(name, f"must be one integer, got {flat.size} values of {flat.dtype}")
    number = int(flat[0])
    if not low <= number <= high:
        raise InvalidInputError(name, f"is {number}; allowed {low}..{high}")
    return number

"""Greedy and beam search over a decoder step, as transformers' `generate` does them (numpy, torch-free).

The search drives a `Decoder`: `step(last_tokens)` runs one decoding step for every row and returns
its logits; `select(rows)` keeps (and reorders, and repeats) rows of the decoder's state. Rows are
texts (greedy) or texts x beams, beams inner (beam search), as in `generate`. The scoring, the
logits processors the Marian generation configs use and the beam bookkeeping follow
transformers 5's `_sample` / `_beam_search` step for step, so the tokens are `generate`'s tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from serving.pipelines.errors import RequestCancelled

NEG = np.float32(-1.0e9)  # transformers' "impossible" score in beam search


class Decoder(Protocol):
    def step(self, tokens: np.ndarray) -> np.ndarray: ...

    def select(self, rows: np.ndarray) -> None: ...


@dataclass(frozen=True)
class SearchSettings:
    """The generation config fields the search honours (export refuses configs using others)."""

    decoder_start_token_id: int
    eos_token_id: int
    pad_token_id: int
    bad_token_ids: tuple[int, ...] = ()  # bad_words_ids of single tokens
    forced_eos_token_id: int | None = None
    renormalize_logits: bool = False
    length_penalty: float = 1.0
    early_stopping: bool | str = False


def log_softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return (shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))).astype(np.float32)


def process_logits(scores: np.ndarray, cur_len: int, max_length: int, settings: SearchSettings) -> np.ndarray:
    """NoBadWords, ForcedEOS, then LogitNormalization: `generate`'s processors for these fields, in its order."""
    scores = scores.copy()
    if settings.bad_token_ids:
        scores[:, list(settings.bad_token_ids)] = -np.inf
    if settings.forced_eos_token_id is not None and cur_len == max_length - 1:
        scores[:] = -np.inf
        scores[:, settings.forced_eos_token_id] = 0
    if settings.renormalize_logits:
        scores = log_softmax(scores)
    return scores


def greedy_search(decoder: Decoder, rows: int, max_length: int, settings: SearchSettings,
                  is_cancelled: Callable[[], bool] = lambda: False) -> list[list[int]]:
    """Token ids per row (after the decoder start token), as `generate(num_beams=1, do_sample=False)`.

    Finished rows are dropped from the decoder (they only produce padding in `generate`)."""
    sequences = [[] for _ in range(rows)]
    alive = np.arange(rows)
    tokens = np.full(rows, settings.decoder_start_token_id, dtype=np.int64)
    cur_len = 1
    while alive.size:
        _check(is_cancelled, cur_len)
        scores = process_logits(decoder.step(tokens), cur_len, max_length, settings)
        tokens = scores.argmax(axis=-1).astype(np.int64)
        for row, token in zip(alive, tokens):
            sequences[row].append(int(token))
        cur_len += 1
        running = tokens != settings.eos_token_id
        if cur_len >= max_length:
            break
        if not running.all():
            alive, tokens = alive[running], tokens[running]
            decoder.select(np.flatnonzero(running))
    return sequences


def _gather(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """values[b, indices[b, k], ...] for every b, k (transformers' `_gather_beams`)."""
    return np.take_along_axis(values, indices.reshape(indices.shape + (1,) * (values.ndim - 2)), axis=1)


def _topk(values: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-values, axis=-1, kind="stable")[:, :k]


def beam_search(decoder: Decoder, batch: int, num_beams: int, max_length: int, settings: SearchSettings,
                is_cancelled: Callable[[], bool] = lambda: False) -> list[list[int]]:
    """Token ids of each text's best beam (after the decoder start token), as `generate(num_beams=k)`.

    The decoder holds batch x num_beams rows. Port of transformers' vectorised `_beam_search` with one
    eos token: top 2k continuations, finished hypotheses scored sum(log p) / length ** length_penalty."""
    keep = 2 * num_beams
    top_num_beam_mask = np.arange(keep) < num_beams
    running_sequences = np.full((batch, num_beams, max_length), settings.pad_token_id, dtype=np.int64)
    running_sequences[:, :, 0] = settings.decoder_start_token_id
    sequences = running_sequences.copy()
    running_scores = np.zeros((batch, num_beams), dtype=np.float32)
    running_scores[:, 1:] = NEG
    beam_scores = np.full((batch, num_beams), NEG, dtype=np.float32)
    is_sent_finished = np.zeros((batch, num_beams), dtype=bool)
    heuristic_unsatisfied = np.ones((batch, 1), dtype=bool)
    running_beam_indices = np.full((batch, num_beams, max_length - 1), -1, dtype=np.int64)
    beam_indices = running_beam_indices.copy()
    length_penalty, early_stopping = settings.length_penalty, settings.early_stopping
    cur_len = 1
    while True:
        _check(is_cancelled, cur_len)
        logits = decoder.step(running_sequences[:, :, cur_len - 1].reshape(-1))
        log_probs = process_logits(log_softmax(logits), cur_len, max_length, settings)
        vocab = log_probs.shape[-1]
        log_probs = (log_probs.reshape(batch, num_beams, vocab) + running_scores[:, :, None]).reshape(batch, -1)

        # Top 2k continuations over all beams of a text.
        topk_indices = _topk(log_probs, keep)
        topk_log_probs = np.take_along_axis(log_probs, topk_indices, axis=1)
        source_beams = topk_indices // vocab
        topk_ids = topk_indices % vocab
        topk_sequences = _gather(running_sequences, source_beams)
        topk_sequences[:, :, cur_len] = topk_ids
        topk_beam_indices = _gather(running_beam_indices, source_beams)
        topk_beam_indices[:, :, cur_len - 1] = source_beams + np.arange(batch)[:, None] * num_beams
        hits = (topk_ids == settings.eos_token_id) | (cur_len + 1 >= max_length)

        # The k best unfinished continue.
        topk_running = (topk_log_probs + hits.astype(np.float32) * NEG).astype(np.float32)
        chosen = _topk(topk_running, num_beams)
        running_sequences = _gather(topk_sequences, chosen)
        running_scores = _gather(topk_running, chosen)
        running_beam_indices = _gather(topk_beam_indices, chosen)

        # Finished continuations among the top k join the hypotheses if they score better.
        just_finished = hits & top_num_beam_mask[None, :]
        finished_scores = (topk_log_probs / np.float32((cur_len + 1 - 1) ** length_penalty)).astype(np.float32)
        full = is_sent_finished.all(axis=-1, keepdims=True) & (early_stopping is True)
        finished_scores += full.astype(np.float32) * NEG
        finished_scores += (~heuristic_unsatisfied).astype(np.float32) * NEG
        finished_scores += (~just_finished).astype(np.float32) * NEG
        merged = _topk(np.concatenate([beam_scores, finished_scores], axis=1), num_beams)
        sequences = _gather(np.concatenate([sequences, topk_sequences], axis=1), merged)
        beam_scores = _gather(np.concatenate([beam_scores, finished_scores], axis=1), merged)
        beam_indices = _gather(np.concatenate([beam_indices, topk_beam_indices], axis=1), merged)
        is_sent_finished = _gather(np.concatenate([is_sent_finished, just_finished], axis=1), merged)

        decoder.select(running_beam_indices[:, :, cur_len - 1].reshape(-1))
        cur_len += 1
        if early_stopping == "never" and length_penalty > 0.0:
            best_length = max_length - 1
        else:
            best_length = cur_len - 1
        best_running = running_scores[:, :1] / np.float32(best_length ** length_penalty)
        worst_finished = np.where(is_sent_finished, beam_scores.min(axis=1, keepdims=True), NEG)
        heuristic_unsatisfied &= (best_running > worst_finished).any(axis=-1, keepdims=True)
        open_beam = not (is_sent_finished.all() and early_stopping is True)
        if not (heuristic_unsatisfied.any() and open_beam and not hits.all()):
            break
    lengths = (beam_indices[:, 0] >= 0).sum(axis=-1)
    return [sequences[b, 0, 1 : 1 + lengths[b]].tolist() for b in range(batch)]


def _check(is_cancelled: Callable[[], bool], cur_len: int) -> None:
    if is_cancelled():
        raise RequestCancelled(cur_len - 1, cur_len - 1)

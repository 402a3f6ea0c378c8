"""Greedy and beam search give `MarianMTModel.generate`'s tokens, token for token, on the same weights.

The decoder here runs the exported decoder step's torch module in process (through `DecoderState`, with
its bucketed, masked past): what differs from `generate` is the search code and the padded past."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from export.translation.repository import search_settings
from serving.translation.search import beam_search, greedy_search
from serving.translation.settings import TranslationSettings
from serving.translation.translator import DecoderState, Translator
from serving.translation.contracts import TRANSLATE


def reference_ids(source, texts: list[str], **options) -> list[list[int]]:
    """generate's tokens per text, without the start token and the padding after the end."""
    batch = source.tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        generated = source.model.generate(**batch, **options)
    pad = source.tokenizer.pad_token_id
    return [[int(t) for t in row[1:] if t != pad] for row in generated]


def searched_ids(source, assets, components, texts: list[str], num_beams: int, max_new_tokens: int,
                 settings: TranslationSettings | None = None) -> list[list[int]]:
    translator = Translator(assets, components, TRANSLATE)
    settings = settings or translator.settings
    hidden, mask = translator.encode(texts)
    if num_beams == 1:
        return greedy_search(DecoderState(components, settings, hidden, mask), len(texts), max_new_tokens + 1,
                             settings.search)
    rows = np.repeat(np.arange(len(texts)), num_beams)
    return beam_search(DecoderState(components, settings, hidden[rows], mask[rows]), len(texts), num_beams,
                       max_new_tokens + 1, settings.search)


@pytest.mark.parametrize("max_new_tokens", [6, 40])
def test_greedy_search_equals_generate_token_for_token(translation_source, translation_assets, components,
                                                       german_sentences, max_new_tokens):
    texts = german_sentences[:10]
    expected = reference_ids(translation_source, texts, num_beams=1, max_new_tokens=max_new_tokens)
    assert searched_ids(translation_source, translation_assets, components, texts, 1, max_new_tokens) == expected
    assert len({len(ids) for ids in expected}) > 1  # texts end at different steps (some by eos, some forced)


@pytest.mark.parametrize("num_beams,max_new_tokens", [(2, 40), (4, 6), (4, 40), (5, 24)])
def test_beam_search_equals_generate_token_for_token(translation_source, translation_assets, components,
                                                     german_sentences, num_beams, max_new_tokens):
    texts = german_sentences[:8]
    expected = reference_ids(translation_source, texts, num_beams=num_beams, max_new_tokens=max_new_tokens)
    greedy = reference_ids(translation_source, texts, num_beams=1, max_new_tokens=max_new_tokens)
    got = searched_ids(translation_source, translation_assets, components, texts, num_beams, max_new_tokens)
    assert got == expected
    assert expected != greedy  # beam search chose other tokens somewhere: the beams were exercised


@pytest.mark.parametrize("length_penalty,early_stopping", [(0.6, False), (2.0, True), (1.5, "never")])
def test_length_penalty_and_early_stopping_follow_the_generation_config(
        translation_source, translation_assets, components, german_sentences, length_penalty, early_stopping):
    texts = german_sentences[:6]
    config = copy.deepcopy(translation_source.generation_config)
    config.length_penalty, config.early_stopping = length_penalty, early_stopping
    batch = translation_source.tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        generated = translation_source.model.generate(**batch, generation_config=config, num_beams=3,
                                                      max_new_tokens=30)
    pad = translation_source.tokenizer.pad_token_id
    expected = [[int(t) for t in row[1:] if t != pad] for row in generated]
    settings = dataclasses.replace(Translator(translation_assets, components, TRANSLATE).settings,
                                   search=search_settings(config))
    assert searched_ids(translation_source, translation_assets, components, texts, 3, 30, settings) == expected

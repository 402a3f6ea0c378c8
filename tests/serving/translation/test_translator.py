"""The translate runner in process (components run by their torch modules): inputs checked by name, long texts
split and rejoined, and decoder shapes bucketed so that requests at different steps can share executions."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from serving.pipelines.errors import InvalidInputError
from serving.translation.contracts import MAX_BEAMS, MAX_TEXTS, TRANSLATE
from serving.translation.translator import LENGTH_BUCKET, Translator


def texts_input(texts: list[str]) -> np.ndarray:
    return np.array([t.encode("utf-8") for t in texts], dtype=np.object_)


def reference(source, texts: list[str], **options) -> list[str]:
    batch = source.tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        return source.tokenizer.batch_decode(source.model.generate(**batch, **options), skip_special_tokens=True)


@pytest.mark.parametrize("inputs,name,reason", [
    ({"text": texts_input([])}, "text", f"allowed 1..{MAX_TEXTS}"),
    ({"text": texts_input(["Hallo", "  "])}, "text", "non-empty"),
    ({}, "text", "is required"),
    ({"text": texts_input(["Hallo"]), "num_beams": np.array([0], np.int32)}, "num_beams", f"allowed 1..{MAX_BEAMS}"),
    ({"text": texts_input(["Hallo"]), "num_beams": np.array([MAX_BEAMS + 1], np.int32)}, "num_beams", "allowed"),
    ({"text": texts_input(["Hallo"]), "max_new_tokens": np.array([0], np.int32)}, "max_new_tokens", "allowed 1.."),
    ({"text": texts_input(["Hallo"]), "max_new_tokens": np.array([10_000], np.int32)}, "max_new_tokens", "allowed"),
    ({"text": texts_input(["Hallo"]), "num_beams": np.array([2.5], np.float32)}, "num_beams", "one integer"),
])
def test_bad_input_is_an_error_naming_the_input(translation_assets, components, inputs, name, reason):
    translator = Translator(translation_assets, components, TRANSLATE)
    with pytest.raises(InvalidInputError) as raised:
        translator(inputs)
    assert raised.value.input_name == name and reason in raised.value.reason
    assert components.calls == []  # refused before any network ran


def test_defaults_come_from_the_generation_config(translation_source, translation_assets, components, german_sentences):
    translator = Translator(translation_assets, components, TRANSLATE)
    config = translation_source.generation_config
    assert translator.parse({"text": texts_input(["Hallo"])})[1:] == (config.num_beams, config.max_length - 1)
    texts = german_sentences[:3]
    got = translator({"text": texts_input(texts)})["translation"]
    assert [t.decode() for t in got] == reference(translation_source, texts)  # generate with no options


def test_a_text_longer_than_the_maximum_is_translated_sentence_by_sentence(
        translation_source, translation_assets, components):
    from export.translation.sources import corpus

    tokenizer = translation_source.tokenizer
    long_text = next(t for t in corpus("de") if len(tokenizer(t)["input_ids"]) > tokenizer.model_max_length)
    translator = Translator(translation_assets, components, TRANSLATE)
    sentences = [s for s in re.split(r"(?<=[.!?;:])\s+", long_text) if s]
    assert all(translator.fits(s) for s in sentences)
    got = translator({"text": texts_input([long_text, "Farbe: Blau."]), "num_beams": np.array([1], np.int32),
                      "max_new_tokens": np.array([8], np.int32)})["translation"]
    per_sentence = reference(translation_source, sentences, num_beams=1, max_new_tokens=8)
    assert got[0].decode() == " ".join(t.strip() for t in per_sentence if t.strip())
    assert got[1].decode() == reference(translation_source, ["Farbe: Blau."], num_beams=1, max_new_tokens=8)[0]
    encoder_batches = [shapes["input_ids"][0] for model, shapes in components.calls if model == "translator_encoder"]
    assert encoder_batches == [len(sentences) + 1]  # every sentence of every text encoded in one call


def test_decoder_shapes_are_bucketed(translation_assets, components, german_sentences):
    """Source and past lengths are rounded up to LENGTH_BUCKET: steps 0..16 of any request whose source has
    at most 16 tokens send identical shapes, so Triton may batch them across requests."""
    translator = Translator(translation_assets, components, TRANSLATE)
    translator.translate(german_sentences[:2], num_beams=2, max_new_tokens=20)
    steps = [shapes for model, shapes in components.calls if model == "translator_decoder"]
    assert steps, "the decoder never ran"
    for index, shapes in enumerate(steps):
        assert shapes["encoder_hidden_states"][1] % LENGTH_BUCKET == 0
        assert shapes["past_key_values"][4] == max(LENGTH_BUCKET, -(-index // LENGTH_BUCKET) * LENGTH_BUCKET)
        assert shapes["past_mask"] == (shapes["input_ids"][0], shapes["past_key_values"][4])

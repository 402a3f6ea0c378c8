"""The translator's sources: the tiny preset (random MarianMT + MarianTokenizer trained on the shipped texts,
identical on every build) and `from_pretrained` on a `save_pretrained` directory; unsupported generation
configs are refused at export."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from export.translation.repository import search_settings, translation_settings
from export.translation.sources import corpus, pretrained_translation_source, tiny_translation_source


@pytest.fixture(scope="module")
def tiny():
    return tiny_translation_source()


def test_tiny_builds_are_identical(tiny):
    again = tiny_translation_source()
    assert again.tokenizer.get_vocab() == tiny.tokenizer.get_vocab()
    state, other = tiny.model.state_dict(), again.model.state_dict()
    assert state.keys() == other.keys() and all(torch.equal(state[k], other[k]) for k in state)


def test_tiny_tokenizer_covers_the_shipped_german_text(tiny):
    tokenizer = tiny.tokenizer
    text = corpus("de")[0]
    ids = tokenizer(text)["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.unk_token_id not in ids
    assert tokenizer.convert_tokens_to_string(tokenizer.tokenize(text)) == text
    assert tokenizer.pad_token_id == len(tokenizer) - 1 and tokenizer.eos_token_id == 0  # opus-mt's layout


def test_from_pretrained_loads_a_save_pretrained_directory(tiny, tmp_path):
    tiny.save_pretrained(tmp_path)
    loaded = pretrained_translation_source(str(tmp_path))
    texts = corpus("de")[1:3]
    outputs = []
    for source in (tiny, loaded):
        batch = source.tokenizer(texts, return_tensors="pt", padding=True, truncation=True)
        with torch.inference_mode():
            outputs.append(source.model.generate(**batch, max_new_tokens=10).tolist())
    assert outputs[0] == outputs[1]
    assert translation_settings(loaded) == dataclasses.replace(translation_settings(tiny), source=str(tmp_path))


@pytest.mark.parametrize("field,value", [("repetition_penalty", 1.3), ("no_repeat_ngram_size", 3),
                                         ("do_sample", True), ("min_length", 5)])
def test_generation_configs_the_search_does_not_implement_are_refused(tiny, field, value):
    config = copy.deepcopy(tiny.generation_config)
    setattr(config, field, value)
    with pytest.raises(ValueError, match=field):
        search_settings(config)

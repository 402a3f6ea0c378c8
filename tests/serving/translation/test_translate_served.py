"""translate on the session tritonserver: token for token `MarianMTModel.generate` (greedy and beam search,
several texts per request), bad input answered as an error naming the input, and concurrent requests sharing
`translator_decoder` executions (Triton's statistics) without changing a token."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from clients.translate_client import TranslateClient
from clients.triton_client import TritonInferenceError
from tests.serving.model_statistics import settled_counts

log = logging.getLogger(__name__)


def reference(source, texts: list[str], **options) -> list[str]:
    batch = source.tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        return source.tokenizer.batch_decode(source.model.generate(**batch, **options), skip_special_tokens=True)


@pytest.fixture
def client(triton_server):
    client = TranslateClient(triton_server.grpc_url)
    yield client
    client.close()


@pytest.mark.parametrize("num_beams,max_new_tokens", [(1, 40), (4, 40), (3, 12)])
def test_served_translations_equal_generate(client, translation_source, german_sentences, num_beams, max_new_tokens):
    texts = german_sentences[:6]
    expected = reference(translation_source, texts, num_beams=num_beams, max_new_tokens=max_new_tokens)
    assert client.translate(texts, num_beams=num_beams, max_new_tokens=max_new_tokens) == expected


def test_served_defaults_and_http_equal_generate(triton_server, translation_source, german_sentences):
    http = TranslateClient(triton_server.http_url, protocol="http")
    try:
        assert http.translate(german_sentences[:2]) == reference(translation_source, german_sentences[:2])
    finally:
        http.close()


@pytest.mark.parametrize("options,name", [
    (dict(texts=[]), "text"),
    (dict(texts=["Hallo", ""]), "text"),
    (dict(texts=["Hallo"], num_beams=0), "num_beams"),
    (dict(texts=["Hallo"], num_beams=99), "num_beams"),
    (dict(texts=["Hallo"], max_new_tokens=0), "max_new_tokens"),
])
def test_bad_input_is_an_inference_error_naming_the_input(client, options, name):
    texts = options.pop("texts")
    with pytest.raises(TritonInferenceError, match=f"invalid input '{name}'"):
        client.translate(texts, **options)
    assert client.translate(["Farbe: Blau."], num_beams=1, max_new_tokens=4) is not None  # still serving


def test_concurrent_translations_share_decoder_executions(triton_server, client, translation_source,
                                                          german_sentences):
    """Four requests at once, each one sentence whose translation runs the whole max_new_tokens (so the four
    decode side by side), share decoder executions; every answer is still its own generate's."""
    options = dict(num_beams=2, max_new_tokens=24)
    short = [s for s in german_sentences if len(translation_source.tokenizer(s)["input_ids"]) <= 16]
    generated = {text: reference(translation_source, [text], **options) for text in short}
    texts = [text for text in short if len(translation_source.tokenizer(generated[text][0])["input_ids"]) > 12][:4]
    assert len(texts) == 4
    expected = [generated[text] for text in texts]
    barrier = threading.Barrier(len(texts))

    def translate(text: str) -> list[str]:
        own = TranslateClient(triton_server.grpc_url)
        try:
            barrier.wait(timeout=30)
            return own.translate([text], **options)
        finally:
            own.close()

    before = settled_counts(client, "translator_decoder")
    with ThreadPoolExecutor(len(texts)) as pool:
        results = list(pool.map(translate, texts))
    after = settled_counts(client, "translator_decoder")
    counted = after - before
    requests, executions = counted.requests, counted.executions
    log.info("translator_decoder: %d requests in %d executions at concurrency 4", requests, executions)
    assert results == expected
    assert executions < requests, f"{requests} decoder requests ran in {executions} executions: no step was shared"

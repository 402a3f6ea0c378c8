"""clip_score equals torchmetrics' CLIPScore and clip_classify equals transformers' zero-shot pipeline
on the same tiny CLIP weights (within 1e-3), served by a real tritonserver (onnxruntime components)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from clients.perception_client import PerceptionClient
from export.perception.sources import clip_tiny
from benchmarks.references.perception import photo, torchmetrics_clip_scores, zero_shot_probs

log = logging.getLogger(__name__)

# With the tiny random weights "an oak dining table" scores about 20 and the others clamp to 0: both paths are checked.
CAPTIONS = ["an oak dining table", "a red velvet armchair", "a wristwatch"]
LABELS = ["sofa", "lamp", "shoe", "handbag", "wristwatch"]


@pytest.fixture(scope="module")
def clip_source():
    return clip_tiny()


@pytest.fixture(scope="module")
def client(perception_server):
    client = PerceptionClient(perception_server.grpc_url)
    yield client
    client.close()


@pytest.mark.parametrize(("height", "width"), [(48, 64), (32, 32), (120, 90)])
def test_clip_score_matches_torchmetrics(client, clip_source, height, width):
    images = np.stack([photo(height, width, seed) for seed in range(len(CAPTIONS))])
    served = client.clip_score(images, CAPTIONS)
    expected = torchmetrics_clip_scores(clip_source, images, CAPTIONS)
    log.info("clip_score %dx%d: served %s, torchmetrics %s, max diff %.2e", width, height, served, expected,
             np.abs(served - expected).max())
    assert served.shape == (len(CAPTIONS),)
    np.testing.assert_allclose(served, expected, atol=1e-3, rtol=0)
    assert (served > 0).any(), "every score clamped to 0 proves nothing; pick other captions"


@pytest.mark.parametrize("template", [None, "a product photo of a {}"])
def test_clip_classify_matches_zero_shot_pipeline(client, clip_source, template):
    image = photo(72, 56, seed=7)
    served = client.clip_classify(image, LABELS, hypothesis_template=template)
    kwargs = {} if template is None else {"hypothesis_template": template}
    expected = zero_shot_probs(clip_source, image, LABELS, **kwargs)
    log.info("clip_classify template=%r: max diff %.2e", template, np.abs(served - expected).max())
    np.testing.assert_allclose(served, expected, atol=1e-3, rtol=0)
    assert served.sum() == pytest.approx(1.0, abs=1e-5)


def test_rgba_is_classified_as_its_rgb(client):
    image = photo(40, 40, seed=3, channels=4)
    image[..., 3] = 17  # alpha is dropped, as transformers' load_image does
    np.testing.assert_allclose(client.clip_classify(image, LABELS), client.clip_classify(image[..., :3], LABELS),
                               atol=1e-6)


def test_repeated_labels_hit_the_text_cache(client):
    # Each orchestrator instance has its own LRU: the second call of each model reaches no clip_text.
    labels = ["cache probe chair", "cache probe table"]
    client.clip_classify(photo(32, 32, seed=1), labels)
    client.clip_score(photo(32, 32, seed=1)[None], ["cache probe caption"])
    before = int(client.model_statistics("clip_text")["inference_count"])
    client.clip_classify(photo(32, 32, seed=2), list(reversed(labels)))
    client.clip_score(photo(32, 32, seed=2)[None], ["cache probe caption"])
    assert int(client.model_statistics("clip_text")["inference_count"]) == before
    client.clip_classify(photo(32, 32, seed=2), ["cache probe lamp"])
    assert int(client.model_statistics("clip_text")["inference_count"]) == before + 1

"""depth_estimator equals transformers' pipeline("depth-estimation") (max diff <= 1 on `depth`) and segmenter
gives the labels of the image processor's post_process_semantic_segmentation, on the same tiny weights."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from clients.perception_client import PerceptionClient
from export.perception.sources import depth_tiny, segmenter_tiny
from serving.perception.ade20k import ADE20K_PALETTE
from benchmarks.references.perception import depth_pipeline, photo, segmentation_labels

log = logging.getLogger(__name__)

SIZES = [(64, 64), (48, 80), (123, 77)]


@pytest.fixture(scope="module")
def client(perception_server):
    client = PerceptionClient(perception_server.grpc_url)
    yield client
    client.close()


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_depth_matches_transformers_pipeline(client, height, width):
    image = photo(height, width, seed=height)
    served = client.infer("depth_estimator", image=image)
    expected = depth_pipeline(depth_tiny(), image)
    difference = int(np.abs(served["depth"].astype(int) - expected["depth"].astype(int)).max())
    log.info("depth %dx%d: max |served - pipeline| = %d", width, height, difference)
    assert served["depth"].shape == (height, width) and served["depth"].dtype == np.uint8
    assert served["predicted_depth"].shape == (64, 64)  # the network's input size (tiny DPT)
    assert difference <= 1
    assert served["depth"].min() == 0 and served["depth"].max() >= 254  # min-max scaled like the pipeline


def test_one_pixel_depth_is_black(client):
    # The pipeline itself fails here (0 / 0 on a constant map, then a 0-d array); the served model answers.
    served = client.infer("depth_estimator", image=photo(1, 1, seed=0))
    assert served["depth"].tolist() == [[0]]


@pytest.mark.parametrize(("height", "width"), [*SIZES, (1, 1)])
def test_segmenter_labels_equal_post_process(client, height, width):
    image = photo(height, width, seed=width)
    served = client.infer("segmenter", image=image)
    expected = segmentation_labels(segmenter_tiny(), image)
    mismatched = int((served["label_map"] != expected).sum())
    log.info("segmenter %dx%d: %d of %d labels differ, %d classes", width, height, mismatched, expected.size,
             len(np.unique(expected)))
    assert served["label_map"].shape == (height, width) and served["label_map"].dtype == np.int32
    assert mismatched == 0
    np.testing.assert_array_equal(served["color_map"], ADE20K_PALETTE[served["label_map"]])


def test_ade20k_palette_is_controlnet_seg_table():
    assert ADE20K_PALETTE.shape == (150, 3)
    assert ADE20K_PALETTE[0].tolist() == [120, 120, 120]  # wall
    assert ADE20K_PALETTE[149].tolist() == [92, 0, 255]  # flag
    assert len({tuple(c) for c in ADE20K_PALETTE.tolist()}) == 149  # road (6) and skyscraper (48) share (140, 140, 140)

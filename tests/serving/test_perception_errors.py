"""Bad perception inputs are inference errors naming the input; the server keeps serving."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from clients.perception_client import PerceptionClient
from clients.triton_client import TritonInferenceError
from benchmarks.references.perception import photo

GOOD = photo(16, 16, seed=0)
LONG = " ".join(["walnut"] * 90)
BAD = [
    # (model, inputs, input named, words the message must contain)
    ("clip_score", dict(image=np.zeros((1, 8, 8, 2), np.uint8), text=["a"]), "image", "RGB or RGBA"),
    ("clip_score", dict(image=np.zeros((1, 0, 8, 3), np.uint8), text=["a"]), "image", "empty"),
    ("clip_score", dict(image=np.zeros((1, 4097, 1, 3), np.uint8), text=["a"]), "image", "at most 4096"),
    ("clip_score", dict(image=np.zeros((17, 2, 2, 3), np.uint8), text=["a"] * 17), "image", "1..16"),
    ("clip_score", dict(image=GOOD[None], text=["a", "b"]), "text", "one per image"),
    ("clip_score", dict(image=GOOD[None], text=["  "]), "text", "non-empty"),
    ("clip_score", dict(image=GOOD[None], text=[LONG]), "text", "at most 77"),
    ("clip_score", dict(image=GOOD[None], text=[b"\xff\xfe"]), "text", "UTF-8"),
    ("clip_classify", dict(image=GOOD, labels=[]), "labels", "1..32"),
    ("clip_classify", dict(image=GOOD, labels=[f"l{i}" for i in range(33)]), "labels", "1..32"),
    ("clip_classify", dict(image=GOOD, labels=["a", LONG]), "labels", "at most 77"),
    ("clip_classify", dict(image=GOOD, labels=["a"], hypothesis_template="a photo"), "hypothesis_template", "{}"),
    ("clip_classify", dict(image=GOOD[..., :1], labels=["a"]), "image", "RGB or RGBA"),
    ("depth_estimator", dict(image=np.zeros((8, 8, 1), np.uint8)), "image", "RGB or RGBA"),
    ("depth_estimator", dict(image=np.zeros((0, 8, 3), np.uint8)), "image", "empty"),
    ("segmenter", dict(image=np.zeros((8, 8, 5), np.uint8)), "image", "RGB or RGBA"),
    ("segmenter", dict(image=np.zeros((5000, 1, 3), np.uint8)), "image", "at most 4096"),
    ("foreground_mask", dict(image=np.zeros((8, 8, 2), np.uint8)), "image", "RGB or RGBA"),
    ("foreground_mask", dict(image=np.zeros((8, 0, 4), np.uint8)), "image", "empty"),
    ("sam", dict(image=GOOD), "input_points", "input_boxes"),
    ("sam", dict(image=GOOD, input_boxes=np.array([[0, 0, 17, 8]], np.float32)), "input_boxes", "inside the 16 x 16"),
    ("sam", dict(image=GOOD, input_boxes=np.array([[9, 9, 2, 2]], np.float32)), "input_boxes", "x1 <= x2"),
    ("sam", dict(image=GOOD, input_points=np.array([[[-1, 3]]], np.float32)), "input_points", "inside"),
    ("sam", dict(image=GOOD, input_points=np.array([[[1, 3]]], np.float32), input_labels=np.array([[2]], np.int32)),
     "input_labels", "0 or 1"),
    ("sam", dict(image=GOOD, input_points=np.array([[[1, 3]]] * 2, np.float32),
                 input_boxes=np.array([[0, 0, 4, 4]], np.float32)), "input_points", "one per box"),
    ("sam_automatic", dict(image=GOOD[..., :2]), "image", "RGB or RGBA"),
    ("sam_automatic", dict(image=GOOD, points_per_crop=np.array([0], np.int32)), "points_per_crop", "[1, 64]"),
    ("sam_automatic", dict(image=GOOD, points_per_crop=np.array([65], np.int32)), "points_per_crop", "[1, 64]"),
    ("sam_automatic", dict(image=GOOD, points_per_batch=np.array([65], np.int32)), "points_per_batch", "[1, 64]"),
    ("sam_automatic", dict(image=GOOD, pred_iou_thresh=np.array([1.5], np.float32)), "pred_iou_thresh", "[0, 1]"),
    ("sam_automatic", dict(image=GOOD, stability_score_thresh=np.array([np.nan], np.float32)),
     "stability_score_thresh", "[0, 1]"),
    ("sam_automatic", dict(image=GOOD, crops_nms_thresh=np.array([-0.1], np.float32)), "crops_nms_thresh", "[0, 1]"),
    ("sam_automatic", dict(image=GOOD, crops_n_layers=np.array([2], np.int32)), "crops_n_layers", "[0, 1]"),
]
GOOD_REQUESTS = {
    "clip_score": dict(image=GOOD[None], text=["a chair"]),
    "clip_classify": dict(image=GOOD, labels=["chair", "lamp"]),
    "depth_estimator": dict(image=GOOD),
    "segmenter": dict(image=GOOD),
    "foreground_mask": dict(image=GOOD),
    "sam": dict(image=GOOD, input_boxes=np.array([[2, 2, 12, 12]], np.float32)),
    "sam_automatic": dict(image=GOOD, points_per_crop=np.array([2], np.int32)),
}


@pytest.fixture(scope="module")
def client(perception_server):
    client = PerceptionClient(perception_server.grpc_url)
    yield client
    client.close()


@pytest.mark.parametrize(("model", "inputs", "name", "expected"), BAD,
                         ids=[f"{m}-{n}-{i}" for i, (m, _, n, _) in enumerate(BAD)])
def test_bad_input_is_named_and_the_next_request_succeeds(client, model, inputs, name, expected):
    with pytest.raises(TritonInferenceError) as raised:
        client.infer(model, **inputs)
    message = str(raised.value)
    assert f"'{name}'" in message and expected in message, message
    assert client.infer(model, **GOOD_REQUESTS[model])


def test_not_pixels_is_refused_by_the_contract(perception_server):
    from tritonclient.utils import InferenceServerException

    raw = grpcclient.InferenceServerClient(perception_server.grpc_url)
    tensor = grpcclient.InferInput("image", [4, 4, 3], "FP32")
    tensor.set_data_from_numpy(np.zeros((4, 4, 3), np.float32))
    try:
        with pytest.raises(InferenceServerException, match="image"):
            raw.infer("depth_estimator", [tensor])
    finally:
        raw.close()

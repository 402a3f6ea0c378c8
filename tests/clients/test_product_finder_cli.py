"""`python -m clients product-finder` against the session's tritonserver: the objects printed as JSON equal
product_finder's answer, each mask written into --out-dir; nothing found prints an empty list; a refused
input exits 2 naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clients.cli import main
from clients.triton_client import TritonGenerationClient
from tests.gateway.conftest import sample_image

PHOTO = sample_image(40, 56, seed=8)
OPTIONS = ["--threshold", "0", "--min-mask-score", "0", "--stability-score-thresh", "0", "--points-per-side", "3"]


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("finder") / "photo.png"
    Image.fromarray(PHOTO).save(path)
    return path


def _run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["product-finder", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_prints_the_objects_and_writes_their_masks(triton_server, photo_file, tmp_path, capsys) -> None:
    out_dir = tmp_path / "found"
    code, printed, _ = _run(capsys, "--url", triton_server.grpc_url, "--image", str(photo_file), "--label", "handbag",
                            "--label", "sneaker", *OPTIONS, "--out-dir", str(out_dir))
    assert code == 0
    client = TritonGenerationClient(triton_server.grpc_url, model_name="product_finder")
    try:
        served = client.infer(image=PHOTO, labels=["handbag", "sneaker"], threshold=0.0, min_mask_score=0.0,
                              stability_score_thresh=0.0, points_per_side=3)
    finally:
        client.close()
    objects = printed["objects"]
    assert (printed["width"], printed["height"]) == (56, 40) and len(objects) == len(served["labels"]) > 0
    for rank, (found, label, score, box, mask) in enumerate(zip(objects, served["labels"], served["scores"],
                                                                served["boxes"], served["masks"])):
        assert found["label"] == label.decode() and abs(found["score"] - float(score)) < 1e-6
        assert found["box"] == [int(v) for v in box]
        path = Path(found["mask"])
        assert path == out_dir / f"{rank}-{label.decode()}.png"
        np.testing.assert_array_equal(np.asarray(Image.open(path)), mask)
    assert len(list(out_dir.iterdir())) == len(objects)


def test_nothing_found_prints_an_empty_list_and_writes_nothing(triton_server, photo_file, tmp_path, capsys) -> None:
    code, printed, _ = _run(capsys, "--url", triton_server.grpc_url, "--image", str(photo_file), "--label", "handbag",
                            "--threshold", "1", "--points-per-side", "2", "--out-dir", str(tmp_path / "none"))
    assert code == 0 and printed == {"objects": [], "width": 56, "height": 40}
    assert not (tmp_path / "none").exists()


def test_a_refused_label_exits_2_naming_the_field(triton_server, photo_file, tmp_path, capsys, caplog) -> None:
    code, printed, _ = _run(capsys, "--url", triton_server.grpc_url, "--image", str(photo_file), "--label", "bag",
                            "--label", "background", "--out-dir", str(tmp_path / "x"))
    assert code == 2 and printed is None
    assert "'labels'" in caplog.text and "implicit" in caplog.text  # logged (stderr when run as a command)
    assert not (tmp_path / "x").exists()


def test_label_is_required() -> None:
    with pytest.raises(SystemExit):
        main(["product-finder", "--image", "photo.png"])

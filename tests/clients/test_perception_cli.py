"""`python -m clients depth|segment|foreground-mask|sam|sam-automatic|clip-score|clip-classify` against the
perception server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from clients.cli import main
from clients.perception_client import PerceptionClient
from benchmarks.references.perception import photo


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "room.png"
    Image.fromarray(photo(40, 56, seed=9)).save(path)
    return path


@pytest.mark.parametrize(("command", "model", "output"), [("depth", "depth_estimator", "depth"),
                                                          ("segment", "segmenter", "color_map"),
                                                          ("foreground-mask", "foreground_mask", "mask")])
def test_map_commands_write_the_models_output(perception_server, image_file, tmp_path, command, model, output):
    out = tmp_path / f"{command}.png"
    assert main([command, "--url", perception_server.grpc_url, "--image", str(image_file), "--out", str(out)]) == 0
    client = PerceptionClient(perception_server.grpc_url)
    try:
        expected = client.infer(model, image=np.asarray(Image.open(image_file)))[output]
    finally:
        client.close()
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)


def test_sam_and_clip_commands(perception_server, image_file, tmp_path, capsys):
    url = perception_server.grpc_url
    with pytest.raises(SystemExit):  # boxes and points at once: refused before any request
        main(["sam", "--url", url, "--image", str(image_file), "--box", "2,2,30,30", "--point", "10,10"])
    capsys.readouterr()
    assert main(["sam", "--url", url, "--image", str(image_file), "--box", "2,2,30,30",
                 "--out", str(tmp_path / "sam.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "sam.png")).shape == (40, 56)
    assert main(["clip-classify", "--url", url, "--image", str(image_file), "--label", "sofa", "--label", "lamp"]) == 0
    ranked = json.loads(capsys.readouterr().out)
    assert {item["label"] for item in ranked} == {"sofa", "lamp"}
    assert sum(item["score"] for item in ranked) == pytest.approx(1.0, abs=1e-4)
    assert main(["clip-score", "--url", url, "--image", str(image_file), "--text", "a"]) == 0
    assert len(json.loads(capsys.readouterr().out)["scores"]) == 1
    assert main(["clip-score", "--url", url, "--image", str(image_file), "--text", " "]) == 2  # named error, exit 2


def test_sam_automatic_command_writes_each_mask(perception_server, image_file, tmp_path):
    url, out = perception_server.grpc_url, tmp_path / "masks"
    options = dict(points_per_crop=8, pred_iou_thresh=0.7, stability_score_thresh=0.0, crops_nms_thresh=0.99)
    flags = [arg for name, value in options.items() for arg in (f"--{name.replace('_', '-')}", str(value))]
    assert main(["sam-automatic", "--url", url, "--image", str(image_file), "--out-dir", str(out), *flags]) == 0
    client = PerceptionClient(url)
    try:
        expected = client.sam_automatic(np.asarray(Image.open(image_file)), **options)
    finally:
        client.close()
    entries = json.loads((out / "masks.json").read_text())["masks"]
    assert len(entries) == len(expected["masks"]) >= 1
    for entry, mask, box in zip(entries, expected["masks"], expected["bounding_boxes"]):
        np.testing.assert_array_equal(np.asarray(Image.open(out / entry["file"])), mask * 255)
        assert entry["bounding_box"] == box.astype(int).tolist()
    assert [entry["score"] for entry in entries] == pytest.approx(expected["scores"].tolist(), abs=1e-5)
    assert main(["sam-automatic", "--url", url, "--image", str(image_file), "--pred-iou-thresh", "2"]) == 2

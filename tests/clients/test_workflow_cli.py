"""`python -m clients background-replace|restyle-room|product-enhance` against the session's tritonserver:
the fitted image and, with --intermediates, the workflow's intermediate PNGs; errors exit 2 with the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.gateway.conftest import box_mask, sample_image


def _cli(command: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clients", command, *args], capture_output=True, text=True, timeout=120)


def _files(tmp_path: Path) -> tuple[Path, Path]:
    Image.fromarray(sample_image()).save(tmp_path / "photo.png")
    Image.fromarray(box_mask()).save(tmp_path / "mask.png")
    return tmp_path / "photo.png", tmp_path / "mask.png"


def test_each_workflow_writes_the_fitted_image_and_its_intermediates(triton_server, tmp_path: Path) -> None:
    photo, mask = _files(tmp_path)
    common = ["--url", triton_server.grpc_url, "--prompt", "a marble table", "--steps", "2", "--max-side", "64",
              "--seed", "4", "--image", str(photo)]
    runs = {"background-replace": ([], {"mask", "depth"}),
            "restyle-room": (["--strength", "0.9", "--depth-scale", "0.5"], {"mask", "depth", "segmentation"}),
            "product-enhance": (["--mask", str(mask)], {"mask", "depth"})}
    for command, (extra, intermediates) in runs.items():
        out, folder = tmp_path / f"{command}.png", tmp_path / command
        result = _cli(command, *common, *extra, "--out", str(out), "--intermediates", str(folder))
        assert result.returncode == 0, result.stderr
        assert "seed 4" in result.stderr
        assert np.asarray(Image.open(out)).shape == (48, 64, 3)
        assert {path.stem for path in folder.iterdir()} == intermediates
        assert Image.open(folder / "mask.png").size == (64, 48)


def test_without_intermediates_only_the_image_is_written(triton_server, tmp_path: Path) -> None:
    photo, mask = _files(tmp_path)
    result = _cli("product-enhance", "--url", triton_server.grpc_url, "--prompt", "glossy", "--steps", "2",
                  "--max-side", "32", "--image", str(photo), "--mask", str(mask), "--out", str(tmp_path / "pe.png"))
    assert result.returncode == 0, result.stderr
    assert np.asarray(Image.open(tmp_path / "pe.png")).shape == (16, 32, 3)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mask.png", "pe.png", "photo.png"]


def test_unprocessable_input_exits_2_with_the_reason(triton_server, tmp_path: Path) -> None:
    photo, _ = _files(tmp_path)
    Image.fromarray(np.zeros((96, 128), np.uint8)).save(tmp_path / "empty.png")
    result = _cli("background-replace", "--url", triton_server.grpc_url, "--prompt", "x", "--steps", "2",
                  "--max-side", "64", "--image", str(photo), "--mask", str(tmp_path / "empty.png"),
                  "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2
    assert "'mask_image'" in result.stderr and "no foreground found" in result.stderr
    assert not (tmp_path / "x.png").exists()

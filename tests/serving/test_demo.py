"""The README's demo command: export, serve, generate, stop, say where the image is."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


@pytest.mark.integration  # exports ONNX or starts tritonserver itself
def test_demo_writes_an_image_and_stops_the_server(tmp_path):
    out = tmp_path / "demo.png"
    result = subprocess.run(
        [sys.executable, "-m", "serving.demo", "--model-repository", str(tmp_path / "repo"), "--out", str(out),
         "--steps", "5"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"image written to {out}" in result.stdout
    image = np.asarray(Image.open(out))
    assert image.shape == (128, 128, 3) and image.std() > 1
    assert "stopping tritonserver" in result.stderr
    assert subprocess.run(["pgrep", "-f", str(tmp_path / "repo")], capture_output=True).returncode == 1

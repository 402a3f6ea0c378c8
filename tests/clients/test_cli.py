"""`python -m clients txt2img` against a live server writes the image; errors exit non-zero with the reason."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clients", "txt2img", *args], capture_output=True, text=True, timeout=120)


def test_cli_writes_png(triton_server, tmp_path):
    out = tmp_path / "sofa.png"
    result = _run("--url", triton_server.grpc_url, "--prompt", "a green sofa", "--seed", "7", "--steps", "4",
                  "--width", "96", "--height", "64", "--scheduler", "euler", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "seed 7" in result.stderr
    image = np.asarray(Image.open(out))
    assert image.shape == (64, 96, 3)


def test_cli_over_http_writes_one_file_per_image(triton_server, tmp_path):
    out = tmp_path / "chairs.png"
    result = _run("--url", triton_server.http_url, "--protocol", "http", "--prompt", "a chair", "--steps", "2",
                  "--num-images", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chairs-0.png").exists() and (tmp_path / "chairs-1.png").exists()


def test_cli_reports_bad_input(triton_server, tmp_path):
    result = _run("--url", triton_server.grpc_url, "--prompt", "a chair", "--steps", "500", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2
    assert "'num_inference_steps'" in result.stderr and "[1, 150]" in result.stderr

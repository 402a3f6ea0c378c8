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


def _cli(command: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clients", command, *args], capture_output=True, text=True, timeout=120)


def _photo(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def test_cli_img2img_and_inpaint_equal_direct_calls(triton_server, tmp_path):
    from clients.triton_client import TritonGenerationClient

    photo, mask = _photo(), np.zeros((96, 128), np.uint8)
    mask[24:72, 32:96] = 255
    Image.fromarray(photo).save(tmp_path / "room.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    common = ["--url", triton_server.grpc_url, "--prompt", "an oak floor", "--seed", "5", "--steps", "4",
              "--scheduler", "euler", "--model", "base"]
    img2img = _cli("img2img", *common, "--image", str(tmp_path / "room.png"), "--strength", "0.6",
                   "--out", str(tmp_path / "oak.png"))
    assert img2img.returncode == 0, img2img.stderr
    inpaint = _cli("inpaint", *common, "--image", str(tmp_path / "room.png"), "--mask", str(tmp_path / "mask.png"),
                   "--out", str(tmp_path / "lamp.png"))
    assert inpaint.returncode == 0, inpaint.stderr
    options = {"seed": 5, "num_inference_steps": 4, "scheduler": "euler", "model": "base"}
    for model, out, extra in (("img2img", "oak.png", {"strength": 0.6}), ("inpaint", "lamp.png", {"mask_image": mask})):
        client = TritonGenerationClient(triton_server.grpc_url, "grpc", model_name=model)
        try:
            direct = client.generate("an oak floor", image=photo, **options, **extra)
        finally:
            client.close()
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / out)), direct.images[0])


def test_cli_controlnet_options(triton_server, tmp_path):
    from clients.triton_client import TritonGenerationClient

    client = TritonGenerationClient(triton_server.grpc_url)
    try:
        if not client._client.is_model_ready("controlnet_depth"):
            import pytest
            pytest.skip("the session repository was exported without --controlnet depth")
        depth = _photo(seed=3)
        Image.fromarray(depth).save(tmp_path / "depth.png")
        result = _cli("txt2img", "--url", triton_server.grpc_url, "--prompt", "a desk", "--seed", "2", "--steps", "3",
                      "--control-image", str(tmp_path / "depth.png"), "--controlnet", "depth",
                      "--controlnet-scale", "0.8", "--control-guidance-end", "0.9", "--out", str(tmp_path / "desk.png"))
        assert result.returncode == 0, result.stderr
        direct = client.generate("a desk", seed=2, num_inference_steps=3, control_image=depth[None], controlnet=["depth"],
                                 controlnet_conditioning_scale=[0.8], control_guidance_end=[0.9])
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "desk.png")), direct.images[0])
    finally:
        client.close()
    unknown = _cli("txt2img", "--url", triton_server.grpc_url, "--prompt", "a desk", "--steps", "2",
                   "--control-image", str(tmp_path / "depth.png"), "--controlnet", "no-such-kind",
                   "--out", str(tmp_path / "x.png"))
    assert unknown.returncode == 2 and "'controlnet'" in unknown.stderr
    mismatch = _cli("txt2img", "--url", triton_server.grpc_url, "--prompt", "a", "--controlnet", "depth")
    assert mismatch.returncode != 0 and "--control-image" in mismatch.stderr

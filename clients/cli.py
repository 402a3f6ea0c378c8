"""`python -m clients txt2img --prompt "..." --seed 7 --out out.png`: call the served pipeline."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
from PIL import Image

from clients.triton_client import TritonInferenceError, TritonTxt2ImgClient

log = logging.getLogger("clients")


def save_images(images: np.ndarray, out: Path) -> list[Path]:
    """Writes `out` for one image, `out-0`, `out-1`... for several."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if len(images) == 1:
        paths = [out]
    else:
        paths = [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(len(images))]
    for image, path in zip(images, paths):
        Image.fromarray(image).save(path)
    return paths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients")
    commands = parser.add_subparsers(dest="command", required=True)
    txt2img = commands.add_parser("txt2img", help="text to image through Triton")
    txt2img.add_argument("--url", default="127.0.0.1:8001", help="Triton gRPC (host:8001) or HTTP (host:8000) address")
    txt2img.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    txt2img.add_argument("--prompt", required=True)
    txt2img.add_argument("--negative-prompt")
    txt2img.add_argument("--steps", dest="num_inference_steps", type=int)
    txt2img.add_argument("--guidance-scale", type=float)
    txt2img.add_argument("--seed", type=int)
    txt2img.add_argument("--height", type=int)
    txt2img.add_argument("--width", type=int)
    txt2img.add_argument("--scheduler")
    txt2img.add_argument("--num-images", type=int)
    txt2img.add_argument("--out", type=Path, default=Path("out/txt2img.png"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = TritonTxt2ImgClient(args.url, args.protocol)
    options = {name: getattr(args, name) for name in (
        "negative_prompt", "num_inference_steps", "guidance_scale", "seed", "height", "width", "scheduler", "num_images")}
    started = time.perf_counter()
    try:
        result = client.generate(args.prompt, **options)
    except TritonInferenceError as error:
        log.error("txt2img failed: %s", error)
        return 2
    finally:
        client.close()
    paths = save_images(result.images, args.out)
    log.info("wrote %s (seed %d) in %.2f s", ", ".join(map(str, paths)), result.seed, time.perf_counter() - started)
    return 0

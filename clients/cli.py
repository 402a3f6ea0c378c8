"""`python -m clients txt2img|img2img|inpaint|<workflow> ...`: call a served generation pipeline, write PNGs.

    python -m clients txt2img --prompt "a green sofa" --seed 7 --out out/sofa.png
    python -m clients img2img --image in.png --strength 0.6 --prompt "the same room, in oak" --out out/oak.png
    python -m clients inpaint --image in.png --mask mask.png --prompt "a floor lamp" --out out/lamp.png
    ... --control-image depth.png --controlnet depth --controlnet-scale 0.8   (repeatable, on all three)
    ... --model VARIANT   (an exported variant, e.g. a LoRA-fused one)

Photo workflows (the same diffusion options; --intermediates DIR also writes mask.png, depth.png...):

    python -m clients background-replace --image product.png --prompt "on a marble table" --out out/bg.png
    python -m clients restyle-room --image room.jpg --prompt "a scandinavian living room" --keep-class wall --out out/room.png
    python -m clients product-enhance --image product.png --mask region.png --prompt "a glossy finish" --out out/pe.png

Masks are greyscale (or RGB) images, white repaints (the inpaint contract's convention).

A catalog job (German article sheet -> translated, prompted, generated, CLIP-gated images; resumable):

    python -m clients catalog catalog/data/articles.xlsx --out out/catalog

Translations (MarianMT through the `translate` model), one line per text:

    python -m clients translate "Damen-Bluse aus 100 % Viskose." "Farbe: Blau." --num-beams 4

The product finder prints the objects found as JSON (label, score, box) and writes each mask into --out-dir:

    python -m clients product-finder --image photo.png --label handbag --label sneaker --out-dir out/found
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

from clients.catalog_cli import COMMAND as CATALOG, add_catalog_command, run_catalog
from clients.perception_cli import COMMANDS as PERCEPTION_COMMANDS, add_perception_commands, read_image, run_perception
from clients.translate_cli import COMMAND as TRANSLATE, add_translate_command, run_translate
from clients.triton_client import TritonGenerationClient, TritonInferenceError

log = logging.getLogger("clients")

PIPELINES = {
    "txt2img": "text to image through Triton",
    "img2img": "image to image: redraw --image with --strength",
    "inpaint": "inpainting: repaint where --mask is white",
}
# Photo workflows: command -> (Triton contract, help). Their intermediates go to --intermediates DIR.
WORKFLOWS = {
    "background-replace": ("background_replace", "new background behind the product in --image, product kept exact"),
    "restyle-room": ("restyle_room", "restyle the room in --image along its depth and segmentation"),
    "product-enhance": ("product_enhance", "repaint the product region --mask of --image, the rest kept exact"),
}
INTERMEDIATES = {"background_replace": ("mask", "depth"), "restyle_room": ("mask", "depth", "segmentation"),
                 "product_enhance": ("mask", "depth")}
FINDER = "product-finder"


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


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_mask(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


def _add_diffusion(parser: argparse.ArgumentParser, pipeline: str) -> None:
    """Connection, the diffusion options every generation contract and workflow takes, and --out."""
    parser.add_argument("--url", default="127.0.0.1:8001", help="Triton gRPC (host:8001) or HTTP (host:8000) address")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    parser.add_argument("--triton-model", help=f"Triton model to call (default: {pipeline})")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--negative-prompt")
    parser.add_argument("--steps", dest="num_inference_steps", type=int)
    parser.add_argument("--guidance-scale", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--scheduler")
    parser.add_argument("--num-images", type=int)
    parser.add_argument("--model", help="exported model variant (default: the repository's first)")
    parser.add_argument("--out", type=Path, default=Path(f"out/{pipeline}.png"))


def _add_common(parser: argparse.ArgumentParser, pipeline: str) -> None:
    _add_diffusion(parser, pipeline)
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    control = parser.add_argument_group("ControlNet (repeat each option once per ControlNet, in the same order)")
    control.add_argument("--control-image", type=Path, action="append", default=[], help="conditioning image file")
    control.add_argument("--controlnet", action="append", default=[], help="ControlNet kind, e.g. depth or seg")
    control.add_argument("--controlnet-scale", dest="controlnet_conditioning_scale", type=float, action="append",
                         help="conditioning scale (default 1.0)")
    control.add_argument("--control-guidance-start", type=float, action="append", help="fraction of steps (default 0)")
    control.add_argument("--control-guidance-end", type=float, action="append", help="fraction of steps (default 1)")


def _add_workflow(parser: argparse.ArgumentParser, contract: str) -> None:
    """A workflow's options: its photo, mask, output size and knobs, named like its contract inputs."""
    _add_diffusion(parser, contract)
    parser.add_argument("--image", type=Path, required=True,
                        help="the photo (PNG, JPEG, WebP...)" + (
                            "; an RGBA cut-out's alpha is the product mask" if contract == "background_replace" else ""))
    if contract != "restyle_room":
        parser.add_argument("--mask", type=Path, required=contract == "product_enhance",
                            help="greyscale like --image, white = the product" + (
                                " (default: found by foreground_mask)" if contract == "background_replace" else ""))
        parser.add_argument("--controlnet-scale", dest="controlnet_conditioning_scale", type=float,
                            help="depth ControlNet scale, 0..5 (default 1.0)")
        parser.add_argument("--mask-dilation", type=int, help="0..64 px around the product mask")
    if contract == "background_replace":
        parser.add_argument("--mask-feather", type=int, help="0..64 px of soft product edge")
    if contract != "background_replace":
        parser.add_argument("--strength", type=float, help="0..1" + (
            " (default: txt2img guided by the room)" if contract == "restyle_room" else " (default 0.6)"))
    if contract == "restyle_room":
        parser.add_argument("--depth-scale", type=float, help="depth ControlNet scale, 0..5 (default 1.0)")
        parser.add_argument("--seg-scale", type=float, help="segmentation ControlNet scale, 0..5 (default 1.0)")
        parser.add_argument("--keep-class", dest="keep_classes", action="append",
                            help="ADE20K class kept from the photo, e.g. wall (repeatable)")
    parser.add_argument("--max-side", type=int, help="longest side of the output (default: the model's native size)")
    parser.add_argument("--intermediates", type=Path, metavar="DIR",
                        help=f"also write {', '.join(INTERMEDIATES[contract])} as PNGs into DIR")


def _add_finder(parser: argparse.ArgumentParser) -> None:
    """product_finder's inputs, named like its contract; masks go to --out-dir."""
    parser.add_argument("--url", default="127.0.0.1:8001", help="Triton gRPC (host:8001) or HTTP (host:8000) address")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    parser.add_argument("--triton-model", help="Triton model to call (default: product_finder)")
    parser.add_argument("--image", type=Path, required=True, help="the photo (PNG, JPEG, WebP...)")
    parser.add_argument("--label", dest="labels", action="append", required=True, metavar="LABEL",
                        help="a class to find, e.g. handbag (repeatable; 'background' is implicit)")
    parser.add_argument("--threshold", type=float, help="0..1, the least CLIP probability of an object (default 0.5)")
    parser.add_argument("--points-per-side", type=int, help="1..8: SAM's point grid is n x n (default 6)")
    parser.add_argument("--min-mask-score", type=float, help="0..1: a mask is kept when SAM's predicted IoU is "
                                                             "above this (default 0.88; 0: no filter)")
    parser.add_argument("--stability-score-thresh", type=float, help="0..1: and when its stability score is above "
                                                                     "this (default 0.95; 0: no filter)")
    parser.add_argument("--max-objects", type=int, help="1..64 (default 8)")
    parser.add_argument("--out-dir", type=Path, default=Path("out/product-finder"),
                        help="where each object's mask goes, as <rank>-<label>.png (255 inside)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for pipeline, help_text in PIPELINES.items():
        command = commands.add_parser(pipeline, help=help_text)
        _add_common(command, pipeline)
        if pipeline != "txt2img":
            command.add_argument("--image", type=Path, required=True, help="source image (PNG, JPEG, WebP...)")
            command.add_argument("--strength", type=float,
                                 help=f"0..1: how far from the source (default {0.8 if pipeline == 'img2img' else 1.0})")
        if pipeline == "inpaint":
            command.add_argument("--mask", type=Path, required=True, help="mask image like --image; white repaints")
    for name, (contract, help_text) in WORKFLOWS.items():
        _add_workflow(commands.add_parser(name, help=help_text), contract)
    _add_finder(commands.add_parser(FINDER, help="find the objects of each --label in --image: label, score, "
                                                 "box and mask (product_finder)"))
    add_perception_commands(commands)
    add_catalog_command(commands)
    add_translate_command(commands)
    return parser


def contract_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """The command line as the pipeline's contract inputs (None: the model's default)."""
    options = {name: getattr(args, name, None) for name in (
        "negative_prompt", "num_inference_steps", "guidance_scale", "seed", "height", "width", "scheduler",
        "num_images", "model", "strength", "controlnet_conditioning_scale", "control_guidance_start",
        "control_guidance_end", "max_side", "mask_dilation", "mask_feather", "depth_scale", "seg_scale",
        "keep_classes")}
    if getattr(args, "image", None) is not None:
        # background_replace takes an RGBA cut-out (its alpha is the product mask); the others take RGB
        options["image"] = read_image(args.image) if args.command == "background-replace" else read_rgb(args.image)
    if getattr(args, "mask", None) is not None:
        options["mask_image"] = read_mask(args.mask)
    if getattr(args, "control_image", None) or getattr(args, "controlnet", None):
        if len(args.control_image) != len(args.controlnet):
            parser.error(f"give one --controlnet per --control-image ({len(args.controlnet)} vs {len(args.control_image)})")
        images = [read_rgb(path) for path in args.control_image]
        if len({image.shape for image in images}) > 1:
            parser.error("the --control-image files must have the same size")
        options["control_image"] = np.stack(images)
        options["controlnet"] = args.controlnet
    return options


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command in PERCEPTION_COMMANDS:
        return run_perception(args, parser)
    if args.command == CATALOG:
        return run_catalog(args, parser)
    if args.command == FINDER:
        return run_finder(args, parser)
    if args.command == TRANSLATE:
        return run_translate(args, parser)
    try:
        options = contract_options(args, parser)
    except OSError as error:  # unreadable or non-image files
        parser.error(str(error))
    contract = WORKFLOWS[args.command][0] if args.command in WORKFLOWS else args.command
    intermediates = INTERMEDIATES[contract] if getattr(args, "intermediates", None) else ()
    client = TritonGenerationClient(args.url, args.protocol, model_name=args.triton_model or contract)
    started = time.perf_counter()
    try:
        result = client.infer(["image", "seed", *intermediates], prompt=args.prompt, **options)
    except TritonInferenceError as error:
        log.error("%s failed: %s", args.command, error)
        return 2
    finally:
        client.close()
    paths = save_images(result["image"], args.out)
    for name in intermediates:  # only asked for (and computed into the answer) with --intermediates
        paths += save_images(result[name][None], args.intermediates / f"{name}.png")
    log.info("wrote %s (seed %d) in %.2f s", ", ".join(map(str, paths)), int(result["seed"][0]),
             time.perf_counter() - started)
    return 0


def run_finder(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Prints {"objects": [{label, score, box, mask}], "width", "height"} (mask: the PNG written) as JSON."""
    try:
        image = read_image(args.image)  # RGB, or RGBA as the contract takes it
    except OSError as error:
        parser.error(str(error))
    client = TritonGenerationClient(args.url, args.protocol, model_name=args.triton_model or "product_finder")
    started = time.perf_counter()
    try:
        found = client.infer(image=image, labels=args.labels, threshold=args.threshold,
                             points_per_side=args.points_per_side, min_mask_score=args.min_mask_score,
                             stability_score_thresh=args.stability_score_thresh, max_objects=args.max_objects)
    except TritonInferenceError as error:
        log.error("%s failed: %s", args.command, error)
        return 2
    finally:
        client.close()
    objects = []
    for rank, (label, score, box, mask) in enumerate(zip(found["labels"], found["scores"], found["boxes"],
                                                         found["masks"])):
        label = label.decode("utf-8", "replace")
        path, = save_images(mask[None], args.out_dir / f"{rank}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}.png")
        objects.append({"label": label, "score": round(float(score), 6), "box": [int(v) for v in box],
                        "mask": str(path)})
    print(json.dumps({"objects": objects, "width": image.shape[1], "height": image.shape[0]}))
    log.info("%d object(s) found in %.2f s%s", len(objects), time.perf_counter() - started,
             f"; masks in {args.out_dir}" if objects else "")
    return 0

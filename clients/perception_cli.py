"""`python -m clients depth|segment|foreground-mask|sam|sam-automatic|clip-score|clip-classify`: perception models.

    python -m clients depth --image room.jpg --out out/depth.png            # ControlNet-depth input
    python -m clients segment --image room.jpg --out out/seg.png            # ADE20K colour map (ControlNet-seg)
    python -m clients foreground-mask --image product.png --out out/mask.png
    python -m clients sam --image product.png --box 10,20,200,180 --out out/sam.png
    python -m clients sam-automatic --image shot.png --out-dir out/masks    # mask_000.png ... + masks.json
    python -m clients clip-score --image a.png --text "a walnut sideboard"   # prints the score
    python -m clients clip-classify --image a.png --label sofa --label lamp  # prints the probabilities
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from PIL import Image

from clients.perception_client import PerceptionClient
from clients.triton_client import TritonInferenceError

log = logging.getLogger("clients")

COMMANDS = {
    "depth": "depth map (depth_estimator), the 'depth' image of transformers' depth-estimation pipeline",
    "segment": "ADE20K segmentation (segmenter): colour map, and --labels-out for the label map",
    "foreground-mask": "salient-object mask (foreground_mask, rembg's networks)",
    "sam": "Segment Anything masks for --box / --point prompts (sam)",
    "sam-automatic": "Segment Anything's automatic masks over a point grid (sam_automatic), one PNG each",
    "clip-score": "CLIP score of image-caption pairs (clip_score)",
    "clip-classify": "zero-shot probabilities of --label for one image (clip_classify)",
}


def read_image(path: Path) -> np.ndarray:
    """RGB, or RGBA when the file has transparency (foreground_mask uses the alpha)."""
    with Image.open(path) as image:
        mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
        return np.asarray(image.convert(mode), dtype=np.uint8)


def _numbers(text: str, count: int) -> list[float]:
    values = [float(v) for v in text.split(",")]
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {count} comma-separated numbers")
    return values


def add_perception_commands(commands) -> None:
    for name, help_text in COMMANDS.items():
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--url", default="127.0.0.1:8001", help="Triton gRPC (host:8001) or HTTP (host:8000)")
        command.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
        command.add_argument("--image", type=Path, action="append", required=True,
                             help="image file" + (" (repeat, one per --text)" if name == "clip-score" else ""))
        if name in ("depth", "segment", "foreground-mask", "sam"):
            command.add_argument("--out", type=Path, default=Path(f"out/{name}.png"))
        if name == "segment":
            command.add_argument("--labels-out", type=Path, help="also write the label map (8-bit PNG of class ids)")
        if name == "sam":
            command.add_argument("--box", action="append", default=[], type=lambda t: _numbers(t, 4),
                                 help="x1,y1,x2,y2 in pixels (repeatable: one prompt each)")
            command.add_argument("--point", action="append", default=[], type=lambda t: _numbers(t, 2),
                                 help="x,y in pixels: one single-point prompt each (repeatable)")
        if name == "sam-automatic":
            _add_mask_generation_options(command)
        if name == "clip-score":
            command.add_argument("--text", action="append", required=True, help="caption (one per --image)")
        if name == "clip-classify":
            command.add_argument("--label", action="append", required=True, help="candidate label (repeatable)")
            command.add_argument("--hypothesis-template", help='default "This is a photo of {}."')


def _add_mask_generation_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--out-dir", type=Path, default=Path("out/sam-automatic"),
                         help="writes mask_000.png ... (white = inside, best score first) and masks.json")
    command.add_argument("--points-per-crop", type=int, help="n x n point grid per crop (default 32)")
    command.add_argument("--points-per-batch", type=int, help="grid points per mask-decoder call (default 64)")
    command.add_argument("--pred-iou-thresh", type=float, help="least predicted IoU, 0..1 (default 0.88)")
    command.add_argument("--stability-score-thresh", type=float, help="least stability score, 0..1 (default 0.95)")
    command.add_argument("--crops-nms-thresh", type=float, help="box IoU of overlapping masks dropped (default 0.7)")
    command.add_argument("--crops-n-layers", type=int, help="1: also 2 x 2 crops (default 0)")


def _save_automatic_masks(outputs: dict[str, np.ndarray], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, (mask, score, box) in enumerate(zip(outputs["masks"], outputs["scores"], outputs["bounding_boxes"])):
        path = _save(mask * 255, out_dir / f"mask_{index:03d}.png")
        entries.append({"file": path.name, "score": round(float(score), 6), "bounding_box": box.astype(int).tolist()})
    summary = out_dir / "masks.json"
    summary.write_text(json.dumps({"masks": entries}, indent=2))
    return summary


def _save(image: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path)
    return path


def run_perception(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        images = [read_image(path) for path in args.image]
    except OSError as error:
        parser.error(str(error))
    client = PerceptionClient(args.url, args.protocol)
    started = time.perf_counter()
    try:
        if args.command == "depth":
            log.info("wrote %s", _save(client.infer("depth_estimator", image=images[0])["depth"], args.out))
        elif args.command == "segment":
            outputs = client.infer("segmenter", image=images[0])
            log.info("wrote %s", _save(outputs["color_map"], args.out))
            if args.labels_out:
                log.info("wrote %s", _save(outputs["label_map"].astype(np.uint8), args.labels_out))
        elif args.command == "foreground-mask":
            log.info("wrote %s", _save(client.infer("foreground_mask", image=images[0])["mask"], args.out))
        elif args.command == "sam":
            if not args.box and not args.point:
                parser.error("give at least one --box or --point")
            if args.box and args.point:
                parser.error("give --box or --point prompts, not both (the contract pairs them per prompt)")
            prompts = ({"input_boxes": np.array(args.box, np.float32)} if args.box
                       else {"input_points": np.array(args.point, np.float32)[:, None, :]})
            outputs = client.infer("sam", image=images[0], **prompts)
            best = outputs["masks"][np.arange(len(outputs["masks"])), outputs["iou_scores"].argmax(axis=1)]
            union = (best.max(axis=0) * 255).astype(np.uint8)  # the best mask of every prompt, merged
            log.info("wrote %s; iou_scores %s", _save(union, args.out), np.round(outputs["iou_scores"], 4).tolist())
        elif args.command == "sam-automatic":
            outputs = client.sam_automatic(
                images[0], points_per_crop=args.points_per_crop, points_per_batch=args.points_per_batch,
                pred_iou_thresh=args.pred_iou_thresh, stability_score_thresh=args.stability_score_thresh,
                crops_nms_thresh=args.crops_nms_thresh, crops_n_layers=args.crops_n_layers)
            log.info("wrote %d masks and %s", len(outputs["masks"]), _save_automatic_masks(outputs, args.out_dir))
        elif args.command == "clip-score":
            if len(args.text) != len(images) or len({image.shape for image in images}) > 1:
                parser.error("give one --text per --image, all images of the same size")
            scores = client.clip_score(np.stack(images), args.text)
            print(json.dumps({"scores": [round(float(s), 4) for s in scores]}))
        elif args.command == "clip-classify":
            probs = client.clip_classify(images[0], args.label, args.hypothesis_template)
            ranked = sorted(zip(args.label, probs.tolist()), key=lambda item: -item[1])
            print(json.dumps([{"label": label, "score": round(score, 6)} for label, score in ranked]))
    except TritonInferenceError as error:
        log.error("%s failed: %s", args.command, error)
        return 2
    finally:
        client.close()
    log.info("%s done in %.2f s", args.command, time.perf_counter() - started)
    return 0

"""`python -m export` options for the perception models (issue 8).

`--components` may name perception networks (`clip_text`, `clip_image`, `depth_estimator_net`,
`segmenter_net`) or orchestrators (`clip_score`, `clip_classify`, `depth_estimator`, `segmenter`),
which bring their networks. Each family's weights come from `--clip/--depth/--segmenter`: a preset
name or a Hugging Face id / local `save_pretrained` directory; by default the `tiny` preset with
`--preset tiny` and the real-size architecture with any other preset.
"""

from __future__ import annotations

import argparse
import logging

from export.onnx_export import ParityReport
from export.perception.repository import CONTRACT_FAMILY, NETWORK_FAMILY, PERCEPTION_MODELS, export_perception
from export.perception.sources import FAMILIES

log = logging.getLogger(__name__)

FLAGS = {"clip": "--clip", "depth": "--depth", "segmenter": "--segmenter", "sam": "--sam"}
FOREGROUND_HELP = ("foreground_mask_net: `tiny` (a network built here) or a rembg ONNX file (u2net.onnx, "
                   "isnet-general-use.onnx, ...), optionally FILE:SESSION with SESSION one of u2net_custom, dis_custom, "
                   "ben_custom (rembg's pre/post-processing; default from the file name)")


def add_perception_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("perception models (clip_score, clip_classify, depth_estimator, segmenter, "
                                      "foreground_mask, sam, sam_automatic)")
    for family, flag in FLAGS.items():
        presets = ", ".join(FAMILIES[family].presets)
        group.add_argument(flag, metavar="PRESET_OR_PATH",
                           help=f"{family} weights: a preset ({presets}) or a Hugging Face id / save_pretrained dir")
    group.add_argument("--foreground-onnx", metavar="tiny|FILE[:SESSION]", dest="foreground", help=FOREGROUND_HELP)
    group.add_argument("--perception-instances", type=int, default=2, metavar="N",
                       help="Triton instances per perception orchestrator (requests in flight at once)")


def split_perception(components: list[str]) -> tuple[list[str], list[str]]:
    """(diffusion components, perception models) of a --components list."""
    return ([name for name in components if name not in PERCEPTION_MODELS],
            [name for name in components if name in PERCEPTION_MODELS])


def export_requested_perception(args: argparse.Namespace) -> list[ParityReport]:
    families = {NETWORK_FAMILY.get(name) or CONTRACT_FAMILY[name] for name in args.perception}
    choices = {}
    for family in families:
        chosen = getattr(args, family)
        if chosen is None and family == "foreground":
            chosen = "tiny"  # there is no real-size network to build here: real ones come as rembg files
        elif chosen is None:
            chosen = "tiny" if args.preset in (None, "tiny") else FAMILIES[family].real_size
        choices[family] = chosen
    args.output.mkdir(parents=True, exist_ok=True)
    reports = export_perception(args.perception, choices, args.output, args.runtime, args.perception_instances)
    log.info("exported perception models %s (%s) to %s", ", ".join(args.perception), choices, args.output)
    return reports

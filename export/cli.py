"""`python -m export`: build a pipeline's components, export them, check parity, write the repository."""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace
from pathlib import Path

from export.descriptors import DESCRIPTORS
from export.perception.cli import add_perception_arguments, export_requested_perception, split_perception
from export.repository import descriptor_for, export_component, install_orchestrators, pipeline_settings_for, write_manifest, write_pipeline_assets
from export.sources import PRESETS, load_source
from export.triton_config import BatchingOptions
from serving.runners import RUNTIMES

log = logging.getLogger("export")

DEFAULT_COMPONENTS = ("text_encoder", "unet", "vae_decoder", "vae_encoder")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=sorted(PRESETS), help="random-weight preset (default: tiny)")
    source.add_argument("--model", help="Hugging Face model id or local diffusers directory (from_pretrained)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="onnxruntime")
    parser.add_argument("--components", default=",".join(DEFAULT_COMPONENTS),
                        help=f"comma-separated subset of {sorted(DESCRIPTORS)}")
    parser.add_argument("--output", type=Path, default=Path("model_repository"))
    parser.add_argument("--max-image-size", type=int, default=1024, help="largest height/width txt2img accepts")
    parser.add_argument("--warmup-size", type=int, metavar="PX",
                        help="warm components up for PX x PX images (default: the model's native size)")
    parser.add_argument("--unet-queue-delay-us", type=int, default=0,
                        help="dynamic batcher delay for the UNet (0: batch only what is already queued)")
    add_perception_arguments(parser)
    args = parser.parse_args(argv)
    if args.preset is None and args.model is None:
        args.preset = "tiny"
    components, args.perception = split_perception(args.components.split(","))
    args.components = ",".join(components)
    unknown = set(components) - set(DESCRIPTORS)
    if unknown:
        parser.error(f"unknown components {sorted(unknown)}; choose from {sorted(DESCRIPTORS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.perception:
        export_requested_perception(args)
        if not args.components:  # perception only: no diffusion pipeline to build
            return
    started = time.perf_counter()
    source = load_source(args.preset, args.model)
    args.output.mkdir(parents=True, exist_ok=True)
    reports = []
    for name in args.components.split(","):
        delay = args.unet_queue_delay_us if name.startswith("unet") else 0
        options = BatchingOptions(max_queue_delay_us=delay)
        if args.warmup_size:
            descriptor = descriptor_for(name, source)
            options = replace(options, warmup_sizes=descriptor.sizes_for_image(
                args.warmup_size, args.warmup_size, source.vae_scale_factor))
        reports.append(export_component(source, name, args.output, args.runtime, options))
    install_orchestrators(args.output)
    write_pipeline_assets(source, args.output, pipeline_settings_for(source, args.max_image_size))
    write_manifest(args.output, source, args.runtime, reports)
    log.info("exported %s (%s) to %s in %.1f s", source.name, args.runtime, args.output, time.perf_counter() - started)


if __name__ == "__main__":
    main()
